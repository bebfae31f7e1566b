import type { Amounts, Budget, ModelPolicy } from '../budgets/budget.js';
import type { MatchCache } from '../budgets/match-cache.js';
import type { BudgetExceededError } from '../errors/blocked-call-error.js';
import type { PriceBook } from '../pricing/price-book.js';
import {
  type Admission,
  type AdmissionResult,
  type CallDescription,
  emptyAdmission,
  holding,
  holdingClear,
  reservation,
  reservedUsd,
} from './admission.js';
import { estimateCall, type OutputAverages } from './admission-estimate.js';
import { budgetExceeded } from './block-errors.js';
import type { FuseEvents } from './fuse-events.js';
import { type AdmitOutcome, type FuseStore, isPromise, type MaybePromise } from './fuse-store.js';
import { policyRefusal } from './model-policies.js';
import type { PerValueBudgets } from './per-value-budgets.js';

/** What admission shares with the board. */
export interface AdmissionParts {
  policies: readonly ModelPolicy[];
  matching: MatchCache;
  perValue: PerValueBudgets;
  store: FuseStore;
  events: FuseEvents;
  outputs: OutputAverages;
  prices: PriceBook;
  now: () => number;
  /** The first restore from Prometheus, while it has not answered (`ledger.restore`). */
  restoring: () => Promise<unknown> | undefined;
  /** A monitor budget would have blocked a call. */
  wouldBlock: (budget: string) => void;
}

/**
 * The read side of the board, before the call: policies, matching, the estimate,
 * the reservation and the store's decision, turned into an admission or a block.
 *
 * Most calls find every matched budget closed with room to spare. With a store that
 * answers at once (`admitClear`, the in-memory store), such a call takes a fast path:
 * one reservation for all budgets, reserved in one pass, nothing to report; any
 * other case (a fuse not closed, a raise, a budget short of room, a call that
 * takes all the room) takes the full path, which decides the same for the calls
 * the fast path admits.
 */
export class BoardAdmission {
  constructor(private readonly parts: AdmissionParts) {}

  /** See `FuseBoard.admit`. */
  admit(call: CallDescription): MaybePromise<AdmissionResult> {
    const { events, store, prices } = this.parts;
    const now = this.parts.now();
    const { tags, provider, model } = call;

    const refused = policyRefusal(this.parts.policies, tags, provider, model);
    if (refused !== undefined) {
      events.blocked(refused.budget, refused.reason, call, true, now);
      return { blocked: refused, wouldBlock: [] };
    }

    const configured = this.parts.matching.matched(tags, provider, model);
    const matched = this.parts.perValue.expand(configured, call, now);
    const admission = emptyAdmission(provider, model);
    if (matched.length === 0) return { admitted: admission };
    // Until the first restore has answered, the budgets hold only this process's spend.
    const restoring = this.parts.restoring();
    if (restoring !== undefined) return restoring.then(() => this.admit(call));

    // The context window bounds only an invalid output limit: no closure for the others.
    const estimate = estimateCall(
      call,
      model,
      this.parts.outputs,
      call.maxOutput.kind === 'invalid' ? (m) => prices.contextWindow(provider, m) : undefined,
    );
    if (
      store.admitClear !== undefined &&
      !estimate.takesRoom &&
      (matched === configured || store.notesPerValue === true)
    ) {
      const input = estimate.inputUpperBound;
      const amounts: Amounts = {
        tokens: input + estimate.output,
        usd: reservedUsd(prices, provider, model, input, estimate.output),
        requests: 1,
      };
      // Per-value budgets' values are noted as the full path's answer would note them.
      const ticket = store.admitClear(matched, amounts, now, this.parts.perValue.seenClosed);
      if (ticket !== undefined) {
        admission.outputBounded = estimate.outputBounded;
        admission.inputTokens = input;
        return { admitted: holdingClear(admission, matched, amounts, ticket) };
      }
    }

    const seen = events.report(matched, store.peek(matched, now), now);
    const reserved = reservation(estimate, matched, seen.states, (input, output) =>
      reservedUsd(prices, provider, model, input, output),
    );
    admission.outputBounded = reserved.outputBounded;
    admission.inputTokens = reserved.inputTokens;
    const { amounts } = reserved;
    const entries = matched.map((budget, i) => ({ budget, amounts: amounts[i]! }));

    const outcome = store.admit({ now, entries });
    const decide = (o: AdmitOutcome) => this.afterAdmit(call, matched, amounts, admission, o, now);
    return isPromise(outcome) ? outcome.then(decide) : decide(outcome);
  }

  private afterAdmit(
    call: CallDescription,
    matched: readonly Budget[],
    amounts: Amounts[],
    admission: Admission,
    outcome: AdmitOutcome,
    now: number,
  ): AdmissionResult {
    const { events } = this.parts;
    if (outcome.kind === 'unavailable') {
      events.blocked(outcome.error.budget, outcome.error.reason, call, true, now);
      return { blocked: outcome.error, wouldBlock: [] };
    }
    events.report(matched, outcome, now);

    let blocked: BudgetExceededError | undefined;
    outcome.decisions.forEach((decision, i) => {
      if (decision.kind !== 'block') return;
      const budget = matched[i]!;
      if (budget.action === 'monitor') {
        admission.wouldBlock.push(budget.name);
        this.parts.wouldBlock(budget.name);
        events.blocked(budget.name, decision.reason, call, false, now);
      } else if (blocked === undefined) {
        blocked = budgetExceeded(budget, outcome.states[i]!, decision.reason, now);
      }
    });
    if (blocked !== undefined || !outcome.admitted) {
      // A store refuses only when a block budget blocks; the second test is a safeguard.
      blocked ??= budgetExceeded(matched[0]!, outcome.states[0]!, 'reserved', now);
      events.blocked(blocked.budget, blocked.reason, call, true, now);
      return { blocked, wouldBlock: admission.wouldBlock };
    }

    return { admitted: holding(admission, matched, outcome, amounts) };
  }
}
