/**
 * Reading budget spend back from Prometheus (`ledger: { restore: { prometheus } }`),
 * so that a process with the in-memory ledger starts from what the fleet has
 * already spent this window instead of from zero: a replica restarted mid-month
 * still blocks a department that has spent its monthly budget.
 *
 * The figure for a budget is the fleet's spend in the budget's current window, per
 * unit, summed over every series Prometheus has scraped of the counters tokenfuse
 * exports (every process, live or dead), with the budget's `match` as label matchers:
 *
 * | unit       | counter                                          |
 * | ---------- | ------------------------------------------------ |
 * | `usd`      | `tokenfuse_cost_usd_total`                       |
 * | `tokens`   | `tokenfuse_tokens_total` (every `type`)          |
 * | `requests` | `tokenfuse_requests_total{outcome!="blocked"}`   |
 *
 * These are exactly what a budget counts: a settled call adds its priced cost, all
 * its tokens and one request to every budget it matches, and to these counters.
 * How the spend is read from them, exactly and in few numbers: `spend-query.ts`.
 *
 * ## What it sees, and what it cannot
 *
 * - Every series Prometheus has with the budget's labels: all processes of the fleet,
 *   live or dead, this one's earlier lives included, but also any other app scraped by
 *   the same Prometheus whose calls carry the same labels. A budget restored this way
 *   is fleet-wide by its labels, as the shipped alert rules are.
 * - Only what the counters' labels say: a budget must match on exported labels
 *   (`metrics.labels`; the resolver checks), and a label value folded into `other`
 *   by `metrics.maxValuesPerLabel` is not seen under its own name.
 * - Only what Prometheus still keeps: a monthly budget needs a retention of more than
 *   31 days (Prometheus's default is 15); samples already deleted are spend not seen.
 * - How fresh: a sample is at most one scrape interval old when the restore reads it,
 *   so the figure lags the fleet by up to the scrape interval, plus, between restores,
 *   `intervalSeconds` for the other processes' spend (this process's own is counted
 *   locally at once).
 */

import type { Amounts, Budget, Unit } from '../budgets/budget.js';
import { UNITS, ZERO } from '../budgets/budget.js';
import { windowAt } from '../budgets/rules.js';
import { RestoreError, type RestoreFailureReason } from '../errors/restore-errors.js';
import {
  budgetSelector,
  type ChunkOptions,
  chunkExpressions,
  chunking,
  counterSpend,
} from './spend-query.js';

/** Why reading from Prometheus failed: the `reason` label of `tokenfuse_ledger_errors_total{operation="restore"}`. */
export type RestoreFailure = RestoreFailureReason;

// Its home is errors/ with the other errors; re-exported where restoring is.
export { RestoreError };

/** What the fleet spent in a budget's window, as Prometheus has it. */
export interface FleetSpend {
  /** Start of the window the figures are for (epoch ms). */
  windowStart: number;
  /** The instant they run to (epoch ms: the `now` asked for, or up to a second after it). */
  until: number;
  amounts: Amounts;
  /** The same spend by chunk, each at its chunk's end (for placing it in a rolling window). */
  timeline: Array<{ at: number; amounts: Amounts }>;
  /** Chunks (per unit) where a counter reset inside, read from raw samples. */
  resets: number;
}

/** Where the fleet's spend is read from; the restore scheduler only needs this much. */
export interface SpendSource {
  /** Where, for messages (no credentials). */
  readonly location: string;
  fleetSpend(budget: Budget, now: number, signal: AbortSignal): Promise<FleetSpend>;
}

interface PromSeries {
  metric: Record<string, string>;
  value?: [number, string];
  values?: Array<[number, string]>;
}

/** Marker label of the combined query's parts: `<unit> sum|resets|prev`. */
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

function sampleValue(v: string): number | undefined {
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * Reads budgets' spend from the Prometheus HTTP API (`/api/v1/query`,
 * `/api/v1/query_range`), by POST (the combined queries are long).
 */
export class PrometheusRestorer implements SpendSource {
  readonly location: string;
  private readonly base: string;
  private readonly authorization: string | undefined;

  constructor(
    url: string,
    private readonly chunks: ChunkOptions = {},
  ) {
    // fetch() refuses URLs with credentials: they become a basic-auth header, and
    // are left out of every message.
    const u = new URL(url);
    if (u.username || u.password) {
      const user = decodeURIComponent(u.username);
      const password = decodeURIComponent(u.password);
      this.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
      u.username = '';
      u.password = '';
    }
    this.base = u.toString().replace(/\/+$/, '');
    this.location = this.base;
  }

  async fleetSpend(budget: Budget, now: number, signal: AbortSignal): Promise<FleetSpend> {
    const windowStart = windowAt(budget, now).start;
    const { count, stepMs } = chunking(windowStart, now, this.chunks);
    const until = windowStart + count * stepMs;
    const amounts = { ...ZERO };
    const timeline = Array.from({ length: count }, (_, i) => ({
      at: windowStart + (i + 1) * stepMs,
      amounts: { ...ZERO },
    }));
    if (count === 0) return { windowStart, until: now, amounts, timeline, resets: 0 };

    // One range query for the three counters: per chunk, each unit's sum, and the
    // series with a reset inside (with their previous value), told apart by a marker.
    const mark = (expr: string, value: string) =>
      `label_replace(${expr}, "${MARK}", "${value}", "", "")`;
    const expr = UNITS.flatMap((u) => {
      const e = chunkExpressions(budgetSelector(budget, u), stepMs);
      return [mark(e.sum, `${u} sum`), mark(e.resets, `${u} resets`), mark(e.prev, `${u} prev`)];
    }).join(' or ');
    const result = await this.query(
      'query_range',
      {
        query: expr,
        start: isoTime(windowStart + stepMs),
        end: isoTime(until),
        step: `${stepMs}ms`,
      },
      'matrix',
      signal,
    );

    /** Per unit and chunk: the series with a reset inside, and their previous values. */
    type Resets = { unit: Unit; chunk: number; series: Set<string>; prev: Map<string, number> };
    const anomalies = new Map<string, Resets>();
    const anomaly = (unit: Unit, chunk: number) => {
      const key = `${unit} ${chunk}`;
      let a = anomalies.get(key);
      if (a === undefined) {
        a = { unit, chunk, series: new Set(), prev: new Map() };
        anomalies.set(key, a);
      }
      return a;
    };
    const add = (unit: Unit, chunk: number, spent: number) => {
      amounts[unit] += spent;
      timeline[chunk - 1]!.amounts[unit] += spent;
    };
    for (const series of result) {
      const [u, what] = (series.metric[MARK] ?? '').split(' ');
      const unit = UNITS.find((x) => x === u);
      if (unit === undefined || series.values === undefined)
        throw this.unexpected('a series without a marker');
      for (const [t, text] of series.values) {
        const chunk = Math.round((Math.round(t * 1000) - windowStart) / stepMs);
        const v = sampleValue(text);
        if (chunk < 1 || chunk > count || v === undefined) continue;
        if (what === 'sum') add(unit, chunk, v);
        else if (what === 'resets') anomaly(unit, chunk).series.add(seriesKey(series.metric));
        else if (what === 'prev') anomaly(unit, chunk).prev.set(seriesKey(series.metric), v);
      }
    }
    // The chunks with a reset inside: their raw samples, added up by the rule, for the
    // series that reset (the others are in the sums already). One query per unit and chunk.
    await Promise.all(
      [...anomalies.values()].map(async ({ unit, chunk, series: reset, prev }) => {
        const chunkStart = windowStart + (chunk - 1) * stepMs;
        const raw = await this.query(
          'query',
          {
            query: `${budgetSelector(budget, unit)}[${stepMs}ms]`,
            time: isoTime(chunkStart + stepMs),
          },
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
          add(unit, chunk, counterSpend(prev.get(id), samples));
        }
      }),
    );
    return { windowStart, until, amounts, timeline, resets: anomalies.size };
  }

  private async query(
    endpoint: 'query' | 'query_range',
    params: Record<string, string>,
    resultType: 'vector' | 'matrix',
    signal: AbortSignal,
  ): Promise<PromSeries[]> {
    const url = `${this.base}/api/v1/${endpoint}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
          ...(this.authorization ? { authorization: this.authorization } : {}),
        },
        body: new URLSearchParams(params),
        signal,
      });
    } catch (err) {
      throw this.fetchFailure(err, signal);
    }
    let body: { status?: string; error?: string; data?: { resultType?: string; result?: unknown } };
    try {
      body = (await res.json()) as typeof body;
    } catch (err) {
      if (signal.aborted) throw this.fetchFailure(err, signal);
      throw new RestoreError(
        'response',
        `HTTP ${res.status} from ${url} is not a Prometheus API answer (not JSON)`,
        { cause: err },
      );
    }
    if (!res.ok || body.status !== 'success') {
      throw new RestoreError(
        'response',
        `Prometheus answered HTTP ${res.status}${body.error ? `: ${body.error}` : ''}`,
      );
    }
    if (body.data?.resultType !== resultType || !Array.isArray(body.data.result))
      throw this.unexpected(
        `a ${body.data?.resultType ?? 'missing'} result where a ${resultType} was expected`,
      );
    return body.data.result as PromSeries[];
  }

  private fetchFailure(err: unknown, signal: AbortSignal): RestoreError {
    if (signal.aborted) {
      const reason = signal.reason as { name?: string } | undefined;
      return reason?.name === 'TimeoutError'
        ? new RestoreError('timeout', 'no answer from Prometheus in time', { cause: err })
        : new RestoreError('connection', 'restore cancelled (shutting down)', { cause: err });
    }
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const detail = cause?.code ?? cause?.message ?? (err as Error).message;
    return new RestoreError('connection', `cannot reach Prometheus (${detail})`, { cause: err });
  }

  private unexpected(what: string): RestoreError {
    return new RestoreError('response', `unexpected answer from Prometheus: ${what}`);
  }
}
