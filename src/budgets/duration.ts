const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Duration syntax accepted in config: an integer and a unit, e.g. `90s`, `5m`, `1h`, `7d`. */
export const DURATION_PATTERN = /^(\d+)(ms|s|m|h|d)$/;

/** Parses `5m`-style durations to milliseconds; undefined when the text is not one. */
export function parseDuration(text: string): number | undefined {
  const match = DURATION_PATTERN.exec(text.trim());
  if (!match) return undefined;
  const ms = Number(match[1]) * UNITS[match[2]!]!;
  return ms > 0 ? ms : undefined;
}
