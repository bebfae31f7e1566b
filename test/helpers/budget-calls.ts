// Calls with known token counts, and the rejection they end in, for the budget suites.

import type { BudgetOptions } from '../../src/budget-options.js';
import type { CallDescription } from '../../src/fuses/admission.js';

/**
 * A chat call whose usage the fake server makes exact: a one-word user message is
 * 1 + 3 = 4 prompt tokens and the reply has exactly max_tokens words, so it uses
 * 4 + maxTokens tokens.
 */
export const x = (maxTokens: number) => ({
  model: 'gpt-4.1',
  messages: [{ role: 'user' as const, content: 'x' }],
  max_tokens: maxTokens,
});

/**
 * 30 tokens an hour for marketing: `x(10)` (14) then `x(12)` (16) reach it exactly, and the
 * next marketing call is blocked.
 */
export const MARKETING_HOURLY_30: BudgetOptions = {
  name: 'marketing-hourly',
  match: { department: 'marketing' },
  window: 'hour',
  limit: { tokens: 30 },
};

/** The error a call is rejected with; fails the test when the call succeeds. */
export async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected the call to be blocked');
    },
    (err: unknown) => err,
  );
}

/**
 * A call as the `fuses` API takes it (what the instrumentation describes before sending):
 * it reserves 100 input + 50 output tokens.
 */
export const RESERVES_150: CallDescription = {
  tags: {},
  provider: 'openai',
  model: 'gpt-4.1-mini',
  inputUpperBound: 100,
  exactInput: () => 100,
  inputUnseen: false,
  maxOutput: { kind: 'set', tokens: 50 },
};

/** Whether `fuses.admit()` answered with a promise (a Redis round trip) rather than at once. */
export const isPromise = (v: unknown): boolean =>
  typeof (v as { then?: unknown })?.then === 'function';
