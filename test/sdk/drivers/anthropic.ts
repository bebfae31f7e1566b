/**
 * Behaviour-suite drivers (`../driver.ts`) for `@anthropic-ai/sdk`: the installed 1.x
 * and the 0.122 copy `@langchain/anthropic` installs under itself (LangChain's Claude
 * calls go through that one). Both are patched through the instrumentation's own
 * module definitions, with the version read from the copy's own package.json (not in
 * the package's `exports`, so not `require`-able).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Harness } from '../../helpers/harness.js';
import type { CallSpec, SdkDriver } from '../driver.js';

const require = createRequire(import.meta.url);
const nestedRequire = createRequire(require.resolve('@langchain/anthropic'));

/** The two copies: `current` is the top-level 1.x, `langchain` the nested 0.122. */
export type AnthropicCopy = 'current' | 'langchain';

const resolverOf = (copy: AnthropicCopy) => (copy === 'current' ? require : nestedRequire);

/** The CommonJS exports of one copy. */
export function loadAnthropic(copy: AnthropicCopy): any {
  return resolverOf(copy)('@anthropic-ai/sdk');
}

/** The installed version of one copy, from the package.json above its entry point. */
export function anthropicVersion(copy: AnthropicCopy): string {
  let dir = dirname(resolverOf(copy).resolve('@anthropic-ai/sdk'));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      if (pkg.name === '@anthropic-ai/sdk') return pkg.version;
    } catch {}
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json of @anthropic-ai/sdk (${copy})`);
    dir = up;
  }
}

function isPatched(mod: any): boolean {
  return Boolean(mod.Anthropic.Messages.prototype.create.__wrapped);
}

/**
 * Patches one copy into the harness' instrumentation (unless the require hook did when
 * it was first loaded: disabling the instrumentation unpatches that one); returns the
 * unpatch of what it patched.
 */
export function installAnthropic(h: Harness, copy: AnthropicCopy): () => void {
  const mod = loadAnthropic(copy);
  const defs = (h.tokenfuse.instrumentation as any)
    .getModuleDefinitions()
    .filter((def: { name: string }) => def.name === '@anthropic-ai/sdk');
  if (isPatched(mod)) return () => {};
  for (const def of defs) def.patch?.(mod, anthropicVersion(copy));
  return () => {
    if (isPatched(mod)) for (const def of defs) def.unpatch?.(mod);
  };
}

const MODEL = 'claude-sonnet-4-5';
/** The fake replies at most this many words (examples/shared/fake-anthropic.mjs). */
const FAKE_REPLY_WORDS = 5;
const words = (text: string) => text.split(/\s+/).filter(Boolean).length;

function requestOptions(spec: CallSpec): Record<string, unknown> | undefined {
  const options: Record<string, unknown> = {};
  if (spec.headers) options.headers = spec.headers;
  if (spec.signal) options.signal = spec.signal;
  return Object.keys(options).length > 0 ? options : undefined;
}

export function anthropicDriver(copy: AnthropicCopy): SdkDriver {
  let mod: any;
  const body = (spec: CallSpec) => ({
    model: MODEL,
    max_tokens: spec.maxTokens,
    messages: [{ role: 'user', content: spec.prompt }],
  });
  return {
    name: `@anthropic-ai/sdk ${anthropicVersion(copy)}${copy === 'langchain' ? ' (under @langchain/anthropic)' : ''}`,
    // Nothing declared for the fake's host: an Anthropic client's unknown host is Anthropic.
    harnessOptions: {},
    install(h) {
      mod = loadAnthropic(copy);
      return installAnthropic(h, copy);
    },
    connect(fakeUrl, defaultHeaders) {
      const client = new mod.Anthropic({
        baseURL: fakeUrl,
        apiKey: 'sk-ant-test',
        maxRetries: 0,
        defaultHeaders,
      });
      return {
        call: (spec) => client.messages.create(body(spec), requestOptions(spec)),
        text: (result) =>
          ((result as any).content as any[])
            .filter((b) => b.type === 'text')
            .map((b) => b.text)
            .join(''),
        async stream(spec, read = {}) {
          const stream = await client.messages.create(
            { ...body(spec), stream: true },
            requestOptions(spec),
          );
          let text = '';
          let items = 0;
          for await (const event of stream) {
            if (event.type === 'content_block_delta') text += event.delta.text ?? '';
            items++;
            if (read.stopAfter !== undefined && items >= read.stopAfter) break;
          }
          return { text, items };
        },
      };
    },
    isSdkPromise: (value) => value instanceof mod.APIPromise,
    statusOf: (err) =>
      err instanceof mod.APIError ? (err as { status?: number }).status : undefined,
    model: MODEL,
    provider: 'anthropic',
    catalogProvider: 'anthropic',
    providerName: 'anthropic',
    api: 'messages',
    // One user message is its words + 3; the reply is max_tokens words, at most 5.
    usage: (spec) => ({
      input_tokens: words(spec.prompt) + 3,
      output_tokens: Math.min(FAKE_REPLY_WORDS, spec.maxTokens),
    }),
    isModelRequest: (path) => path.startsWith('/v1/messages') && !path.includes('count_tokens'),
  };
}
