/** States of a fuse, as the `tokenfuse_fuse_state` gauge reports them. */
export type FuseState = 'closed' | 'half_open' | 'open';

export const FUSE_STATE_VALUE: Record<FuseState, number> = { closed: 0, half_open: 1, open: 2 };

/** A fuse's state, serialisable (a shared ledger can store it). */
export interface FuseRecord {
  state: FuseState;
  /** Opened by hand; stays open until `reset()`. */
  isolated: boolean;
  /** When it last opened (epoch ms). */
  openedAt: number;
  /** Window it opened in: a new window closes it. */
  openedInWindow: number;
  /** Probe calls still allowed while half-open. */
  probesLeft: number;
  /** Probe calls in flight. */
  probesInFlight: number;
  /** Times it opened since the process started. */
  trips: number;
}

export function closedFuse(): FuseRecord {
  return {
    state: 'closed',
    isolated: false,
    openedAt: 0,
    openedInWindow: 0,
    probesLeft: 0,
    probesInFlight: 0,
    trips: 0,
  };
}
