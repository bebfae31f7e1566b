/**
 * The report as text: an aligned table for the terminal, CSV for a spreadsheet,
 * Markdown for a wiki or a ticket, JSON for a program.
 */
import type { Report, ReportRow } from './figures.js';

/** Dollars for people: 2 decimals from $1, 6 below (LLM spend is often fractions of a cent). */
export function usd(x: number): string {
  const digits = Math.abs(x) >= 1 ? 2 : 6;
  const s = Math.abs(x).toLocaleString('en-US', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
  return `${x < 0 ? '-' : ''}$${s}`;
}

/** A count with thousands separators. */
export function count(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** A percentage with one decimal. */
export function pct(x: number | undefined, signed = false): string {
  if (x === undefined) return '–';
  return `${signed && x > 0 ? '+' : ''}${x.toFixed(1)}%`;
}

/** The name of a group for people: its label values joined, '(none)' for an empty one. */
export function groupName(group: Record<string, string>): string {
  const values = Object.values(group);
  return values.length === 0 ? 'total' : values.map((v) => v || '(none)').join(' / ');
}

/**
 * One figure of a row, as people read it (table, Markdown, HTML: one column) and as a
 * program reads it (CSV: one or more plain columns). Both come from this one list, so the
 * formats cannot disagree on which figures a report has or in what order.
 */
interface Figure {
  /** `{previous}` stands for the previous period's label. */
  head: string;
  text: (r: ReportRow) => string;
  csv: [head: string, value: (r: ReportRow) => number | string | undefined][];
}

const FIGURES: readonly Figure[] = [
  { head: 'cost', text: (r) => usd(r.costUsd), csv: [['cost_usd', (r) => r.costUsd]] },
  { head: 'share', text: (r) => pct(r.sharePct), csv: [['share_pct', (r) => r.sharePct]] },
  ...(
    [
      ['input', 'input_tokens', 'input'],
      ['cached', 'cached_tokens', 'cached'],
      ['cache write', 'cache_write_tokens', 'cacheWrite'],
      ['output', 'output_tokens', 'output'],
    ] as const
  ).map(
    ([head, csvHead, kind]): Figure => ({
      head,
      text: (r) => count(r.tokens[kind]),
      csv: [[csvHead, (r) => r.tokens[kind]]],
    }),
  ),
  ...(['ok', 'error', 'blocked'] as const).map(
    (outcome): Figure => ({
      head: outcome,
      text: (r) => count(r.requests[outcome]),
      csv: [[`requests_${outcome}`, (r) => r.requests[outcome]]],
    }),
  ),
  {
    head: 'avg/request',
    text: (r) => (r.avgCostPerRequestUsd === undefined ? '–' : usd(r.avgCostPerRequestUsd)),
    csv: [['avg_cost_per_request_usd', (r) => r.avgCostPerRequestUsd]],
  },
  {
    head: 'vs {previous}',
    text: (r) =>
      r.changePct === undefined
        ? `${r.changeUsd > 0 ? '+' : ''}${usd(r.changeUsd)}`
        : pct(r.changePct, true),
    csv: [
      ['previous_cost_usd', (r) => r.previousCostUsd],
      ['change_usd', (r) => r.changeUsd],
      ['change_pct', (r) => r.changePct],
    ],
  },
  {
    head: 'budget',
    text: (r) =>
      r.budget
        ? r.budget.unit === 'usd'
          ? usd(r.budget.limit)
          : `${count(r.budget.limit)} ${r.budget.unit}`
        : '–',
    csv: [
      ['budget', (r) => r.budget?.name ?? ''],
      ['budget_limit', (r) => r.budget?.limit],
      ['budget_unit', (r) => r.budget?.unit ?? ''],
    ],
  },
  {
    head: 'used',
    text: (r) => (r.budget ? pct(r.budget.utilizationPct) : '–'),
    csv: [['budget_utilization_pct', (r) => r.budget?.utilizationPct]],
  },
];

/** The group cells of a row: its label values, or `TOTAL` in the first for the total row. */
function groupCells(report: Report, r: ReportRow, total: boolean): string[] {
  return report.by.map((l, i) => (total ? (i === 0 ? 'TOTAL' : '') : r.group[l] || '(none)'));
}

/** Column headings and cells, shared by table, Markdown and HTML. */
export function columns(report: Report): {
  heads: string[];
  numeric: boolean[];
  cells: (r: ReportRow, total: boolean) => string[];
} {
  const heads = [
    ...report.by,
    ...FIGURES.map((f) => f.head.replace('{previous}', report.previous.label)),
  ];
  const numeric = heads.map((_, i) => i >= report.by.length);
  const cells = (r: ReportRow, total: boolean) => [
    ...groupCells(report, r, total),
    ...FIGURES.map((f) => f.text(r)),
  ];
  return { heads, numeric, cells };
}

function title(report: Report): string {
  return `LLM spend ${report.period.label} (${report.period.timeZone}) by ${report.by.join(', ')}`;
}

/** An aligned plain-text table with the notes under it. */
export function renderTable(report: Report): string {
  const { heads, numeric, cells } = columns(report);
  const body = [...report.rows.map((r) => cells(r, false)), cells(report.total, true)];
  const widths = heads.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (row: string[]) =>
    row
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  const rows = body.map(line);
  rows.splice(rows.length - 1, 0, rule);
  return [
    title(report),
    '',
    line(heads),
    rule,
    ...rows,
    '',
    ...report.notes.map((n) => `* ${n}`),
    '',
  ].join('\n');
}

/** A Markdown table with the notes as a list. */
export function renderMarkdown(report: Report): string {
  const { heads, numeric, cells } = columns(report);
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const row = (cs: string[]) => `| ${cs.map(esc).join(' | ')} |`;
  const total = cells(report.total, true).map((c) => (c ? `**${c}**` : c));
  return [
    `## ${esc(title(report))}`,
    '',
    row(heads),
    `|${numeric.map((n) => (n ? ' ---: ' : ' --- ')).join('|')}|`,
    ...report.rows.map((r) => row(cells(r, false))),
    row(total),
    '',
    ...report.notes.map((n) => `- ${n}`),
    '',
  ].join('\n');
}

/** A number in CSV: exact to 12 significant digits (no float noise), no separators. */
function num(x: number | undefined): string {
  return x === undefined ? '' : String(Number(x.toPrecision(12)));
}

function csvCell(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** CSV (RFC 4180): one line per group and a `TOTAL` line, plain numbers. */
export function renderCsv(report: Report): string {
  const plain = FIGURES.flatMap((f) => f.csv);
  const heads = [...report.by, ...plain.map(([head]) => head)];
  const line = (r: ReportRow, total: boolean) =>
    [
      // An empty group value stays empty in CSV: a program tells "(none)" by the empty cell.
      ...report.by.map((l, i) => (total ? (i === 0 ? 'TOTAL' : '') : (r.group[l] ?? ''))),
      ...plain.map(([, value]) => {
        const v = value(r);
        return typeof v === 'number' || v === undefined ? num(v) : v;
      }),
    ]
      .map(csvCell)
      .join(',');
  return `${[heads.join(','), ...report.rows.map((r) => line(r, false)), line(report.total, true)].join('\r\n')}\r\n`;
}

/** The report object itself. */
export function renderJson(report: Report): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
