/**
 * openai's `APIPromise` and `Stream` (Stainless; `@anthropic-ai/sdk` has the same),
 * hooked in place and never replaced, so `.withResponse()`, `.asResponse()`,
 * `_thenUnwrap()` helpers such as `parse()`, and streams' `tee()` keep working,
 * and the body is read once, by the SDK, only when the caller asks.
 */
import { internalError } from '../../internal-errors.js';
import type { ApiPromiseLike, SdkResource, SdkStreamLike } from '../../internal-types.js';
import type { AnyFunction, CallObserver, SdkPromises } from '../sdk-adapter.js';

/**
 * Builds an APIPromise of the module's class, whatever its constructor's shape:
 * openai 5+ takes `(client, responsePromise, parseResponse)`, openai 4
 * `(responsePromise, parseResponse)` with no client; `parseResponse` is given the
 * arguments its version passes (`(client, props)` or `(props)`).
 */
export type ApiPromiseFactory = (
  client: unknown,
  responsePromise: Promise<never>,
  parseResponse?: (...args: any[]) => unknown,
) => ApiPromiseLike;

/** The promise types of one loaded openai module. */
export interface OpenAIPromises extends SdkPromises {
  /** Builds the module's APIPromise; undefined when the module has none we could find. */
  apiPromise: ApiPromiseFactory | undefined;
}

export function isApiPromise(value: unknown): value is ApiPromiseLike {
  return (
    value instanceof Promise &&
    typeof (value as ApiPromiseLike).parseResponse === 'function' &&
    typeof (value as ApiPromiseLike).asResponse === 'function' &&
    (value as ApiPromiseLike).responsePromise instanceof Promise
  );
}

function isSdkStream(value: unknown): value is SdkStreamLike {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as SdkStreamLike).iterator === 'function' &&
    typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function'
  );
}

/**
 * The APIPromise of a loaded module (CommonJS or an ESM namespace). openai 5+ exports
 * the class; openai 4 keeps it in `core.js` unexported, and its namespace twin
 * (`core.mjs`) is another class: it is read off a promise the client's own
 * `request()` builds, given a `this` whose `makeRequest` never sends anything.
 */
export function apiPromiseFactory(moduleExports: any, OpenAI: any): ApiPromiseFactory | undefined {
  const mod =
    moduleExports?.[Symbol.toStringTag] === 'Module'
      ? (moduleExports.default ?? moduleExports)
      : moduleExports;
  const exported = moduleExports?.APIPromise ?? mod?.APIPromise;
  const APIPromise = typeof exported === 'function' ? exported : probeApiPromise(OpenAI);
  if (APIPromise === undefined) return undefined;
  // openai 4's constructor has one required parameter, openai 5+'s two (client first).
  if (APIPromise.length >= 2) {
    return (client, responsePromise, parse) =>
      new APIPromise(client, responsePromise, ...(parse ? [parse] : [])) as ApiPromiseLike;
  }
  return (_client, responsePromise, parse) =>
    new APIPromise(responsePromise, ...(parse ? [parse] : [])) as ApiPromiseLike;
}

function probeApiPromise(OpenAI: any): (new (...args: any[]) => unknown) | undefined {
  const request = OpenAI?.prototype?.request;
  if (typeof request !== 'function') return undefined;
  try {
    const probe = request.call({ makeRequest: () => new Promise(() => {}) }, {});
    return isApiPromise(probe) ? (probe.constructor as new (...args: any[]) => unknown) : undefined;
  } catch {
    return undefined;
  }
}

/** The promise hooks of a module whose APIPromise class is `APIPromise`. */
export function openAIPromises(APIPromise: ApiPromiseFactory | undefined): OpenAIPromises {
  const hooks = sharedHooks();
  return {
    apiPromise: APIPromise,
    attach(returned, call, view) {
      if (!isApiPromise(returned)) return undefined;
      attachApiPromise(returned, call, (view ?? returned) as { parsedPromise?: unknown }, hooks);
      return returned;
    },
    wrapStream(result, observer) {
      if (!isSdkStream(result)) return undefined;
      // In place: `tee()` and `toReadableStream()` go through `iterator` too.
      const original = result.iterator;
      result.iterator = function tokenfuseStreamIterator(this: unknown) {
        return observer.observeIterator(original.call(this));
      };
      return result;
    },
    rejected(thisArg, err) {
      const rejected = Promise.reject(err);
      return APIPromise ? APIPromise((thisArg as SdkResource)?._client, rejected) : rejected;
    },
    deferred(thisArg, ready, send) {
      let inner: ApiPromiseLike | undefined;
      let outer: ApiPromiseLike | undefined;
      const responsePromise = ready.then((value) => {
        const result = send(value, outer);
        if (!isApiPromise(result)) return result;
        inner = result;
        return result.responsePromise;
      });
      if (!APIPromise) {
        // An SDK that does not export its APIPromise: a plain promise of the result.
        return responsePromise.then((value) => inner ?? value);
      }
      // The response is the real call's, parsed by the real call's (hooked) parser.
      outer = APIPromise(
        (thisArg as SdkResource)?._client,
        responsePromise as Promise<never>,
        (...args: unknown[]) => inner!.parseResponse(...args),
      );
      // `.asResponse()` goes to the real call, whose hook reads usage from the raw body
      // unless the caller parses too (`withResponse()` does, and asks to parse first).
      outer.asResponse = function tokenfuseDeferredAsResponse() {
        return responsePromise.then(() =>
          inner === undefined ? responsePromise : inner.asResponse(),
        );
      };
      return outer;
    },
  };
}

/** One call's state on its APIPromise, read by the hooks shared by every call. */
class ApiHook {
  constructor(
    readonly call: CallObserver,
    readonly view: { parsedPromise?: unknown },
    readonly thenUnwrap: ApiPromiseLike['_thenUnwrap'],
    readonly asResponse: ApiPromiseLike['asResponse'],
  ) {}
}

/** `_thenUnwrap` and `asResponse` hooks made once per module, finding each call's state on its promise. */
interface SharedHooks {
  /** Per instrumentation: a promise hooked by two keeps both states, each hook calling the other. */
  key: symbol;
  thenUnwrap: NonNullable<ApiPromiseLike['_thenUnwrap']>;
  asResponse: ApiPromiseLike['asResponse'];
}

type Hooked = ApiPromiseLike & Record<symbol, ApiHook | undefined>;

function sharedHooks(): SharedHooks {
  const key = Symbol('tokenfuse.apiPromise');
  // Called as methods (`create()._thenUnwrap()`, `this.asResponse()`) in every
  // version; a `this` that holds no state finds the class's own method.
  const stateOf = (self: unknown, method: '_thenUnwrap' | 'asResponse') => {
    const hook = (self as Hooked | undefined)?.[key];
    return hook ?? { original: Object.getPrototypeOf(self)?.[method] as AnyFunction };
  };
  return {
    key,
    // SDK helpers such as `chat.completions.parse()` derive a new promise that parses
    // through the client's closure, not through `parseResponse`: see its result
    // on the way to the helper's transform.
    thenUnwrap: function tokenfuseThenUnwrap(this: unknown, transform) {
      const hook = stateOf(this, '_thenUnwrap');
      if (!(hook instanceof ApiHook)) return hook.original.call(this, transform);
      return hook.thenUnwrap!.call(this, (result: unknown, props: unknown) =>
        transform(hook.call.onResult(result), props),
      );
    },
    // `.asResponse()` hands the raw body to the caller and never parses. Read usage
    // from a clone, but only when nothing else will parse (`withResponse()` does).
    asResponse: function tokenfuseAsResponse(this: unknown) {
      const hook = stateOf(this, 'asResponse');
      if (!(hook instanceof ApiHook)) return hook.original.call(this);
      return hook.asResponse.call(this).then((response) => {
        if (hook.view.parsedPromise === undefined) onRawResponse(response, hook.call);
        return response;
      });
    },
  };
}

/**
 * Hooks the APIPromise of one call. `view` is the promise the caller holds when it
 * is not `promise` itself (a call sent after an asynchronous admission): whether
 * the caller parses is read there. Per call: two closures (openai 4 calls
 * `parseResponse` with no `this`), one state object and one reaction (and one
 * more once parsed).
 */
function attachApiPromise(
  promise: ApiPromiseLike,
  call: CallObserver,
  view: { parsedPromise?: unknown },
  hooks: SharedHooks,
): void {
  const originalParse = promise.parseResponse;
  const fail = (err: unknown) => call.fail(err);
  // openai 5+ passes `(client, props)`, openai 4 `(props)`: passed on as given.
  promise.parseResponse = function tokenfuseParseResponse(...args: unknown[]) {
    let parsed: unknown;
    try {
      parsed = originalParse.apply(this, args);
    } catch (err) {
      call.fail(err);
      throw err;
    }
    if (parsed !== null && Object.getPrototypeOf(parsed) === Promise.prototype) {
      // The SDK's parse (an async function): observed beside the caller's chain, not
      // in it. Registered before the caller's, this reaction sees the result first
      // (a stream is wrapped in place, so the caller gets the very object) and the
      // caller's promise waits for no promise of ours.
      (parsed as Promise<unknown>).then((result) => observeResult(call, result), fail);
      return parsed;
    }
    return Promise.resolve(parsed).then(
      (result) => call.onResult(result),
      (err) => {
        call.fail(err);
        throw err;
      },
    );
  };
  // Transport errors, HTTP errors and timeouts reject the response promise before
  // anything is parsed. Observe it without replacing it: openai v7 derives promises
  // (`_thenUnwrap`, `withResponse`) from its own closure over the original.
  promise.responsePromise.then(undefined, fail);
  const originalThenUnwrap = promise._thenUnwrap;
  (promise as Hooked)[hooks.key] = new ApiHook(call, view, originalThenUnwrap, promise.asResponse);
  if (typeof originalThenUnwrap === 'function') promise._thenUnwrap = hooks.thenUnwrap;
  promise.asResponse = hooks.asResponse;
}

/** A result seen beside the caller's chain: nothing may reject there unhandled. */
function observeResult(call: CallObserver, result: unknown): void {
  try {
    call.onResult(result);
  } catch (err) {
    internalError(
      'instrumentation',
      'observing an LLM response failed; the call itself is unaffected',
      err,
    );
  }
}

function onRawResponse(response: unknown, call: CallObserver): void {
  const r = response as Response;
  if (
    (call.body as { stream?: unknown } | undefined)?.stream === true ||
    typeof r?.clone !== 'function'
  ) {
    // A raw SSE body belongs to the caller; count what we can know without it.
    call.endUnread();
    return;
  }
  r.clone()
    .json()
    .then(
      (json) => call.onResult(json),
      () => call.endUnread(),
    );
}
