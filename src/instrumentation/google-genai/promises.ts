/**
 * `@google/genai`'s promise and stream types: plain promises (async methods, no
 * `APIPromise` helpers to keep) and async generators. A stream is handed to the
 * caller as an async iterator delegating to the observed one: the caller's
 * `return()` (a `break`, an abandoned stream) reaches it, which ends the span,
 * settles the reservation, and closes the SDK's response. Not an async generator of
 * our own: that would add a promise and a generator step to every chunk.
 */

import { observePlainPromise } from '../plain-promise.js';
import type { SdkPromises } from '../sdk-adapter.js';

function isPromise(value: unknown): value is Promise<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/** An SDK stream: an async iterator (the SDK's async generator), not a response object. */
function isAsyncStream(value: unknown): value is AsyncIterableIterator<unknown> {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { next?: unknown }).next === 'function' &&
    typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function'
  );
}

/**
 * The prototype every async generator's prototype chain ends in: it gives an object
 * `[Symbol.asyncIterator]() { return this }` and, where the runtime has it,
 * `[Symbol.asyncDispose]` (`await using`), as the SDK's own generator has.
 */
const AsyncIteratorPrototype: object = Object.getPrototypeOf(
  Object.getPrototypeOf(async function* () {}.prototype),
);

/** What the caller iterates: each step goes straight to the observed iterator. */
function delegating(observed: AsyncIterator<unknown>): AsyncIterableIterator<unknown> {
  const stream = Object.create(AsyncIteratorPrototype) as AsyncIterableIterator<unknown>;
  // The observed iterator's `next()` takes no value (a generator's first `next(value)` is
  // dropped anyway): no rest array and spread per chunk.
  stream.next = () => observed.next();
  stream.return = (value?: unknown) =>
    observed.return ? observed.return(value) : Promise.resolve({ done: true, value });
  stream.throw = (err?: unknown) => (observed.throw ? observed.throw(err) : Promise.reject(err));
  return stream;
}

export const genaiPromises: SdkPromises = {
  attach(returned, call) {
    if (!isPromise(returned)) return undefined;
    return observePlainPromise(returned, call);
  },
  wrapStream(result, observer) {
    if (!isAsyncStream(result)) return undefined;
    return delegating(observer.observeIterator(result[Symbol.asyncIterator]()));
  },
  rejected: (_thisArg, err) => Promise.reject(err),
  deferred(_thisArg, ready, send) {
    const view: Promise<unknown> = ready.then((value) => send(value, view));
    return view;
  },
};
