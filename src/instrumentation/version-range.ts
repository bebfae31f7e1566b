/**
 * The semver subset SDK folders declare their versions in (`>=4.87.0 <8`, `||`
 * between alternatives, `*`), checked here rather than by the OpenTelemetry base:
 * the base only calls `patch` for matching versions, and a module it skips in
 * silence is the "zero spans, no error" failure. No `semver` dependency for it.
 */

type Op = '>=' | '>' | '<=' | '<' | '=';
type Version = [number, number, number, boolean];

const COMPARATOR = /^(>=|>|<=|<|=)?v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(-[0-9A-Za-z.-]+)?$/;

/** `major.minor.patch` and whether it is a prerelease; undefined when not a version. */
function parse(version: string): Version | undefined {
  const m = COMPARATOR.exec(version.trim());
  if (!m || m[1]) return undefined;
  return [Number(m[2]), Number(m[3] ?? 0), Number(m[4] ?? 0), m[5] !== undefined];
}

/** Negative, zero or positive as `a` is below, equal to or above `b` (a prerelease sorts below its release). */
function compare(a: Version, b: Version): number {
  for (let i = 0; i < 3; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
  }
  return Number(b[3]) - Number(a[3]);
}

/** One comparator set (`>=4.87.0 <8`): every comparator holds; undefined when one is not understood. */
function satisfiesSet(version: Version, set: string): boolean | undefined {
  const parts = set.trim().split(/\s+/).filter(Boolean);
  if (parts.length === 1 && (parts[0] === '*' || parts[0] === 'x')) return true;
  let all = true;
  for (const part of parts) {
    const m = COMPARATOR.exec(part);
    if (!m) return undefined;
    const bound: Version = [Number(m[2]), Number(m[3] ?? 0), Number(m[4] ?? 0), m[5] !== undefined];
    const c = compare(version, bound);
    const op = (m[1] ?? '=') as Op;
    const holds =
      op === '>='
        ? c >= 0
        : op === '>'
          ? c > 0
          : op === '<='
            ? c <= 0
            : op === '<'
              ? c < 0
              : c === 0;
    all &&= holds;
  }
  return all;
}

/**
 * Whether `version` lies in any of `ranges`. A range this subset does not read
 * (`^`, `~`, hyphen ranges) matches nothing; {@link unreadRange} finds it, and a
 * test holds every SDK folder's ranges to this subset.
 */
export function inRanges(version: string, ranges: readonly string[]): boolean {
  const parsed = parse(version);
  if (!parsed) return false;
  return ranges.some((range) =>
    range.split('||').some((set) => satisfiesSet(parsed, set) === true),
  );
}

/** The first of `ranges` written outside the subset {@link inRanges} reads; undefined when all are read. */
export function unreadRange(ranges: readonly string[]): string | undefined {
  const probe: Version = [0, 0, 0, false];
  return ranges.find((range) =>
    range.split('||').some((set) => satisfiesSet(probe, set) === undefined),
  );
}
