/**
 * `@google/genai` (1.42 to 3.x): `models.generateContent`, `generateContentStream` and
 * `embedContent` on the Gemini API and Vertex AI, and the chats built on them.
 * The public methods are per-instance arrow functions; each calls a prototype
 * method that sends exactly one billed request (automatic function calling and
 * continuation call it once per request), and those are what is patched.
 */

import { diag } from '@opentelemetry/api';
import type { SdkAdapter, SdkClient } from '../sdk-adapter.js';
import { embedContentAdapter } from './embed-content.js';
import { generateContentAdapter, generateContentStreamAdapter } from './generate-content.js';
import { GOOGLE_GENAI_MODULE } from './module.js';
import { genaiPromises } from './promises.js';
import { isPlainObject } from './read.js';
import { GOOGLE_GENAI_SUPPORT } from './support.js';

/** The SDK's API client, as far as it is read. */
interface ApiClientLike {
  isVertexAI?(): boolean;
  getBaseUrl?(): string;
  getApiKey?(): string | undefined;
}

const GEMINI = { id: 'google', semconvName: 'gcp.gemini' };
// The price catalog has no Vertex provider of its own: Vertex prices are Google's.
const VERTEX = { id: 'google', semconvName: 'gcp.vertex_ai' };

/** The `Models` class of a loaded module (CommonJS exports or an ESM namespace). */
function modelsClass(moduleExports: any): any {
  const candidate = moduleExports?.Models ?? moduleExports?.default?.Models;
  return typeof candidate === 'function' ? candidate : undefined;
}

function clientOf(models: unknown): SdkClient | undefined {
  const api = (models as { apiClient?: ApiClientLike } | null | undefined)?.apiClient;
  if (api === null || typeof api !== 'object') return undefined;
  const vertex = typeof api.isVertexAI === 'function' && api.isVertexAI() === true;
  let baseURL: string | undefined;
  try {
    baseURL = typeof api.getBaseUrl === 'function' ? api.getBaseUrl() : undefined;
  } catch {
    // No base URL set: the provider then comes from the SDK's mode alone.
  }
  return {
    baseURL,
    apiKey: typeof api.getApiKey === 'function' ? api.getApiKey() : undefined,
    object: api,
    provider: vertex ? VERTEX : GEMINI,
  };
}

export const googleGenAiSdk: SdkAdapter<undefined> = {
  module: GOOGLE_GENAI_MODULE,
  support: GOOGLE_GENAI_SUPPORT,
  createSession: () => undefined,
  load(moduleExports) {
    const Models = modelsClass(moduleExports);
    if (!Models) {
      diag.warn(
        'tokenfuse: the @google/genai module has no Models class; calls are not instrumented',
      );
      return undefined;
    }
    const proto = Models.prototype;
    return {
      promises: genaiPromises,
      patchPoints: [
        {
          target: proto,
          method: 'generateContentInternal',
          name: 'models.generateContent',
          operation: generateContentAdapter,
        },
        {
          target: proto,
          method: 'generateContentStreamInternal',
          name: 'models.generateContentStream',
          operation: generateContentStreamAdapter,
        },
        {
          target: proto,
          method: 'embedContentInternal',
          name: 'models.embedContent',
          operation: embedContentAdapter,
        },
      ],
    };
  },
  readRequest(thisArg, args) {
    const params = args[0];
    const config = isPlainObject(params) ? params.config : undefined;
    const httpOptions = isPlainObject(config) ? config.httpOptions : undefined;
    return {
      body: params,
      // Per-request headers ride in `config.httpOptions.headers` (a plain record).
      headers: isPlainObject(httpOptions) ? httpOptions.headers : undefined,
      headersReadable:
        isPlainObject(params) &&
        (config == null || isPlainObject(config)) &&
        (httpOptions == null || isPlainObject(httpOptions)),
      client: clientOf(thisArg),
    };
  },
  rebuildArgs(args, body, headers) {
    const [, ...rest] = args;
    const params = body as Record<string, any>;
    const httpOptions = params.config?.httpOptions;
    if (headers === httpOptions?.headers) return [params, ...rest];
    return [
      { ...params, config: { ...params.config, httpOptions: { ...httpOptions, headers } } },
      ...rest,
    ];
  },
};
