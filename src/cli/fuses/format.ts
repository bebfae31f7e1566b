import type { Amounts } from '../../budgets/budget.js';
import type { FuseSnapshot } from '../../fuses/fuse-snapshot.js';

export { fuseSnapshotJson as fuseJson } from '../../fuses/fuse-snapshot.js';

const HEADERS = [
  'BUDGET',
  'WINDOW',
  'STATE',
  'TOKENS',
  'USD',
  'REQUESTS',
  'UTILIZATION',
  'RESERVED',
] as const;

/** `spent/limit`, or the spent alone when the unit has no limit. */
function pair(spent: number, limit: number | undefined, fmt: (n: number) => string): string {
  return limit === undefined ? fmt(spent) : `${fmt(spent)}/${fmt(limit)}`;
}

const count = (n: number) => String(Math.round(n * 1000) / 1000);
const dollars = (n: number) => `$${n.toFixed(6).replace(/\.?0+$/, '') || '0'}`;

function reservedText(r: Amounts): string {
  return `${count(r.tokens)} tok, ${dollars(r.usd)}, ${count(r.requests)} req`;
}

function stateText(f: FuseSnapshot): string {
  return f.isolated ? `${f.state} (isolated)` : f.state;
}

/** One row of the table. */
function row(f: FuseSnapshot): string[] {
  return [
    f.budget,
    f.window,
    stateText(f),
    pair(f.spent.tokens, f.limit.tokens, count),
    pair(f.spent.usd, f.limit.usd, dollars),
    pair(f.spent.requests, f.limit.requests, count),
    `${(f.utilization * 100).toFixed(1)}%`,
    reservedText(f.reserved),
  ];
}

/** Fuses as a table: a header and one aligned row each, two spaces between columns. */
export function fusesTable(fuses: readonly FuseSnapshot[]): string {
  const rows = [[...HEADERS], ...fuses.map(row)];
  const widths = HEADERS.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return `${rows
    .map((r) =>
      r
        .map((cell, c) => cell.padEnd(widths[c]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')}\n`;
}

/** One fuse in full, a field a line. */
export function fuseDetail(f: FuseSnapshot): string {
  const raised = (['tokens', 'usd', 'requests'] as const).filter((u) => f.raised[u] !== 0);
  const lines: Array<[string, string]> = [
    ['budget', f.budget],
    ['state', stateText(f)],
    ['action', f.action],
    ['window', f.window],
    ['window start', f.windowStart.toISOString()],
    ['window end', f.windowEnd?.toISOString() ?? '(rolling)'],
    ['tokens', pair(f.spent.tokens, f.limit.tokens, count)],
    ['usd', pair(f.spent.usd, f.limit.usd, dollars)],
    ['requests', pair(f.spent.requests, f.limit.requests, count)],
    ['utilization', `${(f.utilization * 100).toFixed(1)}%`],
    ['reserved', reservedText(f.reserved)],
    [
      'raised',
      raised.length === 0
        ? 'no'
        : raised
            .map((u) => (u === 'usd' ? `+${dollars(f.raised.usd)}` : `+${count(f.raised[u])} ${u}`))
            .join(', '),
    ],
    ['trips', String(f.trips)],
    ['match', JSON.stringify(f.match)],
  ];
  const width = Math.max(...lines.map(([k]) => k.length)) + 1;
  return `${lines.map(([k, v]) => `${`${k}:`.padEnd(width)} ${v}`).join('\n')}\n`;
}
