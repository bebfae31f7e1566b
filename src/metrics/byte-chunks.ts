/**
 * Bytes of the `/metrics` text, written straight into buffers of {@link CHUNK_BYTES}.
 *
 * At 10,000 label sets a scrape is 550,000 lines and 150 MB. Built as strings (a template
 * per line, a `join` per chunk, then UTF-8 encoding by the socket) that is three copies of
 * every byte and a string per line for the garbage collector; here a line is a few copies
 * of cached bytes (the metric's name, the label set's text, the scope and `le` suffix) and
 * its number's digits, and the only allocation is the next buffer.
 */

/**
 * Bytes per chunk handed to the socket: small enough to yield often (writing one is well
 * under a millisecond), large enough to be cheap. 64 KiB chunks made a 150 MB scrape 2,400
 * writes, loop turns and stream callbacks; at 256 KiB the same scrape took about 15% less
 * CPU (bench/scrape.mjs).
 */
export const CHUNK_BYTES = 1 << 18;

/** Room for any number's text (the longest double is 24 characters) and the newline. */
const NUMBER_ROOM = 32;

/**
 * Chunks written to the socket and given back ({@link releaseChunk}), for the next ones:
 * a fresh buffer each time is fresh memory the kernel must map and zero, 150 MB
 * of it a scrape, which cost more than writing the text into it.
 */
const spare: Buffer[] = [];
/** A few chunks are in flight at once (the socket's backpressure bounds them). */
const SPARE_MAX = 8;

/**
 * Gives back a chunk of {@link ByteChunks} once the socket is done with it (the write's
 * callback), so that a later chunk reuses its memory. Never call it for a chunk still in use.
 */
export function releaseChunk(chunk: Buffer): void {
  if (spare.length >= SPARE_MAX) return;
  if (chunk.byteOffset !== 0 || chunk.buffer.byteLength !== CHUNK_BYTES) return;
  spare.push(Buffer.from(chunk.buffer, 0, CHUNK_BYTES));
}

function freshBuffer(): Buffer {
  return spare.pop() ?? Buffer.allocUnsafe(CHUNK_BYTES);
}

const NEWLINE = 10;
const ZERO = 48;

/** A number as the OpenTelemetry exporter writes it: `+Inf`, `-Inf`, else JavaScript's own text. */
export function valueText(value: number): string {
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return `${value}`;
}

/** Full buffers of text, each whole UTF-8 (a piece of text is never split between two). */
export class ByteChunks {
  private buf = freshBuffer();
  private pos = 0;
  private done: Buffer[] = [];

  /** Whether full chunks wait to be taken. */
  get ready(): boolean {
    return this.done.length > 0;
  }

  /** The full chunks so far, handed over (the buffers are not written again). */
  take(): Buffer[] {
    const done = this.done;
    this.done = [];
    return done;
  }

  /** Everything written, the last chunk included: the end of the text. */
  finish(): Buffer[] {
    this.flush();
    return this.take();
  }

  /** Writes `text` as UTF-8. */
  text(text: string): void {
    // Three bytes a UTF-16 unit at most: only a long or non-ASCII text is measured.
    if (text.length * 3 > CHUNK_BYTES - this.pos) {
      const size = Buffer.byteLength(text);
      if (size > CHUNK_BYTES - this.pos) {
        this.flush();
        if (size > CHUNK_BYTES) {
          this.done.push(Buffer.from(text));
          return;
        }
      }
    }
    this.pos += this.buf.write(text, this.pos);
  }

  /** One line: `head`, `labels`, `tail`, then `value`'s text and a newline. */
  line(head: Uint8Array, labels: Uint8Array, tail: Uint8Array, value: number): void {
    const size = head.length + labels.length + tail.length + NUMBER_ROOM;
    if (size > CHUNK_BYTES - this.pos) {
      this.flush();
      if (size > CHUNK_BYTES) {
        // A label set longer than a chunk: its own buffer.
        this.done.push(Buffer.concat([head, labels, tail, Buffer.from(`${valueText(value)}\n`)]));
        return;
      }
    }
    const buf = this.buf;
    let pos = this.pos;
    buf.set(head, pos);
    pos += head.length;
    buf.set(labels, pos);
    pos += labels.length;
    buf.set(tail, pos);
    pos += tail.length;
    pos = writeNumber(buf, pos, value);
    buf[pos++] = NEWLINE;
    this.pos = pos;
  }

  private flush(): void {
    if (this.pos === 0) return;
    this.done.push(this.buf.subarray(0, this.pos));
    this.buf = freshBuffer();
    this.pos = 0;
  }
}

/** Writes `value` as {@link valueText} does; the digits of a whole number without a string. */
function writeNumber(buf: Buffer, pos: number, value: number): number {
  if (!(value >= 0 && value <= Number.MAX_SAFE_INTEGER && Number.isInteger(value)))
    return pos + buf.write(valueText(value), pos, 'latin1');
  let digits = 1;
  for (let rest = value; rest >= 10; rest = Math.floor(rest / 10)) digits += 1;
  let at = pos + digits;
  let rest = value;
  do {
    buf[--at] = ZERO + (rest % 10);
    rest = Math.floor(rest / 10);
  } while (rest > 0);
  return pos + digits;
}
