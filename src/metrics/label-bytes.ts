/**
 * The label text of a data point (`key="value",…`) as the OpenTelemetry Prometheus
 * exporter writes it, and its UTF-8 bytes for the points whose text is kept between
 * scrapes (prometheus-text.ts).
 *
 * A process's first scrape makes the bytes of every kept label set: 70,000 at 10,000
 * label sets. Made as a string each (built piece by piece, so a rope V8 flattens to
 * encode it) and a `Buffer.from` each (a view on an 8 KiB pool, and a pool a few dozen
 * sets), that was most of a first scrape several times slower than the next ones, and
 * garbage for the collector. Here a label set's bytes are its `key="value"` pieces,
 * each encoded once and shared by every set with that value, copied into large slabs:
 * no string per set and one small view each.
 */
import type { Attributes, AttributeValue } from '@opentelemetry/api';

const sanitized = new Map<string, string>();

/** A name as the exporter sanitizes it: anything but `[a-zA-Z0-9_]` to `_`, runs of `_` as one. */
export function sanitizeName(name: string): string {
  let out = sanitized.get(name);
  if (out === undefined) {
    out = name.replace(/[^a-z0-9_]/gi, '_').replace(/_{2,}/g, '_');
    if (sanitized.size < 10_000) sanitized.set(name, out);
  }
  return out;
}

const NEEDS_ESCAPE = /[\\\n"]/;

export function escapeString(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

export function escapeValue(value: AttributeValue | undefined = ''): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return NEEDS_ESCAPE.test(text) ? escapeString(text).replace(/"/g, '\\"') : text;
}

/** `key="value"` for each own attribute, comma-separated, in the object's order. */
export function labelText(attributes: Attributes): string {
  let out = '';
  for (const key in attributes) {
    if (!Object.hasOwn(attributes, key)) continue;
    out += `${out.length > 0 ? ',' : ''}${labelPiece(key, attributes[key])}`;
  }
  return out;
}

function labelPiece(key: string, value: AttributeValue | undefined): string {
  return `${sanitizeName(key)}="${escapeValue(value)}"`;
}

/** Bytes of each slab the kept label sets are packed into. */
const SLAB_BYTES = 1 << 18;
/** A label set longer than this gets a buffer of its own (a slab is not wasted on its tail). */
const OWN_BUFFER_BYTES = SLAB_BYTES >> 4;
/**
 * Most `key="value"` pieces kept. Past it, a piece not kept is encoded each time it is
 * needed (still once per kept label set, whose bytes are kept): values of one label
 * are bounded by `maxValuesPerLabel`, so this is room, not a limit anyone meets.
 */
const PIECES_MAX = 200_000;

const EMPTY = new Uint8Array(0);
const COMMA = 44;

/** Packs kept label sets' bytes into shared slabs; one per process (the sets are kept for its life). */
class LabelPacker {
  private slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
  private pos = 0;
  /** Encoded `key="value"` pieces, by key, then by value (primitives; others are not kept). */
  private readonly pieces = new Map<string, Map<AttributeValue, Uint8Array>>();
  private pieceCount = 0;
  /** Reused between calls: the pieces of the label set being packed. */
  private readonly parts: Uint8Array[] = [];

  pack(attributes: Attributes): Uint8Array {
    const parts = this.parts;
    parts.length = 0;
    let size = 0;
    for (const key in attributes) {
      if (!Object.hasOwn(attributes, key)) continue;
      const piece = this.piece(key, attributes[key]);
      size += piece.length + (parts.length > 0 ? 1 : 0);
      parts.push(piece);
    }
    if (size === 0) return EMPTY;
    let target: Buffer;
    let start: number;
    if (size > OWN_BUFFER_BYTES) {
      target = Buffer.allocUnsafe(size);
      start = 0;
    } else {
      if (size > SLAB_BYTES - this.pos) {
        this.slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
        this.pos = 0;
      }
      target = this.slab;
      start = this.pos;
      this.pos += size;
    }
    let at = start;
    for (let i = 0; i < parts.length; i++) {
      if (i > 0) target[at++] = COMMA;
      target.set(parts[i]!, at);
      at += parts[i]!.length;
    }
    parts.length = 0;
    return target.subarray(start, at);
  }

  private piece(key: string, value: AttributeValue | undefined): Uint8Array {
    const cacheable =
      typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
    if (!cacheable) return Buffer.from(labelPiece(key, value));
    let byValue = this.pieces.get(key);
    if (byValue === undefined) {
      byValue = new Map();
      if (this.pieceCount < PIECES_MAX) this.pieces.set(key, byValue);
    }
    let piece = byValue.get(value);
    if (piece === undefined) {
      piece = Buffer.from(labelPiece(key, value));
      if (this.pieceCount < PIECES_MAX) {
        byValue.set(value, piece);
        this.pieceCount += 1;
      }
    }
    return piece;
  }
}

const packer = new LabelPacker();

/**
 * The UTF-8 bytes of {@link labelText}`(attributes)`, packed for keeping: call it once per
 * attribute set that lives as long as the process (its bytes share a slab with others').
 */
export function keptLabelBytes(attributes: Attributes): Uint8Array {
  return packer.pack(attributes);
}
