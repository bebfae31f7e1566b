import { diag } from '@opentelemetry/api';
import { reportEstimateBounded } from '../pricing/estimate-bounds.js';

/**
 * Token estimates for reserving budget before a call is sent.
 *
 * Input: every part of the body the provider bills as input (messages, tool and
 * function schemas, response formats, predicted output, …; see `BilledInput`). A
 * UTF-16 code unit is at most 3 UTF-8 bytes and a token is at least one byte, so
 * 3 × characters (plus message framing) bounds the input tokens without reading the
 * text. That bound is used while the budget has room for it; only when the room
 * left is smaller does the body get tokenized (at most `MAX_TOKENIZED_CHARS` of it),
 * so the common case costs no tokenizing.
 *
 * Output: `max_tokens` / `max_completion_tokens` / `max_output_tokens` (× `n`) when
 * the call sets one (a true bound), otherwise a running average of that model's
 * outputs. A value that is no limit at all (negative, fractional, not finite)
 * reserves the model's context window, which no output exceeds, or, for a model
 * the catalog does not know, the rest of each budget's room (`takesRoom`).
 */
/**
 * The output limit of a call: none set, a valid one (output tokens across all
 * choices), or a value no provider accepts as a limit (negative, not an integer,
 * not finite, not a number), which bounds nothing.
 */
export type MaxOutput =
  | { kind: 'unset' }
  | { kind: 'set'; tokens: number }
  | { kind: 'invalid'; field: string; value: unknown };

/**
 * A call's request in numbers, read from its body by the SDK's adapter before
 * admission: the fuse layer never sees an SDK body.
 */
export interface RequestEstimate {
  /** Upper bound of input tokens, from lengths alone. */
  inputUpperBound: number;
  /** Input tokens, tokenized within the call path's bound; called only when needed. */
  exactInput(): number;
  /** The body holds input the bound cannot see (files or ids it only refers to). */
  inputUnseen: boolean;
  /** The output limit the call sets (embeddings: a set limit of 0). */
  maxOutput: MaxOutput;
}

export interface CallEstimate {
  /** Upper bound of input tokens, from lengths alone. */
  inputUpperBound: number;
  /** Input tokens, tokenized within the call path's bound; computed on demand. */
  exactInput(): number;
  /** Output tokens to reserve. */
  output: number;
  /** Whether `output` is a bound set by the call (the overshoot guarantee needs it). */
  outputBounded: boolean;
  /**
   * The body bounds nothing (input it only refers to, or an invalid output limit
   * for a model of unknown size): the call reserves all the room each budget has left.
   */
  takesRoom: boolean;
}

const DEFAULT_OUTPUT_GUESS = 256;

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

let invalidLimitLogged = false;

/**
 * @param maxOutputOf the model's largest possible output (its context window), when known
 */
export function estimateCall(
  request: RequestEstimate,
  model: string,
  averages: OutputAverages,
  maxOutputOf: (model: string) => number | undefined = () => undefined,
): CallEstimate {
  const max = request.maxOutput;
  let output: number;
  let takesRoom = request.inputUnseen;
  let outputBounded = max.kind === 'set';
  if (max.kind === 'set') output = max.tokens;
  else if (max.kind === 'unset') output = Math.ceil(averages.get(model));
  else {
    const modelMax = maxOutputOf(model);
    output = modelMax ?? 0;
    if (modelMax === undefined) takesRoom = true;
    else outputBounded = true;
    reportEstimateBounded('max_tokens_invalid');
    if (!invalidLimitLogged) {
      invalidLimitLogged = true;
      diag.warn(
        `tokenfuse: ${max.field}: ${typeof max.value === 'number' ? String(max.value) : `a ${typeof max.value}`} in a call to ${JSON.stringify(model)} is not a token limit; ` +
          `the call reserves ${modelMax === undefined ? "the rest of its budgets' room" : `the model's context window (${modelMax} tokens)`}. ` +
          `Counted in tokenfuse_estimate_bounded_total{reason="max_tokens_invalid"}; logged once`,
      );
    }
  }
  return new Estimate(request, output, outputBounded, takesRoom);
}

/** A class, not a literal with a closure: one object per call, and the count tokenized once. */
class Estimate implements CallEstimate {
  readonly inputUpperBound: number;
  private exact: number | undefined;

  constructor(
    private readonly request: RequestEstimate,
    readonly output: number,
    readonly outputBounded: boolean,
    readonly takesRoom: boolean,
  ) {
    this.inputUpperBound = request.inputUpperBound;
  }

  exactInput(): number {
    this.exact ??= this.request.exactInput();
    return this.exact;
  }
}
