import type { Amounts } from '../../budgets/budget.js';
import type { ManualActionName } from '../../fuses/fuse-events.js';
import type { FuseSnapshot } from '../../fuses/fuse-snapshot.js';
import type { ManualNote } from '../../fuses/fuse-store.js';

/**
 * Where `tokenfuse fuses` reads and changes fuses: the Redis ledger (every replica's
 * budgets), or one process's admin endpoint (its in-memory ledger).
 */
export interface FusesTarget {
  /** What messages name it by: `redis 127.0.0.1:6379` or the admin endpoint's origin. */
  readonly name: string;
  list(): Promise<FuseSnapshot[]>;
  show(budget: string): Promise<FuseSnapshot>;
  act(
    budget: string,
    action: ManualActionName,
    note: ManualNote,
    amounts?: Partial<Amounts>,
  ): Promise<FuseSnapshot>;
  close(): Promise<void>;
}
