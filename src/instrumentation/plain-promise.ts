import type { CallObserver } from './sdk-adapter.js';

/**
 * Observes a plain promise an SDK method returned (`@google/genai`, Bedrock's `send`,
 * the AI SDK's model calls): the result goes through `call.onResult`, which returns
 * what the caller gets; a failure ends the call through `call.fail` and is rethrown
 * unchanged.
 */
export function observePlainPromise(
  returned: PromiseLike<unknown>,
  call: CallObserver,
): Promise<unknown> {
  return Promise.resolve(returned).then(
    (result) => call.onResult(result),
    (err: unknown) => {
      call.fail(err);
      throw err;
    },
  );
}
