/** Longest text of one value written into a log line. */
const DEFAULT_MAX = 80;

// Characters that would let a value forge or hide log content: C1 controls, line
// and paragraph separators, bidirectional overrides (control characters below U+0080
// are escaped by JSON.stringify already).
const UNSAFE = /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * A value that came from outside (a tag, a model name, a provider's usage field)
 * made safe to write into a diag log line: control and bidi characters escaped,
 * cut to `max` characters with the full length said, strings quoted so their type
 * shows (`"12"` is not `12`). Never throws.
 */
export function logValue(value: unknown, max = DEFAULT_MAX): string {
  let text: string;
  try {
    text =
      typeof value === 'string'
        ? value
        : typeof value === 'object' && value !== null
          ? (JSON.stringify(value) ?? String(value))
          : String(value);
  } catch {
    text = Object.prototype.toString.call(value);
  }
  const cut = text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text;
  const escaped = JSON.stringify(cut).replace(
    UNSAFE,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  return typeof value === 'string' ? escaped : escaped.slice(1, -1);
}
