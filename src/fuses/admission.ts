/**
 * An admission, as the board and the instrumentation exchange it: what a call
 * asks of its budgets (in numbers, never an SDK body), what it holds once
 * admitted, and how much it reserves.
 */
import type { Amounts, Budget } from '../budgets/budget.js';
import { fits, raisedLimit } from '../budgets/rules.js';
import type { BlockedCallError } from '../errors/blocked-call-error.js';
import type { PriceBook } from '../pricing/price-book.js';
import type { Tags } from '../types.js';
import type { CallEstimate, RequestEstimate } from './admission-estimate.js';
import type { BudgetDecision, BudgetState } from './fuse-store.js';

/** What a call needs to be admitted: its attribution and its request in numbers. */
export interface CallDescription extends RequestEstimate {
  tags: Tags;
  /** Id of the SDK client's API key (`tokenfuse.api_key.id`), for budgets `per: apiKey`. */
  apiKey?: string | undefined;
  provider: string;
  model: string;
}

/** An admitted call's claim on its budgets, handed back at settlement. */
export interface Admission {
  /** Each matched budget, in order. */
  budgets: readonly Budget[];
  /** What is reserved in each of {@link budgets}, in the same order. */
  reserved: readonly Amounts[];
  /** Budgets this call is a half-open probe of. */
  probes: string[];
  /** Monitor budgets that would have blocked this call. */
  wouldBlock: string[];
  model: string;
  provider: string;
  outputBounded: boolean;
  /** Budgets whose streams are cut off when they go over. */
  cutOff: Budget[];
  /** Input tokens reserved (the length bound or the exact count). */
  inputTokens: number;
  /** The store's claim (opaque here). */
  ticket: unknown;
}

/** An admission that holds nothing yet (nor ever, for a call that matches no budget). */
export function emptyAdmission(provider: string, model: string): Admission {
  return {
    budgets: [],
    reserved: [],
    probes: [],
    wouldBlock: [],
    model,
    provider,
    outputBounded: true,
    cutOff: [],
    inputTokens: 0,
    ticket: undefined,
  };
}

/** `admission`, holding what the store admitted: the reservation in every budget, its probes, its streams to cut off. */
export function holding(
  admission: Admission,
  matched: readonly Budget[],
  admitted: { decisions: readonly BudgetDecision[]; ticket: unknown },
  amounts: readonly Amounts[],
): Admission {
  admitted.decisions.forEach((decision, i) => {
    const budget = matched[i]!;
    if (decision.kind === 'probe') admission.probes.push(budget.name);
    if (budget.cutOffStreams && budget.action === 'block') admission.cutOff.push(budget);
  });
  admission.budgets = matched;
  admission.reserved = amounts.map((a) => ({ ...a }));
  admission.ticket = admitted.ticket;
  return admission;
}

/**
 * `admission`, holding `amounts` in every one of `matched` (a store's fast path:
 * every budget admitted, no probe); `amounts` is shared by all and never changed.
 */
export function holdingClear(
  admission: Admission,
  matched: readonly Budget[],
  amounts: Amounts,
  ticket: unknown,
): Admission {
  // One pass, and a packed array (`new Array(n).fill` is a holey one, and slower to fill).
  const reserved: Amounts[] = [];
  for (const budget of matched) {
    reserved.push(amounts);
    if (budget.cutOffStreams && budget.action === 'block') admission.cutOff.push(budget);
  }
  admission.budgets = matched;
  admission.reserved = reserved;
  admission.ticket = ticket;
  return admission;
}

export type AdmissionResult =
  | { admitted: Admission }
  | { blocked: BlockedCallError; wouldBlock: string[] };

/** What a call reserves in the budgets it matches. */
export interface Reservation {
  /** Per matched budget, in their order. */
  amounts: Amounts[];
  /** Input tokens reserved (the length bound or the exact count). */
  inputTokens: number;
  /** Whether the output reserved is a bound the call set. */
  outputBounded: boolean;
}

/**
 * Sizes a call's reservation from its estimate, against the matched budgets'
 * states as last seen (for a shared store: the reservation is never below the
 * real count either way). `usd` prices input and output tokens of the call's model.
 */
export function reservation(
  estimate: CallEstimate,
  matched: readonly Budget[],
  states: readonly BudgetState[],
  usd: (input: number, output: number) => number,
): Reservation {
  const amountsFor = (inputTokens: number): Amounts => ({
    tokens: inputTokens + estimate.output,
    usd: usd(inputTokens, estimate.output),
    requests: 1,
  });
  let input = estimate.inputUpperBound;
  let amounts = amountsFor(input);
  // Tokenize only when the length bound does not fit in what is left.
  if (states.some((s, i) => !fits(raisedLimit(matched[i]!.limit, s.granted), s, amounts))) {
    input = estimate.exactInput();
    amounts = amountsFor(input);
  }
  return {
    // A call the body does not bound holds every limited unit's remaining room.
    amounts: matched.map((budget, i) =>
      estimate.takesRoom ? withRoom(budget, states[i]!, amounts) : amounts,
    ),
    inputTokens: input,
    outputBounded: estimate.outputBounded,
  };
}

/** What `input` and `output` tokens of a model cost, as a reservation counts them (no cache, no reasoning). */
export function reservedUsd(
  prices: PriceBook,
  provider: string,
  model: string,
  input: number,
  output: number,
): number {
  return prices.price(provider, model, { input, cacheRead: 0, cacheWrite: 0, output, reasoning: 0 })
    .usd;
}

/** `amounts`, raised to what is left of the token and USD limits (a call is one request, whatever its body). */
function withRoom(budget: Budget, s: BudgetState, amounts: Amounts): Amounts {
  const out = { ...amounts };
  const limit = raisedLimit(budget.limit, s.granted);
  for (const u of ['tokens', 'usd'] as const) {
    const l = limit[u];
    if (l !== undefined) out[u] = Math.max(out[u], l - s.spent[u] - s.reserved[u]);
  }
  return out;
}
