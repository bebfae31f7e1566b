/**
 * The PromQL that reads a budget's spend this window from tokenfuse's counters,
 * and the arithmetic of counters it applies.
 *
 * ## Exact, not `increase()`
 *
 * `increase(x[1h])` extrapolates from the first and last samples in the range to the
 * range's ends, so it is not the spend: it is a guess that can be off in either
 * direction by up to a scrape interval's worth of spend per series (more for a
 * series that starts or ends inside the range). Here the spend of a series is its
 * raw samples read as a counter is meant to be read:
 *
 *   spend = Σ over consecutive samples (prev → cur) in the window of
 *           cur − prev  when cur ≥ prev,
 *           cur         when cur < prev (a reset: the process restarted and its counter
 *                       began again at 0, so everything it shows was spent since),
 *   where the first `prev` is the series' value at the window start (its last sample
 *   at or before it, looking back {@link GAP_MS}), or 0 for a series born inside the
 *   window (a process that started, or first spent, after the window began).
 *
 * Nothing is extrapolated or interpolated. What remains inexact is where the data
 * ends: spend made after a series' last scrape is not in Prometheus yet (a live
 * process's last scrape interval; a dead process's spend between its last scrape and
 * its death, lost for good), and spend between the last scrape before the window
 * start and the start is counted in this window. A reset is seen, as by Prometheus
 * itself, when the restarted process's first scrape shows less than the dead one's
 * last; a series absent from Prometheus for longer than {@link GAP_MS} (a Prometheus
 * outage that long) comes back as a new one, counted from 0.
 *
 * ## The amount of data: Prometheus sums per chunk, raw samples only where a counter reset
 *
 * Fetching every raw sample of a month is too much: at a 15 s scrape interval that is
 * 178,560 samples per series, millions for a budget's few dozen series, for
 * Prometheus to serialise as JSON on every restore. Fetching per-series summaries
 * instead (a value per series and chunk) is still tens of megabytes for a fleet. So
 * the rule is applied by Prometheus, per series, and only sums come back:
 *
 * The window is cut into at most {@link MAX_CHUNKS} equal chunks (of at least
 * {@link MIN_CHUNK_MS}). For each series and chunk (`x[chunk]`: its samples in the
 * chunk), with `prev` its last sample at or before the chunk's start:
 *
 * - `last_over_time(x[chunk])`, the chunk's last sample;
 * - `min_over_time(x[chunk])`: a counter that did not reset across the chunk's start
 *   has its minimum at its first sample, so `min ≥ prev` unless it did;
 * - `resets(x[chunk])`: whether it went down between two samples inside the chunk.
 *
 * A chunk without a reset inside it spends, exactly by the rule, `last − prev` when
 * `min ≥ prev`, and `last` when `min < prev` (a reset at its start) or when there is no
 * `prev` (a series born in it). One range query (`/api/v1/query_range`, one point per
 * chunk end) sums that over all series per chunk and unit, and lists the (rare)
 * series and chunks with a reset inside: only those chunks' samples are fetched raw
 * (`x[chunk]` at the chunk's end) and added up by the restorer. So the answer is as exact as
 * fetching every sample, and its size is three numbers per chunk plus a chunk of raw
 * samples per restart, whatever the window and the size of the fleet. Prometheus
 * still reads every sample of the window, a few times over (that is what exactness
 * costs; it streams them chunk by chunk, so no query loads more than a chunk).
 */

import type { Budget, Unit } from '../budgets/budget.js';
import { globBody } from '../glob.js';
import { BUDGET_LABELS, METRIC, type Outcome, PROMETHEUS_NAME } from '../metrics/contract.js';

const BLOCKED: Outcome = 'blocked';

/**
 * The counter (with any extra matcher) each unit is read from; the names are the
 * metrics contract's, so a rename there cannot leave restore reading an old series.
 */
export const RESTORE_SOURCES: Readonly<Record<Unit, { metric: string; extra?: string }>> = {
  usd: { metric: PROMETHEUS_NAME[METRIC.cost] },
  tokens: { metric: PROMETHEUS_NAME[METRIC.tokens] },
  requests: { metric: PROMETHEUS_NAME[METRIC.requests], extra: `outcome!="${BLOCKED}"` },
};

/**
 * How far back a series' previous sample is looked for (its value at the window start,
 * or before a chunk): a series silent in Prometheus for longer (a Prometheus outage;
 * a dead process that comes back) is counted as new from its next sample.
 */
export const GAP_MS = 60 * 60_000;
/** At most this many chunks per window (a month: chunks of about an hour). */
export const MAX_CHUNKS = 720;
/** Chunks are at least this long (an hour: 4 chunks; a day: 96). */
export const MIN_CHUNK_MS = 15 * 60_000;

/** How a window is cut into chunks; the defaults are {@link MAX_CHUNKS} and {@link MIN_CHUNK_MS}. */
export interface ChunkOptions {
  maxChunks?: number;
  minChunkMs?: number;
}

/** A model glob as a Prometheus (RE2, fully anchored) regex: `*` is `.*`, the rest literal, any case (as budgets match). */
export function globToPromRegex(glob: string): string {
  return `(?i)${globBody(glob)}`;
}

/** A PromQL string literal. JSON's escapes (`\"`, `\\`, `\n`, `\uXXXX`) are PromQL's too. */
function promString(value: string): string {
  return JSON.stringify(value);
}

/** The label matchers of a budget's `match` (department/project/environment/provider exact, model as a regex). */
export function budgetMatchers(budget: Budget): string[] {
  const spec = budget.match.spec;
  const out: string[] = [];
  for (const key of BUDGET_LABELS) {
    // The model is a glob, matched as a regex after the exact labels.
    if (key === 'model') continue;
    const value = spec[key];
    if (value !== undefined) out.push(`${key}=${promString(value)}`);
  }
  if (spec.model !== undefined) out.push(`model=~${promString(globToPromRegex(spec.model))}`);
  return out;
}

/** `tokenfuse_cost_usd_total{department="x",model=~"(?i)gpt-4\\.1.*"}` */
export function budgetSelector(budget: Budget, unit: Unit): string {
  const source = RESTORE_SOURCES[unit];
  const matchers = [...budgetMatchers(budget), ...(source.extra ? [source.extra] : [])];
  return matchers.length > 0 ? `${source.metric}{${matchers.join(',')}}` : source.metric;
}

/**
 * The chunks of `[windowStart, now]`: `count` chunks of `stepMs`, ending at `now` or
 * just after it (less than `count` ms: whole milliseconds, so that the points fall
 * exactly on the grid). Ending after `now` reads nothing that does not exist yet, and
 * figures for a calendar window that has ended by the time they arrive are not applied.
 */
export function chunking(
  windowStart: number,
  now: number,
  options: ChunkOptions = {},
): { count: number; stepMs: number } {
  const span = now - windowStart;
  if (span <= 0) return { count: 0, stepMs: 0 };
  const max = options.maxChunks ?? MAX_CHUNKS;
  const min = options.minChunkMs ?? MIN_CHUNK_MS;
  const count = Math.min(max, Math.max(1, Math.ceil(span / min)));
  return { count, stepMs: Math.ceil(span / count) };
}

/**
 * The chunks of `[start, end]` for a fixed period (a report's day or month): equal
 * chunks that end exactly at `end` (their count divides the span in ms; one chunk when
 * nothing else does), at most {@link MAX_CHUNKS} and, where the span allows, at least
 * {@link MIN_CHUNK_MS} long. Exactly at `end`, so that consecutive periods neither
 * overlap nor leave a gap: their figures add up to the whole's.
 */
export function exactChunking(start: number, end: number): { count: number; stepMs: number } {
  const span = end - start;
  if (span <= 0) return { count: 0, stepMs: 0 };
  let count = Math.min(MAX_CHUNKS, Math.max(1, Math.floor(span / MIN_CHUNK_MS)));
  while (span % count !== 0) count--;
  return { count, stepMs: span / count };
}

/** The rule, over one series' samples after `prev` (0 for a series born among them). */
export function counterSpend(prev: number | undefined, samples: readonly number[]): number {
  let spent = 0;
  let p = prev ?? 0;
  for (const v of samples) {
    spent += v >= p ? v - p : v;
    p = v;
  }
  return spent;
}

/**
 * PromQL of one chunk's spend for the series of `selector`, summed (per value of the
 * `by` labels, when given), but for the series with a reset inside the chunk (left to
 * the raw samples); and of those series themselves, with their `prev` (absent: born
 * in the chunk).
 */
export function chunkExpressions(
  selector: string,
  stepMs: number,
  by: readonly string[] = [],
): { sum: string; resets: string; prev: string } {
  const chunk = `[${stepMs}ms]`;
  const last = `last_over_time(${selector}${chunk})`;
  const min = `min_over_time(${selector}${chunk})`;
  const reset = `(resets(${selector}${chunk}) > 0)`;
  const prev = `last_over_time(${selector}[${Math.max(stepMs, GAP_MS)}ms] offset ${stepMs}ms)`;
  const steady = `((${min}) >= (${prev}))`;
  return {
    sum: `sum${by.length > 0 ? ` by (${by.join(',')})` : ''}(((((${last}) - (${prev})) and ${steady}) or ((${last}) unless ${steady})) unless ${reset})`,
    resets: reset,
    prev: `(${prev}) and ${reset}`,
  };
}
