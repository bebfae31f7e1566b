/**
 * The Vercel AI SDK (`ai` 6) for the shared behaviour suite: `generateText` and
 * `streamText` on a model wrapped with `tokenfuseMiddleware()`, through the real provider
 * packages (`@ai-sdk/openai` Chat Completions, `@ai-sdk/anthropic` Messages) over HTTP to
 * the fake server. Nothing is patched: the middleware is the integration.
 */
import { createRequire } from 'node:module';
import { z } from 'zod';
import { tokenfuseMiddleware } from '../../../src/index.js';
import type { Harness } from '../../helpers/harness.js';
import type { CallSpec, SdkDriver } from '../driver.js';

const words = (text: string) => text.split(/\s+/).filter(Boolean).length;

const require = createRequire(import.meta.url);

type Provider = 'openai' | 'anthropic';

/** One major of `ai` with the provider packages of its language-model spec. */
export interface AiSdkMajor {
  /** `ai` 6 (spec v3) or 5 (spec v2), as installed (5 under npm aliases). */
  title: string;
  ai: string;
  openai: string;
  anthropic: string;
}

export const AI_SDK_MAJORS: AiSdkMajor[] = [
  { title: 'ai 6', ai: 'ai', openai: '@ai-sdk/openai', anthropic: '@ai-sdk/anthropic' },
  { title: 'ai 5', ai: 'ai-v5', openai: 'ai-sdk-openai-v2', anthropic: 'ai-sdk-anthropic-v2' },
];

const MODELS: Record<Provider, string> = { openai: 'gpt-4.1', anthropic: 'claude-sonnet-4-5' };

function options(model: unknown, spec: CallSpec) {
  return {
    model,
    prompt: spec.prompt,
    maxOutputTokens: spec.maxTokens,
    maxRetries: 0,
    ...(spec.headers ? { headers: spec.headers } : {}),
    ...(spec.signal ? { abortSignal: spec.signal } : {}),
  };
}

/** One `ai` major with one provider package, `generateText` for `call`, `streamText` for `stream`. */
export function aiSdkDriver(
  provider: Provider,
  major: AiSdkMajor = AI_SDK_MAJORS[0]!,
  functions: 'text' | 'object' = 'text',
): SdkDriver {
  let middleware: ReturnType<typeof tokenfuseMiddleware> | undefined;
  const modelId = MODELS[provider];
  const ai = require(major.ai);
  const {
    APICallError,
    generateObject,
    generateText,
    streamObject,
    streamText,
    wrapLanguageModel,
  } = ai;
  const version: string = ai.version ?? require(`${major.ai}/package.json`).version;
  const objects = functions === 'object';
  // The fake answers a JSON-schema request with its reply words as {"text": "..."}.
  const schema = objects ? z.object({ text: z.string() }) : undefined;
  const call = (spec: CallSpec) =>
    objects
      ? generateObject({ ...options(model(), spec), schema })
      : generateText(options(model(), spec));
  let wrapped: unknown;
  const model = () => wrapped;
  return {
    name: `ai ${version} with @ai-sdk/${provider} ${require(`${major[provider]}/package.json`).version} (${objects ? 'generateObject, streamObject' : 'generateText, streamText'})`,
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
          ? require(major.openai).createOpenAI(settings).chat(modelId)
          : require(major.anthropic).createAnthropic(settings)(modelId);
      if (!middleware) throw new Error('install() before connect()');
      wrapped = wrapLanguageModel({ model: base, middleware });
      return {
        call,
        text: (result) =>
          objects
            ? (result as { object: { text: string } }).object.text
            : (result as { text: string }).text,
        async stream(spec, read = {}) {
          // The error is thrown from the loop below; the default onError would also log it.
          const settings = { ...options(model(), spec), onError: () => {} };
          const result = objects ? streamObject({ ...settings, schema }) : streamText(settings);
          let text = '';
          let items = 0;
          // fullStream carries the call's error as a part; the caller's loop sees it thrown.
          for await (const part of result.fullStream) {
            if (part.type === 'error') throw part.error;
            if (part.type === 'abort') throw spec.signal?.reason ?? new Error('aborted');
            if (part.type !== 'text-delta') continue;
            // streamObject's deltas are the JSON text; streamText's the reply's.
            text += objects ? part.textDelta : part.text;
            items++;
            if (read.stopAfter !== undefined && items >= read.stopAfter) break;
          }
          return { text, items };
        },
      };
    },
    // The AI SDK's functions are async functions: a blocked call rejects their promise.
    isSdkPromise: (value) => value instanceof Promise,
    statusOf: (err) =>
      APICallError.isInstance(err) ? (err as { statusCode?: number }).statusCode : undefined,
    capabilities: {
      // Provider-wide `headers` (createOpenAI({ headers })) are merged by the provider,
      // below the middleware: they are sent as they are and tag nothing.
      clientHeaders: false,
      serverAddress: false,
      // streamText reads the model's stream to its end whatever the caller reads;
      // streamObject cancels it when the caller's loop ends.
      abandonOnBreak: objects,
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
