/**
 * `@google/genai`'s promise and stream types: plain promises (async methods, no
 * `APIPromise` helpers to keep) and async generators. A stream is handed to the
 * caller as the observed iterator itself: the caller's `return()` (a `break`, an
 * abandoned stream) reaches it, which ends the span, settles the reservation, and
 * closes the SDK's response. Not an async generator of our own, nor an object
 * delegating to the observed iterator: each would add work to every chunk.
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

export const genaiPromises: SdkPromises = {
  attach(returned, call) {
    if (!isPromise(returned)) return undefined;
    return observePlainPromise(returned, call);
  },
  wrapStream(result, observer) {
    if (!isAsyncStream(result)) return undefined;
    // The observed iterator itself: an async iterator with `[Symbol.asyncDispose]`.
    return observer.observeIterator(result[Symbol.asyncIterator]());
  },
  rejected: (_thisArg, err) => Promise.reject(err),
  deferred(_thisArg, ready, send) {
    const view: Promise<unknown> = ready.then((value) => send(value, view));
    return view;
  },
};
