// Statistics and the table: medians with a distribution-free 95% interval, a p99 that is a
// quantile of many samples (not the largest of a few), verdicts against a target that only
// say "within" or "above" when the whole interval is on one side, and the markdown table.

/** The value at quantile `q` of sorted samples (nearest rank). */
export function quantile(sorted, q) {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/**
 * Median, a 95% interval for it from order statistics (no shape assumed), p99 and the count.
 * @param {ArrayLike<number>} samples
 */
export function summary(samples) {
  const s = Float64Array.from(samples).sort();
  const n = s.length;
  const half = Math.ceil(0.98 * Math.sqrt(n)); // 1.96 / 2 · √n ranks either side
  const lo = Math.max(0, Math.floor((n - 1) / 2) - half);
  const hi = Math.min(n - 1, Math.ceil((n - 1) / 2) + half);
  const median = n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  return { n, median, lo: s[lo], hi: s[hi], p99: quantile(s, 0.99) };
}

/**
 * "within" / "ABOVE" only when the whole 95% interval is on one side of the target.
 * @param {{ n: number, lo: number, hi: number }} x
 * @param {number} target
 * @param {'max' | 'min'} kind whether the target is a ceiling (µs) or a floor (admissions/s)
 */
export function verdict(x, target, kind = 'max') {
  if (target === undefined || target === null) return '';
  // Below 6 samples even min..max covers the median less than 95% of the time.
  if (x.n !== undefined && x.n < 6) return 'no verdict (n < 6)';
  const [good, bad] =
    kind === 'max' ? [x.hi < target, x.lo > target] : [x.lo >= target, x.hi < target];
  if (good) return 'within';
  if (bad) return kind === 'max' ? 'ABOVE' : 'BELOW';
  return 'undecided';
}

/** Mulberry32: a seeded generator, so a run's block orders can be replayed. */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A shuffled copy (Fisher–Yates). */
export function shuffled(items, random) {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** A number with about three significant digits, for a table cell. */
export function num(x) {
  if (x === undefined || x === null || Number.isNaN(x)) return '–';
  const a = Math.abs(x);
  if (a >= 1000) return Math.round(x).toLocaleString('en-US');
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  return x.toFixed(3);
}

/** "median [lo .. hi]" for a summary; a plain number for a single figure. */
export function cell(x) {
  if (x === undefined) return '–';
  if (typeof x === 'number') return num(x);
  if (x.lo === undefined) return num(x.median);
  return `${num(x.median)} [${num(x.lo)} .. ${num(x.hi)}]`;
}

/**
 * One row of the table.
 * @typedef {object} Row
 * @property {string} figure what is measured, with its unit
 * @property {string} subject who is measured (bare, tokenfuse, a peer)
 * @property {number | { n?: number, median: number, lo?: number, hi?: number, p99?: number }} value
 * @property {{ median: number, lo?: number, hi?: number } | number} [control] the A-vs-A figure
 * @property {number} [target]
 * @property {'max' | 'min'} [kind] target is a ceiling (default) or a floor
 * @property {string} [note]
 */

/** The markdown table of every row, the targets and verdicts beside each figure. */
export function table(rows) {
  const head = [
    'figure',
    'subject',
    'median [95% CI]',
    'p99',
    'A-vs-A control',
    'target',
    'verdict',
    'n',
    'note',
  ];
  const lines = rows.map((r) => {
    const v = typeof r.value === 'number' ? { median: r.value } : r.value;
    const kind = r.kind ?? 'max';
    const target = r.target === undefined ? '' : `${kind === 'max' ? '<' : '≥'} ${num(r.target)}`;
    return [
      r.figure,
      r.subject,
      cell(v),
      v.p99 === undefined ? '' : num(v.p99),
      r.control === undefined ? '' : cell(r.control),
      target,
      r.target === undefined
        ? ''
        : v.lo === undefined
          ? (judgePoint(v.median, r.target, kind) ?? '')
          : verdict(v, r.target, kind),
      v.n === undefined ? '' : String(v.n),
      r.note ?? '',
    ];
  });
  const all = [head, ...lines];
  const width = head.map((_, i) => Math.max(...all.map((l) => l[i].length)));
  const fmt = (l) => `| ${l.map((c, i) => c.padEnd(width[i])).join(' | ')} |`;
  return [fmt(head), `| ${width.map((w) => '-'.repeat(w)).join(' | ')} |`, ...lines.map(fmt)].join(
    '\n',
  );
}

/** A single figure (no interval) against its target. */
function judgePoint(value, target, kind) {
  if (Number.isNaN(value)) return undefined;
  return (kind === 'max' ? value < target : value >= target)
    ? 'within (one figure)'
    : `${kind === 'max' ? 'ABOVE' : 'BELOW'} (one figure)`;
}
