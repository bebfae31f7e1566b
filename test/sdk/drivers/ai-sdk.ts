/**
 * The Vercel AI SDK (`ai` 6) for the shared behaviour suite: `generateText` and
 * `streamText` on a model wrapped with `tokenfuseMiddleware()`, through the real provider
 * packages (`@ai-sdk/openai` Chat Completions, `@ai-sdk/anthropic` Messages) over HTTP to
 * the fake server. Nothing is patched: the middleware is the integration.
 */
import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAI } from '@ai-sdk/openai';
import { APICallError, generateText, type LanguageModel, streamText, wrapLanguageModel } from 'ai';
import { tokenfuseMiddleware } from '../../../src/index.js';
import type { Harness } from '../../helpers/harness.js';
import type { CallSpec, SdkDriver } from '../driver.js';

const words = (text: string) => text.split(/\s+/).filter(Boolean).length;

type Provider = 'openai' | 'anthropic';

const MODELS: Record<Provider, string> = { openai: 'gpt-4.1', anthropic: 'claude-sonnet-4-5' };

function options(model: LanguageModel, spec: CallSpec) {
  return {
    model,
    prompt: spec.prompt,
    maxOutputTokens: spec.maxTokens,
    maxRetries: 0,
    ...(spec.headers ? { headers: spec.headers } : {}),
    ...(spec.signal ? { abortSignal: spec.signal } : {}),
  };
}

/** `ai` 6 with one provider package, `generateText` for `call`, `streamText` for `stream`. */
export function aiSdkDriver(provider: Provider): SdkDriver {
  let middleware: ReturnType<typeof tokenfuseMiddleware> | undefined;
  const modelId = MODELS[provider];
  return {
    name: `ai 6 with @ai-sdk/${provider} (generateText, streamText)`,
    harnessOptions: {},
    install(h: Harness) {
      middleware = tokenfuseMiddleware({ tokenfuse: h.tokenfuse });
      return () => {
        middleware = undefined;
      };
    },
    connect(fakeUrl, defaultHeaders) {
      const settings = { baseURL: `${fakeUrl}/v1`, apiKey: 'sk-test-ai', headers: defaultHeaders };
      const base =
        provider === 'openai'
          ? createOpenAI(settings).chat(modelId)
          : createAnthropic(settings)(modelId);
      if (!middleware) throw new Error('install() before connect()');
      const model = wrapLanguageModel({ model: base, middleware });
      return {
        call: (spec) => generateText(options(model, spec)),
        text: (result) => (result as { text: string }).text,
        async stream(spec, read = {}) {
          // The error is thrown from the loop below; the default onError would also log it.
          const result = streamText({ ...options(model, spec), onError: () => {} });
          let text = '';
          let items = 0;
          // fullStream carries the call's error as a part; the caller's loop sees it thrown.
          for await (const part of result.fullStream) {
            if (part.type === 'error') throw part.error;
            if (part.type === 'abort') throw spec.signal?.reason ?? new Error('aborted');
            if (part.type !== 'text-delta') continue;
            text += part.text;
            items++;
            if (read.stopAfter !== undefined && items >= read.stopAfter) break;
          }
          return { text, items };
        },
      };
    },
    // The AI SDK's functions are async functions: a blocked call rejects their promise.
    isSdkPromise: (value) => value instanceof Promise,
    statusOf: (err) => (APICallError.isInstance(err) ? err.statusCode : undefined),
    capabilities: {
      // Provider-wide `headers` (createOpenAI({ headers })) are merged by the provider,
      // below the middleware: they are sent as they are and tag nothing.
      clientHeaders: false,
      serverAddress: false,
      abandonOnBreak: false,
    },
    model: modelId,
    provider,
    catalogProvider: provider,
    providerName: provider,
    api: 'ai-sdk.language-model',
    // The fake: one user message is its words + 3 tokens; OpenAI replies max_tokens
    // words, Anthropic at most 5.
    usage: (spec) => ({
      input_tokens: words(spec.prompt) + 3,
      output_tokens: provider === 'openai' ? spec.maxTokens : Math.min(5, spec.maxTokens),
    }),
    isModelRequest: (path) =>
      provider === 'openai' ? path === '/v1/chat/completions' : path === '/v1/messages',
  };
}
