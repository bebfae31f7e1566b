import { type Budget, type Unit, windowLabel } from '../budgets/budget.js';
import { raisedLimit, utilization } from '../budgets/rules.js';
import type { BlockedCallError } from '../errors/blocked-call-error.js';
import type { Tags } from '../types.js';
import { EventSource, type Subscribe } from './events.js';
import type { FuseState } from './fuse.js';
import type { BudgetState, ReadOutcome, Transition } from './fuse-store.js';

export interface TripEvent {
  budget: string;
  window: string;
  unit: Unit;
  spent: number;
  limit: number;
  action: 'block' | 'monitor';
  at: Date;
}
export interface ResetEvent {
  budget: string;
  /** `window` when a new window began, `room` when probes found room, `manual` for `reset()`. */
  cause: 'window' | 'room' | 'manual';
  at: Date;
}
/** What an operator did by hand: `isolate`, `reset`, or `raise` (the limits, for the rest of the window). */
export type ManualActionName = 'isolate' | 'reset' | 'raise';

export interface StateChangeEvent {
  budget: string;
  /** Equal to `to` for a manual action that left the state as it was (a raise, a reset of a closed fuse). */
  from: FuseState;
  to: FuseState;
  /**
   * Why: `trip` (the limit was reached), `cooldown` (open → half-open), `window` (a new
   * window), `room` (the probes found room), or `manual` (isolate, reset or raise by hand).
   */
  cause: 'trip' | 'cooldown' | 'window' | 'room' | 'manual';
  /** For `cause: 'manual'`: what was done, who did it and why, as they said (`--by`, `--reason`). */
  action?: ManualActionName;
  by?: string;
  reason?: string;
  at: Date;
}
export interface ThresholdEvent {
  budget: string;
  /** The threshold crossed (0.5, 0.75, …). */
  threshold: number;
  utilization: number;
  unit: Unit;
  spent: number;
  limit: number;
  window: string;
  match: Budget['match']['spec'];
  at: Date;
}
export interface BlockedEvent {
  budget: string;
  reason: BlockedCallError['reason'];
  model: string;
  tags: Tags;
  /** Monitor budgets report what they would have blocked; the call went ahead. */
  enforced: boolean;
  at: Date;
}

/** Looks a budget's state up by name, among the states a store answered with. */
type StateOf = (name: string) => BudgetState | undefined;

/** A {@link StateOf} over `states`, which a store gives in the order of `budgets`. */
function stateOf(budgets: readonly Budget[], states: readonly BudgetState[]): StateOf {
  return (name) => {
    const i = budgets.findIndex((b) => b.name === name);
    return i < 0 ? undefined : states[i];
  };
}

/**
 * The board's five event streams, and the one place that turns what a store did
 * (transitions, crossed thresholds) into them. Events fire in the process that
 * observed the transition.
 */
export class FuseEvents {
  private readonly trips = new EventSource<TripEvent>();
  private readonly resets = new EventSource<ResetEvent>();
  private readonly changes = new EventSource<StateChangeEvent>();
  private readonly thresholds = new EventSource<ThresholdEvent>();
  private readonly blocks = new EventSource<BlockedEvent>();

  readonly onTrip: Subscribe<TripEvent> = this.trips.subscribe;
  readonly onReset: Subscribe<ResetEvent> = this.resets.subscribe;
  readonly onStateChange: Subscribe<StateChangeEvent> = this.changes.subscribe;
  readonly onThreshold: Subscribe<ThresholdEvent> = this.thresholds.subscribe;
  readonly onBlocked: Subscribe<BlockedEvent> = this.blocks.subscribe;

  /**
   * @param byName the board's budgets, for what a trip reports.
   * @param seen told every state reported (per-value budgets keep their values' utilisation).
   */
  constructor(
    private readonly byName: ReadonlyMap<string, Budget>,
    private readonly seen?: (budgets: readonly Budget[], states: readonly BudgetState[]) => void,
  ) {}

  /** A call to `model` with `tags` was blocked by `budget` (a budget or a policy), or would have been (`enforced` false). */
  blocked(
    budget: string,
    reason: BlockedEvent['reason'],
    call: { model: string; tags: Tags },
    enforced: boolean,
    now: number,
  ): void {
    this.blocks.emit({
      budget,
      reason,
      model: call.model,
      tags: call.tags,
      enforced,
      at: new Date(now),
    });
  }

  /** Reports what a store did to `budgets` (its answer's states are theirs, in order); returns the answer. */
  report<T extends ReadOutcome>(budgets: readonly Budget[], outcome: T, now: number): T {
    this.seen?.(budgets, outcome.states);
    this.transitions(outcome.transitions, stateOf(budgets, outcome.states), now);
    return outcome;
  }

  /**
   * Reports a manual action on `budget` (the store's answer to it): each transition it
   * made is a `manual` state change naming the action, who and why; an action that
   * changed no state (a raise) is still one event, from and to the state it left.
   */
  manual(
    budget: Budget,
    outcome: ReadOutcome,
    detail: { action: ManualActionName; by?: string | undefined; reason?: string | undefined },
    now: number,
  ): void {
    const note = {
      action: detail.action,
      ...(detail.by !== undefined ? { by: detail.by } : {}),
      ...(detail.reason !== undefined ? { reason: detail.reason } : {}),
    };
    const own = outcome.transitions.filter(
      (t) => t.budget === budget.name && (t.cause === 'manual' || t.cause === 'isolate'),
    );
    this.transitions(outcome.transitions, stateOf([budget], outcome.states), now, note);
    const state = outcome.states[0]?.fuse.state;
    if (own.length === 0 && state !== undefined)
      this.changes.emit({
        budget: budget.name,
        from: state,
        to: state,
        cause: 'manual',
        ...note,
        at: new Date(now),
      });
  }

  /** Turns a store's transitions into events, in the order they happened. */
  transitions(
    transitions: readonly Transition[],
    stateOfBudget: StateOf,
    now: number,
    manual?: { action: ManualActionName; by?: string; reason?: string },
  ): void {
    for (const t of transitions) {
      const at = new Date(now);
      const byHand = t.cause === 'manual' || t.cause === 'isolate';
      this.changes.emit({
        budget: t.budget,
        from: t.from,
        to: t.to,
        cause: byHand ? 'manual' : (t.cause as StateChangeEvent['cause']),
        ...(byHand && manual !== undefined ? manual : {}),
        at,
      });
      if (t.to === 'closed' && (t.cause === 'window' || t.cause === 'room' || t.cause === 'manual'))
        this.resets.emit({ budget: t.budget, cause: t.cause, at });
      const budget = this.byName.get(t.budget);
      const s = stateOfBudget(t.budget);
      if (t.cause === 'trip' && budget !== undefined && s !== undefined) {
        const limit = raisedLimit(budget.limit, s.granted);
        const u = utilization(limit, s);
        this.trips.emit({
          budget: budget.name,
          window: windowLabel(budget.window),
          unit: u.unit,
          spent: s.spent[u.unit],
          limit: limit[u.unit]!,
          action: budget.action,
          at,
        });
      }
    }
  }

  /** The thresholds one settlement crossed in `budget`, with its state after it. */
  crossed(budget: Budget, s: BudgetState, thresholds: readonly number[], now: number): void {
    if (thresholds.length === 0) return;
    const limit = raisedLimit(budget.limit, s.granted);
    const u = utilization(limit, s);
    for (const threshold of thresholds) {
      this.thresholds.emit({
        budget: budget.name,
        threshold,
        utilization: u.value,
        unit: u.unit,
        spent: s.spent[u.unit],
        limit: limit[u.unit]!,
        window: windowLabel(budget.window),
        match: budget.match.spec,
        at: new Date(now),
      });
    }
  }
}
