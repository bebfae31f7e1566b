/**
 * Behaviour-suite drivers (`driver.ts`) for the `openai` SDK, one per major installed
 * side by side: `openai` (7) and the npm aliases `openai-v4`, `openai-v5`, `openai-v6`,
 * plus the `AzureOpenAI` client. An alias is not hooked by its name (`openai-v4`), so
 * the driver patches it through the instrumentation's own module definitions, with
 * the version read from the alias' own `version.js`.
 */
import { createRequire } from 'node:module';
import type { Harness } from '../helpers/harness.js';
import type { CallSpec, DriverClient, SdkDriver } from './driver.js';

const require = createRequire(import.meta.url);

/** The npm names the majors are installed under. */
export type OpenAIModule = 'openai-v4' | 'openai-v5' | 'openai-v6' | 'openai';

export interface OpenAIDriverOptions {
  module: OpenAIModule;
  api: 'chat' | 'responses';
  /** Drive `AzureOpenAI` instead of `OpenAI` (provider `azure`, not declared by host). */
  azure?: boolean;
}

const MODEL = 'gpt-4.1';
const words = (text: string) => text.split(/\s+/).filter(Boolean).length;

/** The installed version of one alias. */
export function openaiVersion(module: OpenAIModule): string {
  return require(`${module}/version`).VERSION as string;
}

/** Patches an aliased `openai` module into the harness' instrumentation; returns the unpatch. */
export function patchOpenAI(h: Harness, module: OpenAIModule): { mod: any; unpatch: () => void } {
  const mod = require(module);
  // The harness patches `openai` (7) itself, by its module name.
  if (module === 'openai') return { mod, unpatch: () => {} };
  const defs = (h.tokenfuse.instrumentation as any)
    .getModuleDefinitions()
    .filter((def: { name: string }) => def.name === 'openai');
  for (const def of defs) def.patch?.(mod, openaiVersion(module));
  return {
    mod,
    unpatch: () => {
      for (const def of defs) def.unpatch?.(mod);
    },
  };
}

/**
 * Azure's paths (`/openai/deployments/{deployment}/chat/completions?api-version=…`)
 * onto the fake's OpenAI paths, as an API gateway in front of a deployment would.
 */
function azureGatewayFetch(url: string | URL | Request, init?: RequestInit): Promise<Response> {
  const rewritten = String(url)
    .replace(/\/openai\/deployments\/[^/?]+\//, '/v1/')
    .replace(/\/openai\//, '/v1/');
  return fetch(rewritten, init);
}

export function openaiDriver(options: OpenAIDriverOptions): SdkDriver {
  const { module, api, azure = false } = options;
  let mod: any;
  const path = api === 'chat' ? '/v1/chat/completions' : '/v1/responses';
  return {
    name: `openai ${openaiVersion(module)} (${module}) ${azure ? 'AzureOpenAI ' : ''}${api}`,
    // The fake listens on 127.0.0.1: declared as OpenAI, except for the Azure client,
    // whose class alone must make it Azure.
    harnessOptions: azure
      ? {}
      : { providers: [{ id: 'openai', hosts: ['127.0.0.1'], pricesFrom: 'openai' }] },
    install(h) {
      const patched = patchOpenAI(h, module);
      mod = patched.mod;
      return patched.unpatch;
    },
    connect(fakeUrl, defaultHeaders) {
      const client = azure
        ? new mod.AzureOpenAI({
            apiKey: 'azure-key',
            apiVersion: '2024-10-21',
            endpoint: fakeUrl,
            maxRetries: 0,
            defaultHeaders,
            fetch: azureGatewayFetch,
          })
        : new mod.OpenAI({
            apiKey: 'sk-test',
            baseURL: `${fakeUrl}/v1`,
            maxRetries: 0,
            defaultHeaders,
          });
      return api === 'chat' ? chatClient(client) : responsesClient(client);
    },
    isSdkPromise: (value) =>
      value instanceof Promise &&
      value.constructor.name === 'APIPromise' &&
      typeof (value as { withResponse?: unknown }).withResponse === 'function',
    statusOf: (err) =>
      err instanceof mod.APIError ? (err as { status?: number }).status : undefined,
    model: MODEL,
    provider: azure ? 'azure' : 'openai',
    catalogProvider: azure ? 'azure' : 'openai',
    providerName: azure ? 'azure.ai.openai' : 'openai',
    api: api === 'chat' ? 'chat.completions' : 'responses',
    // Chat: each message is its words + 3; Responses: a string input the same.
    usage: (spec) => ({ input_tokens: words(spec.prompt) + 3, output_tokens: spec.maxTokens }),
    isModelRequest: (p) => p.startsWith(path),
  };
}

function requestOptions(spec: CallSpec): Record<string, unknown> | undefined {
  const options: Record<string, unknown> = {};
  if (spec.headers) options.headers = spec.headers;
  if (spec.signal) options.signal = spec.signal;
  return Object.keys(options).length > 0 ? options : undefined;
}

function chatClient(client: any): DriverClient {
  const body = (spec: CallSpec) => ({
    model: MODEL,
    messages: [{ role: 'user', content: spec.prompt }],
    max_tokens: spec.maxTokens,
  });
  return {
    call: (spec) => client.chat.completions.create(body(spec), requestOptions(spec)),
    text: (result) => (result as any).choices[0].message.content,
    async stream(spec, read = {}) {
      const stream = await client.chat.completions.create(
        { ...body(spec), stream: true },
        requestOptions(spec),
      );
      let text = '';
      let items = 0;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta?.content ?? '';
        items++;
        if (read.stopAfter !== undefined && items >= read.stopAfter) break;
      }
      return { text, items };
    },
  };
}

function responsesClient(client: any): DriverClient {
  const body = (spec: CallSpec) => ({
    model: MODEL,
    input: spec.prompt,
    max_output_tokens: spec.maxTokens,
  });
  return {
    call: (spec) => client.responses.create(body(spec), requestOptions(spec)),
    text: (result) => (result as any).output_text,
    async stream(spec, read = {}) {
      const stream = await client.responses.create(
        { ...body(spec), stream: true },
        requestOptions(spec),
      );
      let text = '';
      let items = 0;
      for await (const event of stream) {
        if (event.type === 'response.output_text.delta') text += event.delta;
        items++;
        if (read.stopAfter !== undefined && items >= read.stopAfter) break;
      }
      return { text, items };
    },
  };
}
