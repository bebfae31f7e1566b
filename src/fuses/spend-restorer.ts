/**
 * The board's side of restoring spend (`ledger.restore`). Restoring is done from
 * above the fuse layer (`src/restore/` reads Prometheus and schedules the runs);
 * the board knows only these two interfaces: the {@link SpendRestorer} it is given,
 * and the {@link RestoreTarget} it gives back, so the fuse layer imports nothing
 * of how or where spend is restored from.
 */
import type { Amounts, Budget } from '../budgets/budget.js';
import type { RestoreFailureReason } from '../errors/restore-errors.js';
import type { FuseState } from './fuse.js';
import type { FuseStore, ReadOutcome } from './fuse-store.js';

/** One budget's restore: what the fleet had spent this window, and what this process counts now. */
export interface BudgetRestore {
  budget: string;
  window: string;
  windowStart: Date;
  /**
   * The fleet's spend this window, as Prometheus has it; undefined when it could not
   * be read (see `error`), or was for a calendar window that ended before it arrived.
   */
  fleet: Amounts | undefined;
  /** The instant the fleet's figures run to (its newest samples are at most a scrape interval older). */
  until: Date | undefined;
  /** What this process had counted itself, just before. */
  local: Amounts;
  /** This process's spend after the restore: the larger of `local` and `fleet`, per unit. */
  spent: Amounts;
  state: FuseState;
  /** Why the fleet's spend could not be read (the budget kept `local`). */
  error?: { reason: RestoreFailureReason; message: string };
}

/** What restores a board's spend: the board waits for its first restore, and hands it `restore()` and `close()`. */
export interface SpendRestorer {
  /**
   * The first restore, while it has not answered (nor given up); undefined after.
   * Never rejects. Calls that match a budget wait for it before they are admitted.
   */
  readonly firstRestore: Promise<void> | undefined;
  /** Restores now, or joins the restore under way; resolves per budget. Never rejects. */
  restore(): Promise<BudgetRestore[]>;
  /** No more restores; the one under way is aborted. */
  stop(): void;
}

/** What a board lets its restorer do: read and raise its budgets' spend in its store, the board reporting any fuse that changes. */
export interface RestoreTarget {
  readonly budgets: readonly Budget[];
  /** The board's clock (epoch ms). */
  now(): number;
  /** A budget's state as this process counts it (`states[0]`). */
  peek(budget: Budget, now: number): ReadOutcome;
  /** Raises a budget's spend this window to at least the fleet's: {@link FuseStore.raise}. */
  raise: FuseStore['raise'];
  /** Counts a budget whose fleet spend could not be read (`tokenfuse_ledger_errors_total{operation="restore"}`). */
  failed(reason: RestoreFailureReason): void;
}
