/** Closing the Redis store: what is in flight or pending written, within `shutdownTimeoutMs`. */
import type { LedgerConnection, RedisLedgerOptions } from './connection.js';
import type { InFlight } from './in-flight.js';
import type { LeaseBook } from './leases.js';
import type { Reconciler } from './reconciler.js';

export interface DrainParts {
  options: RedisLedgerOptions;
  connection: LedgerConnection;
  reconciler: Reconciler;
  inFlight: InFlight;
  leases: LeaseBook | undefined;
}

/**
 * Waits for calls in flight to settle, releases the reservations of those that do
 * not, gives leased room back with the spend settled here, and writes what was
 * recorded while Redis was away (reconnecting if need be). What could not be
 * written is logged with its amounts and counted as failed reconciliations.
 */
export async function drainLedger(parts: DrainParts): Promise<void> {
  const { options, connection, reconciler, inFlight, leases } = parts;
  const bound = options.shutdownTimeoutMs;
  const deadline = performance.now() + bound;
  const left = () => deadline - performance.now();
  // Referenced: the app awaits its shutdown.
  const pause = (ms: number) =>
    new Promise((resolve) => setTimeout(resolve, Math.max(0, Math.min(ms, left()))));
  connection.drain();
  if (connection.starting !== undefined) await Promise.race([connection.starting, pause(left())]);
  // Closing: reconnect at once, and often.
  connection.reconnectNow();
  // Calls in flight settle first: into Redis, or queued for it.
  while (!inFlight.empty && left() > 0) await pause(10);
  const abandoned = inFlight.abandon();
  // Leased room goes back to the budgets, with the spend settled here.
  if (leases !== undefined) await leases.close(connection.status === 'ready');
  for (const ticket of abandoned) {
    // Its reservation would hold the budget until its lease ends.
    if (ticket.kind === 'shared')
      reconciler.hold({ op: 'cancel', rid: ticket.rid, budgets: ticket.budgets });
  }
  // At least one attempt when Redis is there, even if the calls took all the time.
  if (reconciler.unwritten() && connection.status === 'ready') await reconciler.recover();
  while (reconciler.unwritten() && left() > 0) {
    await pause(25);
    if (connection.status === 'ready') await reconciler.recover();
  }
  reconciler.stop();
  connection.stop();
  reconciler.reportUnwritten(abandoned.length, bound);
}
