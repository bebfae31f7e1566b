/**
 * The AWS SDK's `send` returns a plain promise of the command's output; a streamed
 * output carries an async iterable (`stream` for ConverseStream, `body` for
 * InvokeModelWithResponseStream), replaced here by one that iterates through the
 * wrapper, so the stream ends the call when it finishes and releases it when abandoned.
 */

import { observePlainPromise } from '../plain-promise.js';
import type { SdkPromises } from '../sdk-adapter.js';
import { isObject } from './read.js';

type AsyncIterableLike = { [Symbol.asyncIterator]: () => AsyncIterator<unknown> };

function isAsyncIterable(value: unknown): value is AsyncIterableLike {
  return (
    isObject(value) &&
    !(value instanceof Uint8Array) &&
    typeof (value as Partial<AsyncIterableLike>)[Symbol.asyncIterator] === 'function'
  );
}

export const bedrockPromises: SdkPromises = {
  attach(returned, call) {
    if (!(returned instanceof Promise)) return undefined;
    return observePlainPromise(returned, call);
  },
  wrapStream(result, observer) {
    if (!isObject(result)) return undefined;
    const field = isAsyncIterable(result.stream)
      ? 'stream'
      : isAsyncIterable(result.body)
        ? 'body'
        : undefined;
    if (field === undefined) return undefined;
    const inner = result[field] as AsyncIterableLike;
    // In place, as the caller reads it: `for await (const event of output.stream)`.
    result[field] = {
      [Symbol.asyncIterator]: () => observer.observeIterator(inner[Symbol.asyncIterator]()),
    };
    return result;
  },
  rejected: (_thisArg, err) => Promise.reject(err),
  deferred: (_thisArg, ready, send) => ready.then((value) => send(value, undefined)),
};
