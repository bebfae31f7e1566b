/**
 * The `openai` SDK (4.87 through 7.x): Chat Completions, Responses and Embeddings through the
 * generic wrapper, and the Batch API through its own wrappers. Any
 * OpenAI-compatible endpoint (Azure, DeepSeek, OpenRouter, a relay) is this SDK
 * with another `baseURL`: the provider is told by the client's base URL.
 */
import { diag } from '@opentelemetry/api';
import type { SdkResource } from '../../internal-types.js';
import { genAiProviderName } from '../../pricing/providers.js';
import type { PatchPoint, SdkAdapter } from '../sdk-adapter.js';
import { apiPromiseFactory, openAIPromises } from './api-promise.js';
import { BatchApi } from './batch/batch-api.js';
import { chatAdapter } from './chat.js';
import { embeddingsAdapter } from './embeddings.js';
import { OPENAI_MODULE } from './module.js';
import { responsesAdapter } from './responses.js';
import { OPENAI_SUPPORT } from './support.js';

/** What an `AzureOpenAI` client implies on a host neither declared nor built in (a gateway). */
const AZURE = Object.freeze({ id: 'azure', semconvName: genAiProviderName('azure') });

/** The `OpenAI` client class of a loaded module (CommonJS exports or an ESM namespace). */
function openAIClass(moduleExports: any): any {
  const mod =
    moduleExports?.[Symbol.toStringTag] === 'Module'
      ? (moduleExports.default ?? moduleExports)
      : moduleExports;
  return mod?.OpenAI ?? (typeof mod === 'function' ? mod : undefined);
}

export const openaiSdk: SdkAdapter<BatchApi> = {
  module: OPENAI_MODULE,
  support: OPENAI_SUPPORT,
  createSession: (services) => new BatchApi(services),
  load(moduleExports, batchApi) {
    const OpenAI = openAIClass(moduleExports);
    if (!OpenAI) {
      diag.warn('tokenfuse: the openai module has no OpenAI class; calls are not instrumented');
      return undefined;
    }
    const factory = apiPromiseFactory(moduleExports, OpenAI);
    if (factory === undefined) {
      diag.warn(
        'tokenfuse: found no APIPromise in the openai module; blocked calls reject as plain promises, without withResponse()',
      );
    }
    const promises = openAIPromises(factory);
    const patchPoints: PatchPoint[] = [
      {
        target: OpenAI.Chat?.Completions?.prototype,
        method: 'create',
        name: 'chat.completions.create',
        operation: chatAdapter,
      },
      {
        target: OpenAI.Responses?.prototype,
        method: 'create',
        name: 'responses.create',
        operation: responsesAdapter,
      },
      {
        target: OpenAI.Embeddings?.prototype,
        method: 'create',
        name: 'embeddings.create',
        operation: embeddingsAdapter,
      },
    ];
    // `batches.create` stamps attribution; `files.content` counts batch results.
    const batches = OpenAI.Batches?.prototype;
    const files = OpenAI.Files?.prototype;
    if (!batches || !files) {
      diag.warn('tokenfuse: openai has no batches.create / files.content; batches are not counted');
    } else {
      patchPoints.push(
        {
          target: batches,
          method: 'create',
          name: 'batches.create',
          wrapper: (original, enabled) => batchApi.patchCreate(original, enabled, promises),
        },
        {
          target: files,
          method: 'content',
          name: 'files.content',
          wrapper: (original, enabled) => batchApi.patchContent(original, enabled),
        },
      );
    }
    return { patchPoints, promises };
  },
  readRequest(thisArg, args) {
    // Indexed, not destructured: an array pattern runs the iterator protocol per call.
    const body = args[0];
    const options = args[1] as { headers?: unknown } | null | undefined;
    const client = (thisArg as SdkResource | undefined)?._client;
    return {
      body,
      headers: options?.headers,
      headersReadable: options == null || isOptions(options),
      client: client
        ? {
            baseURL: client.baseURL,
            apiKey: client.apiKey,
            object: client,
            provider: isAzureClient(client) ? AZURE : undefined,
          }
        : undefined,
    };
  },
  rebuildArgs(args, body, headers) {
    const [, options, ...rest] = args as [unknown, { headers?: unknown } | undefined, ...unknown[]];
    const requestOptions = headers === options?.headers ? options : { ...options, headers };
    return [body, requestOptions, ...rest];
  },
};

/**
 * An `AzureOpenAI` client (openai 4-7 set both fields in its constructor, and only
 * there): Azure whatever its host, e.g. behind an API gateway.
 */
function isAzureClient(client: object): boolean {
  return (
    'deploymentName' in client &&
    typeof (client as { apiVersion?: unknown }).apiVersion === 'string'
  );
}

/** Request options the wrapper may copy: an object that is no promise of options. */
function isOptions(options: unknown): options is { headers?: unknown } {
  return (
    options !== null &&
    typeof options === 'object' &&
    typeof (options as { then?: unknown }).then !== 'function'
  );
}
