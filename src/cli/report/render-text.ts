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

/** Column headings and cells, shared by table, Markdown and HTML. */
export function columns(report: Report): {
  heads: string[];
  numeric: boolean[];
  cells: (r: ReportRow, total: boolean) => string[];
} {
  const heads = [
    ...report.by,
    'cost',
    'share',
    'input',
    'cached',
    'cache write',
    'output',
    'ok',
    'error',
    'blocked',
    'avg/request',
    `vs ${report.previous.label}`,
    'budget',
    'used',
  ];
  const numeric = heads.map((_, i) => i >= report.by.length);
  const cells = (r: ReportRow, total: boolean) => [
    ...report.by.map((l, i) => (total ? (i === 0 ? 'TOTAL' : '') : r.group[l] || '(none)')),
    usd(r.costUsd),
    pct(r.sharePct),
    count(r.tokens.input),
    count(r.tokens.cached),
    count(r.tokens.cacheWrite),
    count(r.tokens.output),
    count(r.requests.ok),
    count(r.requests.error),
    count(r.requests.blocked),
    r.avgCostPerRequestUsd === undefined ? '–' : usd(r.avgCostPerRequestUsd),
    r.changePct === undefined
      ? `${r.changeUsd > 0 ? '+' : ''}${usd(r.changeUsd)}`
      : pct(r.changePct, true),
    r.budget
      ? r.budget.unit === 'usd'
        ? usd(r.budget.limit)
        : `${count(r.budget.limit)} ${r.budget.unit}`
      : '–',
    r.budget ? pct(r.budget.utilizationPct) : '–',
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
  const heads = [
    ...report.by,
    'cost_usd',
    'share_pct',
    'input_tokens',
    'cached_tokens',
    'cache_write_tokens',
    'output_tokens',
    'requests_ok',
    'requests_error',
    'requests_blocked',
    'avg_cost_per_request_usd',
    'previous_cost_usd',
    'change_usd',
    'change_pct',
    'budget',
    'budget_limit',
    'budget_unit',
    'budget_utilization_pct',
  ];
  const line = (r: ReportRow, total: boolean) =>
    [
      ...report.by.map((l, i) => (total ? (i === 0 ? 'TOTAL' : '') : (r.group[l] ?? ''))),
      num(r.costUsd),
      num(r.sharePct),
      num(r.tokens.input),
      num(r.tokens.cached),
      num(r.tokens.cacheWrite),
      num(r.tokens.output),
      num(r.requests.ok),
      num(r.requests.error),
      num(r.requests.blocked),
      num(r.avgCostPerRequestUsd),
      num(r.previousCostUsd),
      num(r.changeUsd),
      num(r.changePct),
      r.budget?.name ?? '',
      num(r.budget?.limit),
      r.budget?.unit ?? '',
      num(r.budget?.utilizationPct),
    ]
      .map(csvCell)
      .join(',');
  return `${[heads.join(','), ...report.rows.map((r) => line(r, false)), line(report.total, true)].join('\r\n')}\r\n`;
}

/** The report object itself. */
export function renderJson(report: Report): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
