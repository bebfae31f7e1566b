/**
 * When spend is restored (`ledger.restore`): at startup, with the first calls
 * waiting for it, then every `intervalSeconds`; and how one restore's figures are
 * applied to a board's budgets and reported.
 */
import { diag } from '@opentelemetry/api';
import { windowLabel } from '../budgets/budget.js';
import { isRestoreError, RestoreNotConfiguredError } from '../errors/restore-errors.js';
import { freeTimeSignal } from '../free-time-signal.js';
import type { FuseBoard } from '../fuses/fuse-board.js';
import type { BudgetRestore, RestoreTarget, SpendRestorer } from '../fuses/spend-restorer.js';
import type { RestoreFailure, SpendSource } from './prometheus-restore.js';

/** How a board restores spend (`ledger.restore`). */
export interface RestoreSettings {
  /** 0: once, at startup. */
  intervalSeconds: number;
  /**
   * Bound of one restore, all budgets together, in time the process was free to read
   * the answer; calls wait at most this long for the first.
   */
  timeoutMs: number;
}

/**
 * Restores `board`'s spend from `source` now, and every `intervalSeconds` after.
 * Calls that match a budget wait for the first restore, at most `timeoutMs`.
 * Does nothing when the board restores already; throws for a board whose
 * spend is shared already (the Redis ledger).
 *
 * Why they wait rather than start from zero: a process restarted mid-window must
 * not let through, in its first moments, calls for a department whose budget the
 * fleet has already spent. A job runner or a queue consumer sends its first calls
 * right at startup, and a process in a crash loop would be nothing but first
 * moments: each incarnation would spend afresh. Waiting costs those first calls
 * one restore (a few Prometheus queries, typically milliseconds), bounded by
 * `timeoutMs` of time the process was free to read the answer; startup itself is not delayed, nor are calls that match no budget,
 * and later restores (`intervalSeconds`) never hold calls up.
 */
export function enableRestore(
  board: FuseBoard,
  source: SpendSource,
  settings: RestoreSettings,
): void {
  if (board.shared) throw new RestoreNotConfiguredError('shared_ledger');
  if (board.restores) return;
  board.attachRestorer((target) => new RestoreScheduler(target, source, settings));
}

/** Runs a board's restores: the first at once (the board's calls wait for it), then on an interval. */
export class RestoreScheduler implements SpendRestorer {
  firstRestore: Promise<void> | undefined;
  private inFlight: Promise<BudgetRestore[]> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly stopped = new AbortController();
  /** In a run of failures: a Prometheus that stays away is not logged every interval. */
  private failing = false;

  constructor(
    private readonly target: RestoreTarget,
    private readonly source: SpendSource,
    private readonly settings: RestoreSettings,
  ) {
    if (target.budgets.length === 0) return;
    // Never rejects: a failure is logged, and the gate opens whatever happens.
    const run = () =>
      this.restore().then(
        () => undefined,
        (err: unknown) => diag.error('tokenfuse: restoring budget spend failed', err),
      );
    this.firstRestore = run().then(() => {
      this.firstRestore = undefined;
    });
    if (settings.intervalSeconds > 0) {
      this.timer = setInterval(() => void run(), settings.intervalSeconds * 1000);
      this.timer.unref();
    }
  }

  restore(): Promise<BudgetRestore[]> {
    this.inFlight ??= this.run().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.stopped.abort();
  }

  /**
   * Reads every budget's spend this window from the source and raises the board's
   * to it: spent becomes, per unit, the larger of what this process has counted and
   * the fleet's figure. A budget that could not be read keeps its own figures.
   */
  private async run(): Promise<BudgetRestore[]> {
    const { target, source, settings } = this;
    const now = target.now();
    // Bounded by time this process was free to read the answer, not by the wall clock:
    // the first restore starts while the app is still loading its modules on this
    // thread, and a wall-clock timer would fire before the request was even sent on a
    // busy host, calling a healthy Prometheus silent and letting the first calls
    // through unrestored (see freeTimeSignal).
    const bound = freeTimeSignal(settings.timeoutMs);
    const signal = AbortSignal.any([bound.signal, this.stopped.signal]);
    const results = await Promise.all(
      target.budgets.map(async (budget) => {
        try {
          return { budget, fleet: await source.fleetSpend(budget, now, signal) };
        } catch (err) {
          const reason: RestoreFailure = isRestoreError(err) ? err.reason : 'response';
          return { budget, error: { reason, message: (err as Error)?.message ?? String(err) } };
        }
      }),
    ).finally(() => bound.dispose());
    const at = target.now();
    const failed: string[] = [];
    const out = results.map((r): BudgetRestore => {
      const { budget } = r;
      const before = target.peek(budget, at).states[0]!;
      const local = { ...before.spent };
      const fleet = 'fleet' in r ? r.fleet : undefined;
      // Spent becomes max(local, fleet) per unit, never local + fleet: the fleet's
      // figure already holds this process's own spend as far as Prometheus has
      // scraped it (its series are among the fleet's, its earlier lives' too), so a
      // sum would count that twice. Local is the larger only by this process's spend
      // since its last scrape, while it may lack the others': the max is a lower bound
      // of the truth (which would need to know which series are this process's), and
      // at startup, where local is 0, it is the fleet's figure exactly.
      const raised =
        fleet !== undefined
          ? target.raise(budget, at, fleet.windowStart, fleet.amounts, fleet.timeline)
          : undefined;
      const s = raised?.states[0] ?? before;
      const error = 'error' in r ? r.error : undefined;
      if (error !== undefined) {
        failed.push(`"${budget.name}" (${error.reason}: ${error.message})`);
        target.failed(error.reason);
      }
      return {
        budget: budget.name,
        window: windowLabel(budget.window),
        windowStart: new Date(s.windowStart),
        // Figures for a calendar window that ended before they arrived were not applied.
        fleet: raised?.added !== undefined ? { ...fleet!.amounts } : undefined,
        until: raised?.added !== undefined ? new Date(fleet!.until) : undefined,
        local,
        spent: { ...s.spent },
        state: s.fuse.state,
        ...(error !== undefined ? { error } : {}),
      };
    });
    this.report(failed);
    return out;
  }

  private report(failed: readonly string[]): void {
    const { source, settings } = this;
    if (failed.length > 0) {
      const message =
        `tokenfuse: cannot restore budget spend from Prometheus at ${source.location}: ` +
        `budget ${failed.join(', budget ')}; ${failed.length === 1 ? 'it keeps' : 'they keep'} this process's own figures` +
        (settings.intervalSeconds > 0 ? `, retried in ${settings.intervalSeconds}s` : '');
      if (this.failing) diag.debug(message);
      else diag.warn(message);
      this.failing = true;
    } else if (this.failing) {
      diag.info(`tokenfuse: restored budget spend from Prometheus at ${source.location} again`);
      this.failing = false;
    }
  }
}
