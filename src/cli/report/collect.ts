/**
 * The chargeback figures of a period, read from Prometheus with the restore's exact
 * counter arithmetic (`restore/exact-spend.ts`): per day of the period and group, the
 * cost, the tokens by type and the requests by outcome; the previous period's cost per
 * group; and the monthly budgets' limits.
 */
import {
  BUDGET_LABELS,
  FUSE_METRIC,
  METRIC,
  OUTCOMES,
  type Outcome,
  PROMETHEUS_NAME,
  TOKEN_TYPES,
  type TokenType,
} from '../../metrics/contract.js';
import { type CounterQuery, exactGrowth } from '../../restore/exact-spend.js';
import { isoTime, PrometheusApi, sampleValue } from '../../restore/prometheus-api.js';
import { exactChunking } from '../../restore/spend-query.js';
import { CliError } from '../cli-error.js';
import type { Period, Span } from './period.js';

const COST = PROMETHEUS_NAME[METRIC.cost];
const TOKENS = PROMETHEUS_NAME[METRIC.tokens];
const REQUESTS = PROMETHEUS_NAME[METRIC.requests];
const DROPPED = PROMETHEUS_NAME[METRIC.seriesDropped];
const LIMIT = PROMETHEUS_NAME[FUSE_METRIC.limit];

/** Raw figures of one group (per value of the `--by` labels). */
export interface GroupData {
  labels: Record<string, string>;
  costUsd: number;
  /** Cost per day of the period, in `Period.days` order. */
  dailyUsd: number[];
  tokens: Record<TokenType, number>;
  requests: Record<Outcome, number>;
  previousCostUsd: number;
  /** Monthly budgets whose match is exactly this group (by `--by` labels). */
  budgets: Array<{ budget: string; unit: string; limit: number }>;
}

/** What Prometheus says about a period. */
export interface ReportData {
  groups: GroupData[];
  /** Chunks where a counter reset (a process restarted), read from raw samples. */
  resets: number;
  /** Calls recorded under a folded or cut label set in the period, by reason. */
  dropped: Record<string, number>;
}

/** Progress of the queries, for a line on stderr. */
export type Progress = (done: number, total: number) => void;

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Checks `--by` against the labels the cost series carry in the period; fails on no data. */
async function checkLabels(
  api: PrometheusApi,
  by: readonly string[],
  period: Period,
  signal: AbortSignal,
): Promise<void> {
  for (const label of by)
    if (!LABEL_NAME.test(label) || label === 'type' || label === 'outcome')
      throw new CliError(`--by: ${JSON.stringify(label)} is not a group label`, 2);
  const names = await api.labelNames(COST, period.start, period.end, signal);
  if (names.length === 0)
    throw new CliError(
      `no data: Prometheus at ${api.location} has no ${COST} series from ${isoTime(period.start)} to ${isoTime(period.end)} (${period.label}, ${period.timeZone})`,
    );
  // Labels every scraped series has say nothing about who spent.
  const known = names.filter(
    (n) => !n.startsWith('__') && !n.startsWith('otel_scope_') && n !== 'job' && n !== 'instance',
  );
  for (const label of by)
    if (!names.includes(label))
      throw new CliError(
        `--by: unknown group label ${JSON.stringify(label)}; ${COST} has ${known.join(', ')} in ${period.label}`,
        2,
      );
}

/** The counters of one span, per group. */
function queries(by: readonly string[]): CounterQuery[] {
  return [
    { key: 'cost', selector: COST, by },
    { key: 'tokens', selector: TOKENS, by: [...by, 'type'] },
    { key: 'requests', selector: REQUESTS, by: [...by, 'outcome'] },
    { key: 'dropped', selector: DROPPED, by: ['reason'] },
  ];
}

/** Reads the report's figures; `progress` hears of each span read. */
export async function collectReport(
  url: string,
  by: readonly string[],
  period: Period,
  signal: AbortSignal,
  progress: Progress = () => {},
): Promise<ReportData> {
  const api = new PrometheusApi(url);
  await checkLabels(api, by, period, signal);

  const groups = new Map<string, GroupData>();
  const group = (metric: Record<string, string>): GroupData => {
    const labels = Object.fromEntries(by.map((l) => [l, metric[l] ?? '']));
    const id = JSON.stringify(labels);
    let g = groups.get(id);
    if (g === undefined) {
      g = {
        labels,
        costUsd: 0,
        dailyUsd: new Array<number>(period.days.length).fill(0),
        tokens: Object.fromEntries(TOKEN_TYPES.map((t) => [t, 0])) as Record<TokenType, number>,
        requests: Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>,
        previousCostUsd: 0,
        budgets: [],
      };
      groups.set(id, g);
    }
    return g;
  };
  const dropped: Record<string, number> = {};
  let resets = 0;
  const total = period.days.length + 1;

  const read = async (span: Span, qs: CounterQuery[]) => {
    const growth = await exactGrowth(
      api,
      qs,
      { start: span.start, ...exactChunking(span.start, span.end) },
      signal,
    );
    resets += growth.resets;
    return growth.rows.map((r) => ({ ...r, value: r.chunks.reduce((a, b) => a + b, 0) }));
  };

  // Day by day: the daily series, and a progress step per day.
  for (const [day, span] of period.days.entries()) {
    for (const row of await read(span, queries(by))) {
      if (row.value === 0) continue;
      if (row.key === 'dropped') {
        const reason = row.labels.reason ?? '';
        dropped[reason] = (dropped[reason] ?? 0) + row.value;
        continue;
      }
      const g = group(row.labels);
      if (row.key === 'cost') {
        g.costUsd += row.value;
        g.dailyUsd[day]! += row.value;
      } else if (row.key === 'tokens') {
        const type = TOKEN_TYPES.find((t) => t === row.labels.type);
        if (type) g.tokens[type] += row.value;
      } else {
        const outcome = OUTCOMES.find((o) => o === row.labels.outcome);
        if (outcome) g.requests[outcome] += row.value;
      }
    }
    progress(day + 1, total);
  }
  // The period before, in one span: only its cost per group is shown.
  for (const row of await read(period.previous, [{ key: 'cost', selector: COST, by }])) {
    if (row.value !== 0) group(row.labels).previousCostUsd += row.value;
  }
  progress(total, total);

  if (period.kind === 'month') await readBudgets(api, by, period, signal, groups);
  const present = [...groups.values()].filter(
    (g) => g.costUsd !== 0 || Object.values(g.requests).some((n) => n !== 0),
  );
  if (present.length === 0)
    throw new CliError(
      `no data: no tokenfuse spend or requests in Prometheus at ${api.location} for ${period.label} (${period.timeZone})`,
    );
  present.sort(
    (a, b) =>
      b.costUsd - a.costUsd || JSON.stringify(a.labels).localeCompare(JSON.stringify(b.labels)),
  );
  return { groups: present, resets, dropped };
}

/**
 * The monthly budgets whose match names exactly the `--by` labels, by their limit
 * gauge's last value in the month (several replicas export the same limit: the
 * largest is taken).
 */
async function readBudgets(
  api: PrometheusApi,
  by: readonly string[],
  period: Period,
  signal: AbortSignal,
  groups: Map<string, GroupData>,
): Promise<void> {
  const span = period.end - period.start;
  const result = await api.query(
    'query',
    {
      query: `max by (budget, unit, ${BUDGET_LABELS.join(', ')}) (last_over_time(${LIMIT}{window="month"}[${span}ms]))`,
      time: isoTime(period.end - 1),
    },
    'vector',
    signal,
  );
  for (const series of result) {
    const matched = BUDGET_LABELS.filter((l) => series.metric[l] !== undefined);
    if (matched.length !== by.length || !by.every((l) => matched.includes(l as never))) continue;
    const id = JSON.stringify(Object.fromEntries(by.map((l) => [l, series.metric[l] ?? ''])));
    const g = groups.get(id);
    const limit = series.value ? sampleValue(series.value[1]) : undefined;
    if (g === undefined || limit === undefined || limit <= 0) continue;
    g.budgets.push({ budget: series.metric.budget ?? '', unit: series.metric.unit ?? '', limit });
  }
}
