import { randomUUID } from 'node:crypto';
import type { Budget } from '../budgets/budget.js';
import { MatchCache } from '../budgets/match-cache.js';
import { internalError } from '../internal-errors.js';
import type { Tags } from '../types.js';
import type { Admission } from './admission.js';
import type { OutputAverages } from './admission-estimate.js';
import type { FuseEvents } from './fuse-events.js';
import {
  type FuseStore,
  isPromise,
  type MaybePromise,
  type SeenClosed,
  type SettleOutcome,
} from './fuse-store.js';

/** What settlement shares with the board that admitted the calls. */
export interface SettlementParts {
  budgets: readonly Budget[];
  store: FuseStore;
  events: FuseEvents;
  /** Learns each model's output length from settled calls, for the next estimates. */
  outputs: OutputAverages;
  now: () => number;
  /** Per-value budgets replaced by the budgets of the call's values. */
  expand: (budgets: readonly Budget[], call: { tags: Tags }, now: number) => readonly Budget[];
  /** Notes a value's state, when a quiet settlement has nothing else to report. */
  seen: SeenClosed;
}

/**
 * The write side of the board, after the call: an admitted call's reservation
 * replaced by what it used, and spend no admission saw added; then the
 * thresholds and fuse changes the store reports. Nothing here throws: a failure
 * is logged and the user's call goes on.
 */
export class Settlement {
  private readonly parts: SettlementParts;
  /** The budgets that count observed spend, matched once per attribution set. */
  private readonly observing: MatchCache;

  constructor(parts: SettlementParts) {
    this.parts = parts;
    this.observing = new MatchCache(parts.budgets.filter((b) => b.observedSpend === 'count'));
  }

  /** See `FuseBoard.settle`. */
  settle(
    admission: Admission,
    actual: { tokens: number; usd: number; outputTokens?: number; estimated?: boolean },
  ): void {
    try {
      const now = this.parts.now();
      if (actual.outputTokens !== undefined && !actual.estimated)
        this.parts.outputs.observe(admission.model, actual.outputTokens);
      const { budgets } = admission;
      if (budgets.length === 0) return;
      const outcome = this.parts.store.settle({
        now,
        budgets,
        ticket: admission.ticket,
        actual: { tokens: actual.tokens, usd: actual.usd, requests: 1 },
        quiet: true,
        seen: this.parts.seen,
      });
      this.afterSettle(budgets, outcome, now);
    } catch (err) {
      internalError('settlement', 'settling a call against its budgets failed', err);
    }
  }

  /** See `FuseBoard.observe`. */
  observe(
    call: { tags: Tags; provider: string; model: string },
    actual: { tokens: number; usd: number },
  ): void {
    try {
      const { tags, provider, model } = call;
      const now = this.parts.now();
      const budgets = this.parts.expand(this.observing.matched(tags, provider, model), call, now);
      if (budgets.length === 0) return;
      const amounts = { tokens: actual.tokens, usd: actual.usd, requests: 1 };
      const outcome = this.parts.store.observe({
        now,
        budgets,
        id: randomUUID(),
        actual: amounts,
        quiet: true,
        seen: this.parts.seen,
      });
      this.afterSettle(budgets, outcome, now);
    } catch (err) {
      internalError('settlement', 'recording observed spend against its budgets failed', err);
    }
  }

  /** Reports a settlement's thresholds and fuse changes, once the store has answered. */
  private afterSettle(
    budgets: readonly Budget[],
    outcome: MaybePromise<SettleOutcome | undefined>,
    now: number,
  ): void {
    if (isPromise(outcome)) {
      outcome.then(
        (o) => this.afterSettle(budgets, o, this.parts.now()),
        (err: unknown) =>
          internalError('settlement', 'settling spend against its budgets failed', err),
      );
      return;
    }
    if (outcome === undefined) return;
    try {
      // Thresholds first, then the fuse: a settlement that reaches the limit reports
      // the crossing before the trip, as an operator reads them.
      const { events } = this.parts;
      for (const [i, budget] of budgets.entries())
        events.crossed(budget, outcome.states[i]!, outcome.crossed[i] ?? [], now);
      events.report(budgets, outcome, now);
    } catch (err) {
      internalError('settlement', 'reporting a settlement failed', err);
    }
  }
}
