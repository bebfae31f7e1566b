/**
 * `@google/genai` for the shared behaviour suite, one driver per major installed side by
 * side: `@google/genai` (3.x) and the npm aliases `google-genai-v2`, `google-genai-v1`.
 * The real client against the fake server's Gemini API paths. The fake's Gemini rules (examples/shared/fake-gemini.mjs):
 * prompt = words + 3 per content; reply = min(5, maxOutputTokens) words.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as GenAI from '@google/genai';
import type { Harness } from '../../helpers/harness.js';
import type { CallSpec, CatalogUsage, DriverClient, SdkDriver, StreamRead } from '../driver.js';

const require = createRequire(import.meta.url);

/** The npm names the majors are installed under (an alias is patched by hand, not hooked). */
export type GoogleGenAiModule = '@google/genai' | 'google-genai-v2' | 'google-genai-v1';
const REPLY_WORDS = 5;
const MESSAGE_OVERHEAD = 3;

/** The CommonJS build, the one the instrumentation's require hook patches. */
function load(moduleName: GoogleGenAiModule): typeof GenAI {
  return require(moduleName) as typeof GenAI;
}

function version(moduleName: GoogleGenAiModule): string {
  // package.json is not in the package's exports: read it from disk beside the entry.
  let dir = dirname(require.resolve(moduleName));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string })
    .version;
}

const words = (text: string) => text.split(/\s+/).filter((w) => w !== '').length;

function configOf(spec: CallSpec): GenAI.GenerateContentConfig {
  const config: GenAI.GenerateContentConfig = { maxOutputTokens: spec.maxTokens };
  if (spec.headers !== undefined) config.httpOptions = { headers: { ...spec.headers } };
  if (spec.signal !== undefined) config.abortSignal = spec.signal;
  return config;
}

/** The driver for the `@google/genai` major installed as `moduleName`. */
export function googleGenAiDriverFor(moduleName: GoogleGenAiModule): SdkDriver {
  const driver: SdkDriver = {
    name: `@google/genai ${version(moduleName)}`,
    // The fake's host is unknown to the provider table: the SDK names its provider.
    harnessOptions: {},
    install(h: Harness) {
      const genai = load(moduleName);
      const proto = genai.Models.prototype as any;
      const defs = (h.tokenfuse.instrumentation as any)
        .getModuleDefinitions()
        .filter((d: any) => d.name === '@google/genai');
      // An earlier harness in this worker may have loaded (and unpatched) the module.
      if (!proto.generateContentInternal.__wrapped)
        for (const def of defs) def.patch(genai, version(moduleName));
      return () => {
        if (proto.generateContentInternal.__wrapped) for (const def of defs) def.unpatch(genai);
      };
    },
    connect(fakeUrl: string, defaultHeaders?: Record<string, string>): DriverClient {
      const genai = load(moduleName);
      const ai = new genai.GoogleGenAI({
        apiKey: 'gemini-test-key',
        httpOptions: { baseUrl: fakeUrl, ...(defaultHeaders ? { headers: defaultHeaders } : {}) },
      });
      return {
        call: (spec) =>
          ai.models.generateContent({
            model: driver.model,
            contents: spec.prompt,
            config: configOf(spec),
          }),
        text: (result) => (result as GenAI.GenerateContentResponse).text ?? '',
        async stream(spec: CallSpec, read: StreamRead = {}) {
          const stream = await ai.models.generateContentStream({
            model: driver.model,
            contents: spec.prompt,
            config: configOf(spec),
          });
          let text = '';
          let items = 0;
          for await (const chunk of stream) {
            text += chunk.text ?? '';
            items++;
            if (read.stopAfter !== undefined && items >= read.stopAfter) break;
          }
          return { text, items };
        },
      };
    },
    // docs/limits.md: the SDK merges client-wide headers into every request with no way to
    // remove one per call, so they are sent as they are and tag nothing.
    capabilities: { clientHeaders: false },
    // Plain promises: @google/genai has no APIPromise.
    isSdkPromise: (value) => value instanceof Promise,
    statusOf: (err) => {
      const status = (err as { status?: unknown } | null)?.status;
      return typeof status === 'number' ? status : undefined;
    },
    model: 'gemini-2.5-flash',
    provider: 'google',
    catalogProvider: 'google',
    providerName: 'gcp.gemini',
    api: 'models.generateContent',
    streamApi: 'models.generateContentStream',
    usage(spec: CallSpec): CatalogUsage {
      return {
        input_tokens: words(spec.prompt) + MESSAGE_OVERHEAD,
        output_tokens: Math.min(REPLY_WORDS, spec.maxTokens),
      };
    },
    isModelRequest: (path) =>
      /^\/v1(beta)?\/models\/[^/]+:(generateContent|streamGenerateContent|batchEmbedContents|embedContent)/.test(
        path,
      ),
  };
  return driver;
}

/** `@google/genai` 3.x, the current major. */
export const googleGenAiDriver = googleGenAiDriverFor('@google/genai');
