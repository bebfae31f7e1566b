/**
 * Where an estimate fell back to a bound instead of reading the call's body, so
 * the runtime can count it (`tokenfuse_estimate_bounded_total{reason}`).
 *
 * The estimates are pure functions deep under the API adapters, called from the
 * fuses and from the accounting of calls without usage; a listener here saves
 * threading a counter through every one of them. A process runs one tokenfuse
 * runtime (the register hook starts it once), whose accountant listens.
 */

/**
 * Why an estimate used a bound:
 * - `max_tokens_invalid`: the call's output limit is no token limit (negative, not
 *   a whole number, not finite); it reserved the model's context window or its
 *   budgets' room.
 * - `text_past_tokenize_bound`: a text past `MAX_TOKENIZED_CHARS` was counted by
 *   its length bound (3 tokens a character), not tokenized.
 */
export type EstimateBoundReason = 'max_tokens_invalid' | 'text_past_tokenize_bound';

/** Every {@link EstimateBoundReason}, so each is exported (at 0) from the start. */
export const ESTIMATE_BOUND_REASONS: readonly EstimateBoundReason[] = [
  'max_tokens_invalid',
  'text_past_tokenize_bound',
];

const listeners = new Set<(reason: EstimateBoundReason) => void>();

/** Calls `listener` on every bounded estimate; returns the unsubscribe function. */
export function onEstimateBounded(listener: (reason: EstimateBoundReason) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Tells every listener; a listener that throws never reaches the estimate (the user's call). */
export function reportEstimateBounded(reason: EstimateBoundReason): void {
  for (const listener of listeners) {
    try {
      listener(reason);
    } catch {
      // counting is best effort; the estimate and the call go on
    }
  }
}
