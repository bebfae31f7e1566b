/**
 * The stream iterator an instrumented call hands the caller in place of the SDK's:
 * each chunk goes to the call on its way through, and the stream's end, abandonment
 * or failure ends the call.
 */
import { internalError } from '../internal-errors.js';

/** What the iterator tells about the stream (an `LlmCall`). */
export interface StreamCall {
  /** Reads one chunk; true hides it from the caller. */
  onStreamItem(item: unknown): boolean;
  /** The error to stop the stream with (a budget's cut-off), if any. */
  cutOffError(): Error | undefined;
  onStreamEnd(abandoned: boolean): void;
  fail(err: unknown): void;
}

/**
 * The prototype every async generator's prototype chain ends in: it gives an object
 * `[Symbol.asyncIterator]() { return this }` and, where the runtime has it,
 * `[Symbol.asyncDispose]` (`await using`), as an SDK's own async generator has.
 */
const AsyncIteratorPrototype: object = Object.getPrototypeOf(
  Object.getPrototypeOf(async function* () {}.prototype),
);

/**
 * The stream iterator wrapper: a plain object, not an async generator, so each
 * chunk costs one `.then` (96 bytes) and no extra generator machinery. Its
 * prototype chain ends in the async iterators' own (`await using` works), so an SDK
 * whose stream is a bare async generator (`@google/genai`) is handed this very
 * object, with no delegating object and its call in front of every `next()`.
 */
export class ObservedIterator implements AsyncIterator<unknown>, AsyncIterable<unknown> {
  constructor(
    private readonly inner: AsyncIterator<unknown>,
    private readonly call: StreamCall,
  ) {}

  next(): Promise<IteratorResult<unknown>> {
    return this.inner.next().then(this.onNext, this.onError);
  }

  private readonly onNext = (
    result: IteratorResult<unknown>,
  ): IteratorResult<unknown> | Promise<IteratorResult<unknown>> => {
    if (result.done) {
      this.call.onStreamEnd(false);
      return result;
    }
    let hide = false;
    let cutOff: Error | undefined;
    try {
      hide = this.call.onStreamItem(result.value);
      cutOff = this.call.cutOffError();
    } catch (err) {
      internalError(
        'instrumentation',
        'reading a stream chunk failed; the stream is unaffected',
        err,
      );
    }
    if (cutOff !== undefined) {
      // A deliberate stop: close the upstream request, end the call as failed
      // with what it streamed, and hand the caller the budget error.
      this.call.fail(cutOff);
      void this.inner.return?.().catch(() => undefined);
      throw cutOff;
    }
    return hide ? this.next() : result;
  };

  private readonly onError = (err: unknown): never => {
    this.call.fail(err);
    throw err;
  };

  return(value?: unknown): Promise<IteratorResult<unknown>> {
    this.call.onStreamEnd(true);
    return this.inner.return ? this.inner.return(value) : Promise.resolve({ done: true, value });
  }

  throw(err?: unknown): Promise<IteratorResult<unknown>> {
    this.call.fail(err);
    return this.inner.throw ? this.inner.throw(err) : Promise.reject(err);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

Object.setPrototypeOf(ObservedIterator.prototype, AsyncIteratorPrototype);
