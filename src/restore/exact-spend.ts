/**
 * What counters grew by over a grid of chunks, exactly (the rule and the query plan:
 * `spend-query.ts`), for several counters at once and, optionally, per value of some
 * labels. The one implementation behind both the budget restore (one sum per unit)
 * and `tokenfuse report` (one sum per group, token type and outcome).
 */
import { isoTime, type PrometheusApi, type PromSeries, sampleValue } from './prometheus-api.js';
import { chunkExpressions, counterSpend } from './spend-query.js';

/** One counter to read: a selector, and the labels its figures are kept apart by. */
export interface CounterQuery {
  /** Names the figures in the answer. */
  key: string;
  /** `metric{matchers}`. */
  selector: string;
  /** Labels to group by (none: one sum over every series). */
  by: readonly string[];
}

/** Equal chunks from `start`: the i-th (1-based) ends at `start + i × stepMs`. */
export interface ChunkGrid {
  start: number;
  count: number;
  stepMs: number;
}

/** The growth of one counter for one value of its `by` labels, per chunk. */
export interface CounterGrowth {
  key: string;
  /** The `by` labels' values (a label a series lacks is ''). */
  labels: Record<string, string>;
  /** Per chunk, in grid order. */
  chunks: number[];
}

/** Every counter's growth over a grid. */
export interface ExactGrowth {
  rows: CounterGrowth[];
  /** Chunks (per counter) where a counter reset inside, read from raw samples. */
  resets: number;
}

/** Marker label of the combined query's parts: `<query index> sum|resets|prev`. */
const MARK = 'tokenfuse_restore';

/** Identity of a series across the queries: its labels without the name and the marker. */
function seriesKey(metric: Record<string, string>): string {
  return JSON.stringify(
    Object.keys(metric)
      .filter((k) => k !== '__name__' && k !== MARK)
      .sort()
      .map((k) => [k, metric[k]]),
  );
}

/**
 * Reads the growth of every counter of `queries` over `grid` in one range query,
 * plus one raw-sample query per counter and chunk where a series reset inside.
 */
export async function exactGrowth(
  api: PrometheusApi,
  queries: readonly CounterQuery[],
  grid: ChunkGrid,
  signal: AbortSignal,
): Promise<ExactGrowth> {
  const { start, count, stepMs } = grid;
  const rows = new Map<string, CounterGrowth>();
  const row = (index: number, metric: Record<string, string>): CounterGrowth => {
    const q = queries[index]!;
    const labels = Object.fromEntries(q.by.map((l) => [l, metric[l] ?? '']));
    const id = `${index} ${JSON.stringify(labels)}`;
    let r = rows.get(id);
    if (r === undefined) {
      r = { key: q.key, labels, chunks: new Array<number>(count).fill(0) };
      rows.set(id, r);
    }
    return r;
  };
  if (count === 0 || queries.length === 0) return { rows: [], resets: 0 };

  // One range query for every counter: per chunk, the sums, and the series with a
  // reset inside (with their previous value), told apart by a marker.
  const mark = (expr: string, value: string) =>
    `label_replace(${expr}, "${MARK}", "${value}", "", "")`;
  const expr = queries
    .flatMap((q, i) => {
      const e = chunkExpressions(q.selector, stepMs, q.by);
      return [mark(e.sum, `${i} sum`), mark(e.resets, `${i} resets`), mark(e.prev, `${i} prev`)];
    })
    .join(' or ');
  const until = start + count * stepMs;
  const result = await api.query(
    'query_range',
    { query: expr, start: isoTime(start + stepMs), end: isoTime(until), step: `${stepMs}ms` },
    'matrix',
    signal,
  );

  /** Per counter and chunk: the series with a reset inside, and their previous values. */
  type Resets = {
    index: number;
    chunk: number;
    series: Map<string, Record<string, string>>;
    prev: Map<string, number>;
  };
  const anomalies = new Map<string, Resets>();
  const anomaly = (index: number, chunk: number) => {
    const key = `${index} ${chunk}`;
    let a = anomalies.get(key);
    if (a === undefined) {
      a = { index, chunk, series: new Map(), prev: new Map() };
      anomalies.set(key, a);
    }
    return a;
  };
  for (const series of result as PromSeries[]) {
    const [i, what] = (series.metric[MARK] ?? '').split(' ');
    const index = Number(i);
    if (queries[index] === undefined || series.values === undefined)
      throw api.unexpected('a series without a marker');
    for (const [t, text] of series.values) {
      const chunk = Math.round((Math.round(t * 1000) - start) / stepMs);
      const v = sampleValue(text);
      if (chunk < 1 || chunk > count || v === undefined) continue;
      if (what === 'sum') row(index, series.metric).chunks[chunk - 1]! += v;
      else if (what === 'resets')
        anomaly(index, chunk).series.set(seriesKey(series.metric), series.metric);
      else if (what === 'prev') anomaly(index, chunk).prev.set(seriesKey(series.metric), v);
    }
  }
  // The chunks with a reset inside: their raw samples, added up by the rule, for the
  // series that reset (the others are in the sums already).
  await Promise.all(
    [...anomalies.values()].map(async ({ index, chunk, series: reset, prev }) => {
      const chunkStart = start + (chunk - 1) * stepMs;
      const raw = await api.query(
        'query',
        { query: `${queries[index]!.selector}[${stepMs}ms]`, time: isoTime(chunkStart + stepMs) },
        'matrix',
        signal,
      );
      for (const series of raw) {
        const id = seriesKey(series.metric);
        if (!reset.has(id)) continue;
        const samples: number[] = [];
        for (const [t, text] of series.values ?? []) {
          const v = sampleValue(text);
          // A sample at the chunk start, if any, is `prev` already.
          if (Math.round(t * 1000) > chunkStart && v !== undefined) samples.push(v);
        }
        row(index, series.metric).chunks[chunk - 1]! += counterSpend(prev.get(id), samples);
      }
    }),
  );
  return { rows: [...rows.values()], resets: anomalies.size };
}
