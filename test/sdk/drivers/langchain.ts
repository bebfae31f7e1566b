/**
 * Behaviour-suite drivers (`../driver.ts`) for LangChain's chat models on top of the
 * instrumented SDKs: `ChatOpenAI` (`@langchain/openai`, on `openai` 7) and
 * `ChatAnthropic` (`@langchain/anthropic`, on the `@anthropic-ai/sdk` 0.122 it installs
 * under itself). Nothing LangChain-specific is patched: the SDK call underneath is
 * what tokenfuse sees, so the suite proves a LangChain call is that one SDK call.
 *
 * LangChain is loaded as CommonJS, like the SDKs in the harness: its ESM build would
 * load the ESM copy of the SDK, which the harness does not patch.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Harness } from '../../helpers/harness.js';
import type { CallSpec, DriverClient, SdkDriver, StreamRead } from '../driver.js';
import { anthropicVersion, installAnthropic } from './anthropic.js';

const require = createRequire(import.meta.url);

/** The version in the package.json above `name`'s entry point (not in its exports). */
function packageVersion(name: string): string {
  let dir = dirname(require.resolve(name));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      if (pkg.name === name) return pkg.version;
    } catch {}
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json of ${name}`);
    dir = up;
  }
}

const words = (text: string) => text.split(/\s+/).filter(Boolean).length;
const MESSAGE_OVERHEAD = 3;
/** The fake's Anthropic replies are at most this many words (fake-anthropic.mjs). */
const ANTHROPIC_REPLY_WORDS = 5;

/** A chat model as both LangChain classes expose it. */
interface ChatModel {
  invoke(input: string, options?: Record<string, unknown>): Promise<{ content: unknown }>;
  stream(
    input: string,
    options?: Record<string, unknown>,
  ): Promise<AsyncIterable<{ content: unknown }>>;
}

/**
 * A driver client over a LangChain chat model built per call (its `maxTokens` is a
 * constructor field); `callOptions` puts the spec's headers and signal where that
 * model takes them per call.
 */
function chatClient(
  model: (spec: CallSpec) => ChatModel,
  callOptions: (spec: CallSpec) => Record<string, unknown>,
): DriverClient {
  return {
    call: (spec) => model(spec).invoke(spec.prompt, callOptions(spec)),
    text: (result) => String((result as { content: unknown }).content),
    async stream(spec: CallSpec, read: StreamRead = {}) {
      let text = '';
      let items = 0;
      for await (const chunk of await model(spec).stream(spec.prompt, callOptions(spec))) {
        if (typeof chunk.content === 'string') text += chunk.content;
        items++;
        if (read.stopAfter !== undefined && items >= read.stopAfter) break;
      }
      return { text, items };
    },
  };
}

const statusOf = (err: unknown) => {
  const status = (err as { status?: unknown } | null)?.status;
  return typeof status === 'number' ? status : undefined;
};

/** `ChatOpenAI` on `openai` 7 (Chat Completions). */
export function chatOpenAIDriver(): SdkDriver {
  const { ChatOpenAI } = require('@langchain/openai') as typeof import('@langchain/openai');
  const MODEL = 'gpt-4.1';
  return {
    name: `ChatOpenAI (@langchain/openai ${packageVersion('@langchain/openai')} on openai ${packageVersion('openai')})`,
    harnessOptions: { providers: [{ id: 'openai', hosts: ['127.0.0.1'], pricesFrom: 'openai' }] },
    // The harness patches `openai` 7 by its module name.
    install: (_h: Harness) => () => {},
    connect(fakeUrl, defaultHeaders) {
      return chatClient(
        (spec) =>
          new ChatOpenAI({
            model: MODEL,
            apiKey: 'sk-test-langchain',
            maxTokens: spec.maxTokens,
            maxRetries: 0,
            configuration: { baseURL: `${fakeUrl}/v1`, defaultHeaders },
          }) as unknown as ChatModel,
        // ChatOpenAI passes the call's `options` to the SDK as its request options.
        (spec) => ({
          ...(spec.headers ? { options: { headers: spec.headers } } : {}),
          ...(spec.signal ? { signal: spec.signal } : {}),
        }),
      );
    },
    // LangChain's own promise type is the native Promise (`invoke` is async).
    isSdkPromise: (value) => value instanceof Promise,
    statusOf,
    model: MODEL,
    provider: 'openai',
    catalogProvider: 'openai',
    providerName: 'openai',
    api: 'chat.completions',
    usage: (spec) => ({
      input_tokens: words(spec.prompt) + MESSAGE_OVERHEAD,
      output_tokens: spec.maxTokens,
    }),
    isModelRequest: (path) => path.startsWith('/v1/chat/completions'),
  };
}

/** `ChatAnthropic` on the `@anthropic-ai/sdk` 0.122 under `@langchain/anthropic`. */
export function chatAnthropicDriver(): SdkDriver {
  const { ChatAnthropic } =
    require('@langchain/anthropic') as typeof import('@langchain/anthropic');
  const MODEL = 'claude-sonnet-4-5';
  return {
    name: `ChatAnthropic (@langchain/anthropic ${packageVersion('@langchain/anthropic')} on @anthropic-ai/sdk ${anthropicVersion('langchain')})`,
    // Nothing declared for the fake's host: an Anthropic client's unknown host is Anthropic.
    harnessOptions: {},
    install: (h) => installAnthropic(h, 'langchain'),
    connect(fakeUrl, defaultHeaders) {
      return chatClient(
        (spec) =>
          new ChatAnthropic({
            model: MODEL,
            apiKey: 'sk-ant-test',
            anthropicApiUrl: fakeUrl,
            maxTokens: spec.maxTokens,
            maxRetries: 0,
            clientOptions: { defaultHeaders },
          }) as unknown as ChatModel,
        // ChatAnthropic passes the call's `headers` and `signal` to every create.
        (spec) => ({
          ...(spec.headers ? { headers: spec.headers } : {}),
          ...(spec.signal ? { signal: spec.signal } : {}),
        }),
      );
    },
    isSdkPromise: (value) => value instanceof Promise,
    statusOf,
    model: MODEL,
    provider: 'anthropic',
    catalogProvider: 'anthropic',
    providerName: 'anthropic',
    api: 'messages',
    usage: (spec) => ({
      input_tokens: words(spec.prompt) + MESSAGE_OVERHEAD,
      output_tokens: Math.min(ANTHROPIC_REPLY_WORDS, spec.maxTokens),
    }),
    isModelRequest: (path) => path.startsWith('/v1/messages') && !path.includes('count_tokens'),
  };
}
