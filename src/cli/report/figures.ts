/**
 * The report as finance reads it: per group and in total, the cost and its share, the
 * tokens by type, the requests by outcome, the average cost of a request, the change
 * against the previous period and, for a group with a monthly budget, its limit and
 * utilization. Every format renders this one object (`--format json` prints it).
 */
import type { GroupData, ReportData } from './collect.js';
import type { Period } from './period.js';

/** One row of the report: a group, or the total. */
export interface ReportRow {
  /** The group's `--by` label values ('' for a series without the label). */
  group: Record<string, string>;
  costUsd: number;
  /** Percent of the total cost. */
  sharePct: number;
  /** `input` and `output` include audio tokens; cached is cache reads. */
  tokens: { input: number; cached: number; cacheWrite: number; output: number; total: number };
  /** `ok` includes calls observed in other instrumentations' spans. */
  requests: { ok: number; error: number; blocked: number };
  /** Cost per sent request (ok + error; blocked calls cost nothing), undefined with none. */
  avgCostPerRequestUsd: number | undefined;
  previousCostUsd: number;
  changeUsd: number;
  /** Percent change; undefined when the previous period had no cost. */
  changePct: number | undefined;
  /** The most used monthly budget of the group (limit in its unit). */
  budget?: { name: string; unit: string; limit: number; utilizationPct: number };
  /** Cost per day of the period. */
  dailyUsd: number[];
}

/** The whole report. */
export interface Report {
  period: { label: string; timeZone: string; from: string; to: string };
  previous: { label: string; from: string; to: string };
  by: string[];
  days: string[];
  rows: ReportRow[];
  total: ReportRow;
  /** What the reader should know about how the figures were made. */
  notes: string[];
  source: string;
}

function rowOf(g: GroupData, totalCost: number): ReportRow {
  const t = g.tokens;
  const tokens = {
    input: t.input + t.input_audio,
    cached: t.cache_read,
    cacheWrite: t.cache_write,
    output: t.output + t.output_audio,
    total: 0,
  };
  tokens.total = tokens.input + tokens.cached + tokens.cacheWrite + tokens.output;
  const requests = {
    ok: g.requests.ok + g.requests.observed,
    error: g.requests.error,
    blocked: g.requests.blocked,
  };
  const sent = requests.ok + requests.error;
  const changeUsd = g.costUsd - g.previousCostUsd;
  const spent = { usd: g.costUsd, tokens: tokens.total, requests: sent } as Record<string, number>;
  let budget: ReportRow['budget'];
  for (const b of g.budgets) {
    const used = spent[b.unit];
    if (used === undefined) continue;
    const utilizationPct = (used / b.limit) * 100;
    if (budget === undefined || utilizationPct > budget.utilizationPct)
      budget = { name: b.budget, unit: b.unit, limit: b.limit, utilizationPct };
  }
  return {
    group: g.labels,
    costUsd: g.costUsd,
    sharePct: totalCost > 0 ? (g.costUsd / totalCost) * 100 : 0,
    tokens,
    requests,
    avgCostPerRequestUsd: sent > 0 ? g.costUsd / sent : undefined,
    previousCostUsd: g.previousCostUsd,
    changeUsd,
    changePct: g.previousCostUsd > 0 ? (changeUsd / g.previousCostUsd) * 100 : undefined,
    ...(budget ? { budget } : {}),
    dailyUsd: g.dailyUsd,
  };
}

/** Sums groups into the total row's raw figures. */
function totalOf(groups: GroupData[], days: number): GroupData {
  const total: GroupData = {
    labels: {},
    costUsd: 0,
    dailyUsd: new Array<number>(days).fill(0),
    tokens: { input: 0, cache_read: 0, cache_write: 0, output: 0, input_audio: 0, output_audio: 0 },
    requests: { ok: 0, error: 0, blocked: 0, observed: 0 },
    previousCostUsd: 0,
    budgets: [],
  };
  for (const g of groups) {
    total.costUsd += g.costUsd;
    total.previousCostUsd += g.previousCostUsd;
    g.dailyUsd.forEach((v, i) => {
      total.dailyUsd[i]! += v;
    });
    for (const k of Object.keys(total.tokens) as Array<keyof GroupData['tokens']>)
      total.tokens[k] += g.tokens[k];
    for (const k of Object.keys(total.requests) as Array<keyof GroupData['requests']>)
      total.requests[k] += g.requests[k];
  }
  return total;
}

/** The report of `data` for `period`, grouped by `by`. */
export function buildReport(
  data: ReportData,
  period: Period,
  by: string[],
  source: string,
): Report {
  const total = totalOf(data.groups, period.days.length);
  const rows = data.groups.map((g) => rowOf(g, total.costUsd));
  const notes = [
    'Figures are what the counters grew by between the period’s first and last instant, sample by sample (no extrapolation); spend after the last scrape is not in Prometheus yet.',
  ];
  if (data.resets > 0)
    notes.push(
      `Counter resets (process restarts) were read from raw samples in ${data.resets} place(s): nothing spent before a restart is lost or counted twice.`,
    );
  if (rows.some((r) => Object.values(r.group).includes('other')))
    notes.push(
      '"other" holds label values folded by metrics.maxValuesPerLabel: their spend is counted, under that name.',
    );
  for (const [reason, n] of Object.entries(data.dropped))
    notes.push(`${n} call(s) were recorded under a folded or cut label set (${reason}).`);
  if (period.kind === 'range')
    notes.push('Budget limits are shown for --month reports only (monthly budgets).');
  return {
    period: {
      label: period.label,
      timeZone: period.timeZone,
      from: new Date(period.start).toISOString(),
      to: new Date(period.end).toISOString(),
    },
    previous: {
      label: period.previous.label,
      from: new Date(period.previous.start).toISOString(),
      to: new Date(period.previous.end).toISOString(),
    },
    by,
    days: period.days.map((d) => d.label),
    rows,
    total: rowOf(total, total.costUsd),
    notes,
    source,
  };
}
