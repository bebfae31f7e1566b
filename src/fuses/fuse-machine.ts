import type { Budget } from '../budgets/budget.js';
import { type Account, exhausted, hasRoom } from '../budgets/rules.js';
import type { FuseRecord, FuseState } from './fuse.js';
import type { BudgetDecision, Transition, TransitionCause } from './fuse-store.js';

/**
 * The fuse state machine, pure: a fuse record and an event in, the next record and
 * the transitions out. It reads no clock (`now` is passed in), keeps nothing and
 * does no I/O, so every store applies the same rules to the state it keeps: the
 * in-memory store calls it; the Lua scripts of the Redis store
 * (src/fuses/stores/redis/lua.ts) restate it, and one case table
 * (test/helpers/fuse-cases.ts) holds the machine, the in-memory store and the Redis
 * store to the same transitions.
 *
 * closed ─(limit reached)→ open ─(cool-down over, room again)→ half_open
 * half_open ─(last probe settles with room)→ closed; ─(limit reached)→ open
 * open | half_open ─(a new calendar window)→ closed, unless isolated by hand.
 *
 * Spend and reservations (the ledger) are the store's: the machine sees them as
 * the budget's {@link Account} in its current window.
 */

/** What the machine reads of a budget. */
export type FuseBudget = Pick<Budget, 'name' | 'window' | 'limit' | 'cooldownMs' | 'probes'>;

/** Things that happen to a fuse. `windowStart` is the budget's current window (rolling: `now - duration`). */
export type FuseEvent =
  /** Time moved on: a new calendar window closes a fuse that opened in an earlier one. */
  | { type: 'roll'; windowStart: number }
  /** A call asks to pass, with the account before its reservation. */
  | { type: 'decide'; account: Account }
  /** The limit was found reached at admission: open (once). */
  | { type: 'trip'; windowStart: number }
  /** An admitted call takes a probe slot (after a `probe` decision). */
  | { type: 'probe' }
  /**
   * Spend was recorded (`account` after it): a call settled, `probe` when it held a
   * probe slot; or spend read back from elsewhere (`probe: false`).
   */
  | { type: 'settle'; account: Account; windowStart: number; probe: boolean }
  /** Opened by hand: holds through new windows until `reset`. */
  | { type: 'isolate'; windowStart: number }
  /** Closed by hand. */
  | { type: 'reset' };

export type DecideEvent = Extract<FuseEvent, { type: 'decide' }>;

/** The next record and the state changes that led to it, in order. */
export interface FuseStep {
  fuse: FuseRecord;
  transitions: Transition[];
}

/** A decision, and whether the budget must trip (the limit is reached). */
export interface DecideStep extends FuseStep {
  decision: BudgetDecision;
  trip: boolean;
}

/** Applies one event to a fuse; the record passed in is left untouched. */
export function stepFuse(
  fuse: FuseRecord,
  event: DecideEvent,
  budget: FuseBudget,
  now: number,
): DecideStep;
export function stepFuse(
  fuse: FuseRecord,
  event: FuseEvent,
  budget: FuseBudget,
  now: number,
): FuseStep;
export function stepFuse(
  fuse: FuseRecord,
  event: FuseEvent,
  budget: FuseBudget,
  now: number,
): FuseStep | DecideStep {
  const f: FuseRecord = { ...fuse };
  const transitions: Transition[] = [];
  const set = (to: FuseState, cause: TransitionCause) => {
    if (f.state === to) return;
    transitions.push({ budget: budget.name, from: f.state, to, cause });
    f.state = to;
  };
  const close = (cause: TransitionCause) => {
    f.probesLeft = 0;
    f.probesInFlight = 0;
    set('closed', cause);
  };
  const trip = (windowStart: number) => {
    if (f.state === 'open') return;
    f.trips += 1;
    f.openedAt = now;
    f.openedInWindow = windowStart;
    f.probesLeft = 0;
    set('open', 'trip');
  };
  switch (event.type) {
    case 'roll':
      if (
        f.state !== 'closed' &&
        !f.isolated &&
        budget.window.kind !== 'rolling' &&
        f.openedInWindow !== event.windowStart
      )
        close('window');
      break;
    case 'decide': {
      const verdict = decide(f, event.account, budget, now, set);
      return { fuse: f, transitions, decision: verdict.decision, trip: verdict.trip };
    }
    case 'trip':
      trip(event.windowStart);
      break;
    case 'probe':
      f.probesLeft -= 1;
      f.probesInFlight += 1;
      break;
    case 'settle':
      if (event.probe) f.probesInFlight = Math.max(0, f.probesInFlight - 1);
      if (exhausted(budget.limit, event.account) !== undefined) trip(event.windowStart);
      else if (event.probe && f.state === 'half_open' && f.probesInFlight === 0) close('room');
      break;
    case 'isolate':
      f.isolated = true;
      if (f.state !== 'open') {
        f.openedAt = now;
        f.openedInWindow = event.windowStart;
        set('open', 'isolate');
      }
      break;
    case 'reset':
      f.isolated = false;
      if (f.state !== 'closed') close('manual');
      break;
  }
  return { fuse: f, transitions };
}

/** The verdict on a call; moves an open fuse whose cool-down is over to half-open. */
function decide(
  f: FuseRecord,
  account: Account,
  budget: FuseBudget,
  now: number,
  set: (to: FuseState, cause: TransitionCause) => void,
): { decision: BudgetDecision; trip: boolean } {
  const block = (reason: Extract<BudgetDecision, { kind: 'block' }>['reason'], trip = false) => ({
    decision: { kind: 'block' as const, reason },
    trip,
  });
  const reached = exhausted(budget.limit, account) !== undefined;
  if (f.isolated) return block('isolated');
  if (f.state === 'open') {
    if (now - f.openedAt < budget.cooldownMs || reached) return block('limit_reached');
    set('half_open', 'cooldown');
    f.probesLeft = budget.probes;
    f.probesInFlight = 0;
  }
  if (f.state === 'half_open') {
    if (reached) return block('limit_reached', true);
    if (f.probesLeft <= 0) return block('probing');
    return hasRoom(budget.limit, account)
      ? { decision: { kind: 'probe' }, trip: false }
      : block('reserved');
  }
  if (hasRoom(budget.limit, account)) return { decision: { kind: 'admit' }, trip: false };
  return reached ? block('limit_reached', true) : block('reserved');
}

/** One budget of a call, as its store holds it now. */
export interface CallEntry {
  budget: FuseBudget & Pick<Budget, 'action'>;
  fuse: FuseRecord;
  /** Before this call's reservation. */
  account: Account;
  windowStart: number;
}

/** A call's admission against all its budgets. */
export interface CallAdmission {
  /** No `block` budget blocks (a `monitor` budget reports, never refuses). */
  admitted: boolean;
  /** Per entry, in order. */
  decisions: BudgetDecision[];
  /** Per entry: the fuse after the decision and any trip (what an admission reports). */
  decided: FuseRecord[];
  /** Per entry: the fuse to keep (probe slots taken when admitted). */
  fuses: FuseRecord[];
  /** Per entry: whether the call holds one of its probe slots. */
  probes: boolean[];
  /** Every budget's rolls and cool-downs first, then the trips. */
  transitions: Transition[];
}

/**
 * Admits a call against every budget it matches, all or nothing: rolls each fuse
 * into the current window and decides; trips the budgets whose limit is reached
 * whether or not the call passes (a limit reached is a fact); and, only when no
 * `block` budget blocks, takes the probe slots.
 */
export function admitCall(entries: readonly CallEntry[], now: number): CallAdmission {
  const transitions: Transition[] = [];
  const steps = entries.map(({ budget, fuse, account, windowStart }) => {
    const rolled = stepFuse(fuse, { type: 'roll', windowStart }, budget, now);
    const decided = stepFuse(rolled.fuse, { type: 'decide', account }, budget, now);
    transitions.push(...rolled.transitions, ...decided.transitions);
    return decided;
  });
  const admitted = !steps.some(
    (s, i) => s.decision.kind === 'block' && entries[i]!.budget.action === 'block',
  );
  const decided = steps.map((s, i) => {
    if (!s.trip) return s.fuse;
    const { budget, windowStart } = entries[i]!;
    const tripped = stepFuse(s.fuse, { type: 'trip', windowStart }, budget, now);
    transitions.push(...tripped.transitions);
    return tripped.fuse;
  });
  const probes = steps.map((s) => admitted && s.decision.kind === 'probe');
  const fuses = decided.map((fuse, i) =>
    probes[i] ? stepFuse(fuse, { type: 'probe' }, entries[i]!.budget, now).fuse : fuse,
  );
  return {
    admitted,
    decisions: steps.map((s) => s.decision),
    decided,
    fuses,
    probes,
    transitions,
  };
}
