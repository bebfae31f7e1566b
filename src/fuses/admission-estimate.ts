import type { ApiAdapter } from '../instrumentation/api-adapters.js';

/**
 * Token estimates for reserving budget before a call is sent.
 *
 * Input: a UTF-16 code unit is at most 3 UTF-8 bytes and a token is at least one
 * byte, so 3 × characters (plus message framing) bounds the input tokens without
 * reading the text. That bound is used while the budget has room for it; only when
 * the room left is smaller does the prompt get tokenized, so the common case costs
 * no tokenizing and the reservation is never below the real count.
 *
 * Output: `max_tokens` / `max_completion_tokens` / `max_output_tokens` when the call
 * sets one (a true bound), otherwise a running average of that model's outputs.
 */
export interface CallEstimate {
  /** Upper bound of input tokens, from lengths alone. */
  inputUpperBound: number;
  /** Exact input tokens; computed on demand. */
  exactInput(): number;
  /** Output tokens to reserve. */
  output: number;
  /** Whether `output` is a bound set by the call (the overshoot guarantee needs it). */
  outputBounded: boolean;
}

const FRAMING_PER_MESSAGE = 3;
const DEFAULT_OUTPUT_GUESS = 256;

function textLength(value: unknown): number {
  if (typeof value === 'string') return value.length;
  if (Array.isArray(value)) {
    let n = 0;
    for (const item of value) n += textLength(item);
    return n;
  }
  if (value && typeof value === 'object') {
    const v = value as { text?: unknown; content?: unknown; input?: unknown };
    return textLength(v.text) + textLength(v.content) + textLength(v.input);
  }
  return 0;
}

function inputOf(body: any): { chars: number; messages: number } {
  if (Array.isArray(body?.messages)) {
    let chars = 0;
    for (const m of body.messages) chars += textLength(m?.content);
    return { chars, messages: body.messages.length };
  }
  const input = body?.input;
  const messages = Array.isArray(input) ? input.length : 1;
  return { chars: textLength(input) + textLength(body?.instructions), messages };
}

export class OutputAverages {
  private readonly averages = new Map<string, number>();

  get(model: string): number {
    return this.averages.get(model) ?? DEFAULT_OUTPUT_GUESS;
  }

  /** Exponentially weighted: recent calls count most. */
  observe(model: string, outputTokens: number): void {
    // Usage is validated where it enters; this guard keeps one bad number from
    // ever sticking in the average (an EWMA never forgets Infinity or NaN).
    if (!Number.isFinite(outputTokens) || outputTokens < 0) return;
    const prev = this.averages.get(model);
    this.averages.set(model, prev === undefined ? outputTokens : prev * 0.8 + outputTokens * 0.2);
  }
}

export function estimateCall(
  adapter: ApiAdapter,
  body: any,
  model: string,
  averages: OutputAverages,
): CallEstimate {
  const { chars, messages } = inputOf(body);
  const max = adapter.maxOutputTokens(body);
  let exact: number | undefined;
  return {
    inputUpperBound: 3 * chars + FRAMING_PER_MESSAGE * (messages + 1),
    exactInput: () => {
      exact ??= adapter.estimateInputTokens(body);
      return exact;
    },
    output: adapter.operation === 'embeddings' ? 0 : (max ?? Math.ceil(averages.get(model))),
    outputBounded: adapter.operation === 'embeddings' || max !== undefined,
  };
}
