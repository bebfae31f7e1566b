import type { MemoryFuseStore } from '../memory.js';
import type { LeaseTicket } from './lease-record.js';
import type { ScriptBudget } from './wire.js';

/** What an admission holds with the Redis store: a reservation in Redis, or in the local store. */
export type Ticket =
  | { kind: 'shared'; rid: string; budgets: ScriptBudget[] }
  | { kind: 'local'; store: MemoryFuseStore; inner: unknown }
  | LeaseTicket;

/**
 * The Redis store's calls in flight: admitted and not yet settled, and writes sent
 * to Redis and not yet answered. Closing waits for them, then gives up on the rest.
 */
export class InFlight {
  private readonly unsettled = new Set<Ticket>();
  private readonly writes = new Set<Promise<unknown>>();

  admitted(ticket: Ticket): void {
    this.unsettled.add(ticket);
  }

  /** The call settles: false when it was not in flight (closing gave up on it). */
  settled(ticket: Ticket): boolean {
    return this.unsettled.delete(ticket);
  }

  /** A write closing waits for. */
  track<T>(write: Promise<T>): Promise<T> {
    this.writes.add(write);
    const done = () => this.writes.delete(write);
    write.then(done, done);
    return write;
  }

  get empty(): boolean {
    return this.unsettled.size === 0 && this.writes.size === 0;
  }

  /** Gives up on the calls not settled yet; they are returned, no longer in flight. */
  abandon(): Ticket[] {
    const abandoned = [...this.unsettled];
    this.unsettled.clear();
    return abandoned;
  }
}
