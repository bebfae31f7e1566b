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

import type { Amounts, Budget } from '../budgets/budget.js';
import { UNITS, ZERO } from '../budgets/budget.js';
import { windowAt } from '../budgets/rules.js';
import { RestoreError, type RestoreFailureReason } from '../errors/restore-errors.js';
import { exactGrowth } from './exact-spend.js';
import { PrometheusApi } from './prometheus-api.js';
import { budgetSelector, type ChunkOptions, chunking } from './spend-query.js';

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

/**
 * Reads budgets' spend from the Prometheus HTTP API (`/api/v1/query`,
 * `/api/v1/query_range`), by POST (the combined queries are long).
 */
export class PrometheusRestorer implements SpendSource {
  readonly location: string;
  private readonly api: PrometheusApi;

  constructor(
    url: string,
    private readonly chunks: ChunkOptions = {},
  ) {
    this.api = new PrometheusApi(url);
    this.location = this.api.location;
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

    const growth = await exactGrowth(
      this.api,
      UNITS.map((u) => ({ key: u, selector: budgetSelector(budget, u), by: [] })),
      { start: windowStart, count, stepMs },
      signal,
    );
    for (const row of growth.rows) {
      const unit = UNITS.find((u) => u === row.key)!;
      row.chunks.forEach((spent, i) => {
        amounts[unit] += spent;
        timeline[i]!.amounts[unit] += spent;
      });
    }
    return { windowStart, until, amounts, timeline, resets: growth.resets };
  }
}
