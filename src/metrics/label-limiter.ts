/** Value reported in place of label values seen after a label's cap is reached. */
export const OVERFLOW_VALUE = 'other';

/**
 * Caps the number of distinct values each label may take. The first `max` values
 * seen are kept; later ones fold into `other`, so one runaway tag (a user id put in
 * `project`, say) cannot blow up the number of series Prometheus has to store.
 */
export class LabelLimiter {
  private readonly seen = new Map<string, Set<string>>();
  private readonly overflowed = new Set<string>();

  constructor(
    readonly maxValuesPerLabel: number,
    private readonly onOverflow?: (label: string, value: string) => void,
  ) {}

  fold(label: string, value: string): string {
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
    if (!this.overflowed.has(label)) {
      this.overflowed.add(label);
      this.onOverflow?.(label, value);
    }
    return OVERFLOW_VALUE;
  }
}
