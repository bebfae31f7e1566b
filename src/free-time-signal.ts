/** How often the free-time clock advances; each tick counts at most twice this. */
export const FREE_TIME_TICK_MS = 25;

/** An abort signal bounded by time the process was free to run, and how to stop its clock. */
export interface FreeTimeSignal {
  readonly signal: AbortSignal;
  /** Stops the clock (the work it bounded is done); the signal stays as it is. */
  dispose(): void;
}

/**
 * An `AbortSignal` that aborts, with a `TimeoutError` as `AbortSignal.timeout()` does,
 * once `ms` of time this process was free to run have passed.
 *
 * Why not `AbortSignal.timeout(ms)`: a wall-clock timer also counts the time the event
 * loop was busy elsewhere (an app loading its modules on the same thread right after
 * tokenfuse started a request) or not scheduled at all (a host short of CPU). Timers
 * run before I/O in each turn of the loop, so after such a stall the timer fires
 * before the socket is even connected, and a healthy peer is called silent without
 * having been asked. So the clock advances in ticks, each counting at most twice its
 * period: a stall counts as one tick, and the peer gets `ms` of turns in which its
 * answer could have been read. The abort itself waits for the poll phase to pass,
 * so an answer already in the socket is read first.
 *
 * The ticker is not referenced: it never keeps an app alive.
 */
export function freeTimeSignal(ms: number): FreeTimeSignal {
  const controller = new AbortController();
  let ticker: NodeJS.Timeout | undefined;
  let disposed = false;
  let counted = 0;
  let last = performance.now();
  const tick = () => {
    const now = performance.now();
    counted += Math.min(now - last, 2 * FREE_TIME_TICK_MS);
    last = now;
    if (counted < ms) {
      ticker = setTimeout(tick, FREE_TIME_TICK_MS).unref();
      return;
    }
    ticker = undefined;
    setImmediate(() => {
      if (disposed) return;
      controller.abort(
        new DOMException(`no answer within ${ms} ms of time free to read it`, 'TimeoutError'),
      );
    });
  };
  ticker = setTimeout(tick, FREE_TIME_TICK_MS).unref();
  return {
    signal: controller.signal,
    dispose() {
      disposed = true;
      clearTimeout(ticker);
      ticker = undefined;
    },
  };
}
