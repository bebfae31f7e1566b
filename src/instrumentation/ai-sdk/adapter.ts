/**
 * The AI SDK as the generic wrapper sees it. It is not patched: its middleware
 * (`middleware.ts`) calls each model call through the wrapper, with the wrapped
 * model as `this` and the call options as the only argument. Its promises are
 * plain ones, and a stream result is `{ stream: ReadableStream<part>, … }`.
 */

import { observePlainPromise } from '../plain-promise.js';
import type { SdkAdapter, SdkPromises } from '../sdk-adapter.js';
import type { AiSdkBody } from './operations.js';
import { providerOfModel } from './provider.js';

type Obj = Record<string, any>;

function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null;
}

function isPlainObject(value: unknown): value is Obj {
  if (!isObj(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * The `ai` versions whose middleware shape the middleware knows: language-model spec v3
 * (`ai` 6) and v2 (`ai` 5), both run by the shared behaviour suite.
 */
export const SUPPORTED_AI_VERSIONS = ['>=5.0.0 <7'];

/** The adapter for one middleware: `provider` (its option) names the provider for every model. */
export function aiSdkAdapter(provider: string | undefined): SdkAdapter<undefined> {
  return {
    module: { name: 'ai', versions: SUPPORTED_AI_VERSIONS },
    createSession: () => undefined,
    // Nothing to patch: calls arrive through the middleware.
    load: () => undefined,
    readRequest(thisArg, args) {
      const model = (isObj(thisArg) ? thisArg : {}) as Obj;
      const params = (isObj(args[0]) ? args[0] : {}) as Obj;
      const headers = params.headers;
      const body: AiSdkBody = {
        modelId: typeof model.modelId === 'string' ? model.modelId : undefined,
        params,
      };
      return {
        body,
        headers,
        // The AI SDK passes headers as a plain record (`Record<string, string | undefined>`).
        headersReadable: headers === undefined || isPlainObject(headers),
        // No client: a model has no API key or default headers the wrapper could read
        // (its provider package keeps them to itself), and the model names its provider.
        client: undefined,
        provider: providerOfModel(model.provider, provider),
      };
    },
    rebuildArgs(args, body, headers) {
      const params = (body as AiSdkBody).params;
      return [{ ...params, headers }, ...args.slice(1)];
    },
  };
}

/** Plain promises; a stream result's `stream` is re-wrapped around the observed iteration. */
export const aiSdkPromises: SdkPromises = {
  attach(returned, call) {
    if (!isObj(returned) || typeof (returned as Obj).then !== 'function') return undefined;
    return observePlainPromise(returned as Promise<unknown>, call);
  },
  wrapStream(result, observer) {
    if (!isObj(result)) return undefined;
    const stream = result.stream as ReadableStream<unknown> | undefined;
    if (!isObj(stream) || typeof (stream as Obj).getReader !== 'function') return undefined;
    return { ...result, stream: readableOf(observer.observeIterator(iteratorOf(stream))) };
  },
  rejected: (_thisArg, err) => Promise.reject(err),
  deferred: (_thisArg, ready, send) => ready.then((value) => send(value, undefined)),
};

/** Reads a ReadableStream as an iterator whose `return()` cancels it (and so the request). */
function iteratorOf(stream: ReadableStream<unknown>): AsyncIterator<unknown> {
  const reader = stream.getReader();
  return {
    // A read result is already an iterator result (`{ done, value }`): handed on as it is,
    // with no promise or object of our own per part.
    next: () => reader.read() as Promise<IteratorResult<unknown>>,
    async return(value?: unknown) {
      await reader.cancel().catch(() => undefined);
      return { done: true, value };
    },
    async throw(err?: unknown) {
      await reader.cancel(err).catch(() => undefined);
      throw err;
    },
  };
}

/**
 * The caller's stream: pulls from the observed iterator one part per read, so a
 * cancel (an abandoned `streamText`) reaches `return()` and ends the call.
 */
function readableOf(iterator: AsyncIterator<unknown>): ReadableStream<unknown> {
  // Made once per stream, not per part: the controller is the same at every pull.
  let onPart: ((r: IteratorResult<unknown>) => void) | undefined;
  let onError: ((err: unknown) => void) | undefined;
  return new ReadableStream<unknown>(
    {
      start(controller) {
        onPart = (r) => {
          if (r.done) controller.close();
          else controller.enqueue(r.value);
        };
        onError = (err) => controller.error(err);
      },
      // The iterator's own promise, not an async function's around it: one promise per part.
      pull(controller) {
        let next: Promise<IteratorResult<unknown>>;
        try {
          next = iterator.next();
        } catch (err) {
          controller.error(err);
          return;
        }
        return next.then(onPart, onError);
      },
      async cancel(reason) {
        await iterator.return?.(reason);
      },
    },
    { highWaterMark: 0 },
  );
}
