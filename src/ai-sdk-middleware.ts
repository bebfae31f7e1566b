/**
 * `tokenfuseMiddleware()`: the Vercel AI SDK's calls under tokenfuse. Beside
 * `tokenfuse.ts` at the top layer, because it finds the running tokenfuse.
 */
import { diag } from '@opentelemetry/api';
import {
  type CallRunner,
  createAiSdkMiddleware,
  type TokenfuseMiddleware,
} from './instrumentation/ai-sdk/index.js';
import { getRuntime, type Tokenfuse } from './tokenfuse.js';

export type { TokenfuseMiddleware } from './instrumentation/ai-sdk/index.js';

/** Options of {@link tokenfuseMiddleware}. */
export interface TokenfuseMiddlewareOptions {
  /**
   * The tokenfuse whose budgets, accountant and spans the calls go through: the one
   * `createTokenfuse()` returned, for apps with their own `NodeSDK`.
   * @default the one `tokenfuse/register` or `start()` runs in this process
   */
  tokenfuse?: Pick<Tokenfuse, 'instrumentation'>;
  /**
   * Provider id (metric label, price overrides, `providers[].id`) for every model
   * wrapped with this middleware.
   * @default read from the model: `openai.chat` → `openai`, `anthropic.messages` → `anthropic`
   */
  provider?: string;
}

let warnedNotRunning = false;

/**
 * Middleware that puts the Vercel AI SDK's model calls (`generateText`, `streamText`,
 * `generateObject`, `streamObject`, `embed`, `embedMany`) under tokenfuse, the same
 * as a call of a patched SDK: attributed (context, `withAttribution`, and the call's
 * `headers` `X-Department`, … which are not sent on), admitted against budgets and
 * policies before anything is sent (`BudgetExceededError`, `ModelNotAllowedError`),
 * priced from the usage the provider reports, with one span and the same metrics.
 * Streams are cut off by `cutOffStreams` budgets; an abandoned stream ends its call.
 *
 * The AI SDK's providers call the HTTP APIs with `fetch`, so no patch sees them:
 * wrap the model. Without a running tokenfuse, calls go through untouched.
 *
 * @example
 * import { wrapLanguageModel, wrapEmbeddingModel, generateText } from 'ai';
 * const model = wrapLanguageModel({ model: openai('gpt-4.1'), middleware: tokenfuseMiddleware() });
 * const embedder = wrapEmbeddingModel({
 *   model: openai.embedding('text-embedding-3-small'),
 *   middleware: tokenfuseMiddleware(),
 * });
 */
export function tokenfuseMiddleware(options: TokenfuseMiddlewareOptions = {}): TokenfuseMiddleware {
  const given = options.tokenfuse;
  const runner = (): CallRunner | undefined => {
    if (given !== undefined) return given.instrumentation;
    try {
      return getRuntime().instrumentation;
    } catch (err) {
      if (!warnedNotRunning) {
        warnedNotRunning = true;
        diag.warn(
          `tokenfuse: AI SDK calls through tokenfuseMiddleware() go uninstrumented: ${(err as Error).message}`,
        );
      }
      return undefined;
    }
  };
  return createAiSdkMiddleware(runner, { provider: options.provider });
}
