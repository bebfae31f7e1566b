/**
 * The AI SDK's extension point, language-model and embedding-model middleware
 * (`wrapLanguageModel({ model, middleware })`, `wrapEmbeddingModel`): each model
 * call goes through the same generic wrapper as a patched SDK method (tags,
 * admission against the budgets, span, accounting), so a blocked call throws
 * before the provider package sends anything.
 */
import { context, trace } from '@opentelemetry/api';
import { markCovered } from '../../accounting/span-registry.js';
import { internalError } from '../../internal-errors.js';
import type { CallSite } from '../call-start.js';
import type { AnyFunction } from '../sdk-adapter.js';
import { aiSdkAdapter, aiSdkPromises } from './adapter.js';
import { embeddingModelAdapter, languageModelAdapter } from './operations.js';

/** What runs a call through the generic wrapper (the instrumentation). */
export interface CallRunner {
  callThrough(site: CallSite, thisArg: unknown, original: AnyFunction, args: unknown[]): unknown;
}

/** The options the middleware reads per call (see `tokenfuseMiddleware`). */
export interface AiSdkMiddlewareSettings {
  /** Provider id for every model wrapped, instead of the one read from `model.provider`. */
  provider?: string | undefined;
}

interface ModelLike {
  readonly provider: string;
  readonly modelId: string;
  doGenerate?(params: any): PromiseLike<any>;
  doStream?(params: any): PromiseLike<any>;
  doEmbed?(params: any): PromiseLike<any>;
}

/**
 * Middleware for `wrapLanguageModel` and `wrapEmbeddingModel` of the `ai` package
 * (language-model specification v3, `ai` 6, and v2, `ai` 5: `ai` 5 ignores the
 * `specificationVersion` it does not know). Structural, so tokenfuse does not depend on
 * `ai`'s types.
 */
export interface TokenfuseMiddleware {
  readonly specificationVersion: 'v3';
  wrapGenerate(options: {
    doGenerate: () => PromiseLike<any>;
    params: any;
    model: ModelLike;
  }): Promise<any>;
  wrapStream(options: {
    doStream: () => PromiseLike<any>;
    params: any;
    model: ModelLike;
  }): Promise<any>;
  wrapEmbed(options: {
    doEmbed: () => PromiseLike<any>;
    params: any;
    model: ModelLike;
  }): Promise<any>;
}

/**
 * The AI SDK's own telemetry (`experimental_telemetry`) runs each model call inside
 * its `ai.*.doGenerate` / `doStream` / `doEmbed` span: the same call this
 * middleware accounts, so the span processor must not count that span too.
 */
function markAiSdkSpanCovered(): void {
  const parent = trace.getSpan(context.active()) as
    | { attributes?: Record<string, unknown> }
    | undefined;
  const operation = parent?.attributes?.['ai.operationId'];
  if (typeof operation === 'string' && /\.do(Generate|Stream|Embed)$/.test(operation))
    markCovered(parent as never);
}

type ModelMethod = 'doGenerate' | 'doStream' | 'doEmbed';

/**
 * What the wrapper calls for each method: the wrapped model's own, not the middleware's
 * `doGenerate` (the wrapper may send other params: attribution headers stripped). Made
 * once, not per call.
 */
const ORIGINALS: Record<ModelMethod, (this: ModelLike, params: unknown) => unknown> = {
  doGenerate(params) {
    return this.doGenerate!(params);
  },
  doStream(params) {
    return this.doStream!(params);
  },
  doEmbed(params) {
    return this.doEmbed!(params);
  },
};

/** @internal the middleware over a runner found per call (`undefined`: send untouched). */
export function createAiSdkMiddleware(
  runner: () => CallRunner | undefined,
  settings: AiSdkMiddlewareSettings = {},
): TokenfuseMiddleware {
  const sdk = aiSdkAdapter(settings.provider);
  const chat: CallSite = { sdk, adapter: languageModelAdapter, promises: aiSdkPromises };
  const embeddings: CallSite = { sdk, adapter: embeddingModelAdapter, promises: aiSdkPromises };

  const run = (
    site: CallSite,
    method: ModelMethod,
    untouched: () => PromiseLike<any>,
    params: unknown,
    model: ModelLike,
  ): Promise<any> => {
    let target: CallRunner | undefined;
    try {
      target = runner();
      if (target === undefined || typeof model?.[method] !== 'function')
        return Promise.resolve(untouched());
      markAiSdkSpanCovered();
    } catch (err) {
      internalError(
        'instrumentation',
        'the AI SDK middleware failed; calling the model untouched',
        err,
      );
      return Promise.resolve(untouched());
    }
    return Promise.resolve(target.callThrough(site, model, ORIGINALS[method], [params]));
  };

  return {
    specificationVersion: 'v3',
    wrapGenerate: ({ doGenerate, params, model }) =>
      run(chat, 'doGenerate', doGenerate, params, model),
    wrapStream: ({ doStream, params, model }) => run(chat, 'doStream', doStream, params, model),
    wrapEmbed: ({ doEmbed, params, model }) => run(embeddings, 'doEmbed', doEmbed, params, model),
  };
}
