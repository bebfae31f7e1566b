import { createHash } from 'node:crypto';

/** Value reported in place of label values seen after a label's cap is reached. */
export const OVERFLOW_VALUE = 'other';

/** Hex digits of the SHA-256 suffix a cut value ends with. */
const HASH_CHARS = 8;

/** What happened to the values of one call on their way to becoming labels. */
export interface FoldNote {
  /** A value was longer than the length bound and was cut. */
  truncated: boolean;
  /** A value arrived after its label's cap and was reported as `other`. */
  folded: boolean;
}

/** Callbacks told once per label, for the log. */
export interface LimiterEvents {
  onOverflow?(label: string, value: string): void;
  onTruncate?(label: string, value: string): void;
}

/**
 * Bounds label values: their length, and how many distinct values each label may
 * take. A value longer than `maxLength` is cut to a prefix plus `~` and 8 hex digits
 * of its SHA-256, so the series stays readable and two long values that share a
 * prefix stay apart (a plain cut would merge them silently). Then the first `max`
 * values seen are kept; later ones fold into `other`, so one runaway tag (a user id
 * put in `project`, say) cannot blow up the number of series Prometheus has to store.
 * Memory is bounded by labels × max × maxLength.
 */
export class LabelLimiter {
  private readonly seen = new Map<string, Set<string>>();
  private readonly overflowed = new Set<string>();
  private readonly truncatedLabels = new Set<string>();

  constructor(
    readonly maxValuesPerLabel: number,
    readonly maxLength: number = Number.POSITIVE_INFINITY,
    private readonly events: LimiterEvents = {},
  ) {}

  fold(label: string, raw: string, note?: FoldNote): string {
    let value = raw;
    if (value.length > this.maxLength) {
      value = cutValue(raw, this.maxLength);
      if (note) note.truncated = true;
      if (!this.truncatedLabels.has(label)) {
        this.truncatedLabels.add(label);
        this.events.onTruncate?.(label, raw);
      }
    }
    let values = this.seen.get(label);
    if (values === undefined) {
      values = new Set();
      this.seen.set(label, values);
    }
    if (values.has(value)) return value;
    if (values.size < this.maxValuesPerLabel) {
      values.add(value);
      return value;
    }
    if (note && value !== OVERFLOW_VALUE) note.folded = true;
    if (!this.overflowed.has(label)) {
      this.overflowed.add(label);
      this.events.onOverflow?.(label, value);
    }
    return OVERFLOW_VALUE;
  }
}

/**
 * `value` cut to `maxLength` characters: its first `maxLength - 9` characters, `~`,
 * and the first 8 hex digits of the SHA-256 of the whole value. Deterministic, so
 * every process and every restart names the same value the same way.
 */
export function cutValue(value: string, maxLength: number): string {
  let keep = Math.max(0, maxLength - HASH_CHARS - 1);
  // Never split a surrogate pair: half of one is not valid UTF-8 on /metrics.
  const last = value.charCodeAt(keep - 1);
  if (keep > 0 && last >= 0xd800 && last <= 0xdbff) keep -= 1;
  const hash = createHash('sha256').update(value).digest('hex').slice(0, HASH_CHARS);
  return `${value.slice(0, keep)}~${hash}`;
}
