/**
 * `@anthropic-ai/sdk` (1.x, and the 0.122+ copy `@langchain/anthropic` installs):
 * `messages.create` and `beta.messages.create` through the generic wrapper. The
 * SDK's helpers all send through `create`, so they are covered without being
 * patched themselves (patching them too would count a call twice):
 * `messages.stream()` and its `finalMessage()` (`MessageStream` calls
 * `messages.create({ stream: true })`), `messages.parse()` (`create().then()`),
 * the beta tool runner.
 */
import { diag } from '@opentelemetry/api';
import type { SdkResource } from '../../internal-types.js';
import { genAiProviderName } from '../../pricing/providers.js';
// Stainless SDKs share the APIPromise and Stream design: one hook serves both.
import { apiPromiseFactory, openAIPromises } from '../openai/api-promise.js';
import type { SdkAdapter, SdkRequest } from '../sdk-adapter.js';
import { messagesAdapter } from './messages.js';
import { ANTHROPIC_MODULE } from './module.js';
import { ANTHROPIC_SUPPORT } from './support.js';

/**
 * The `Anthropic` client class of a loaded module (CommonJS exports or an ESM
 * namespace): the one whose statics hold the resources. Named, never "any
 * function" (openai's CommonJS exports are its client class), and never the
 * default export's own `Anthropic` static, which 1.x sets to `BaseAnthropic`.
 */
function anthropicClass(moduleExports: any): any {
  const mod =
    moduleExports?.[Symbol.toStringTag] === 'Module'
      ? (moduleExports.default ?? moduleExports)
      : moduleExports;
  return [moduleExports?.Anthropic, mod, mod?.Anthropic].find(
    (candidate) => typeof candidate === 'function' && typeof candidate.Messages === 'function',
  );
}

/**
 * The SDK speaks Anthropic's own protocol: a host neither configured nor built in (a
 * gateway, a proxy) is still Anthropic.
 */
const ANTHROPIC = { id: 'anthropic', semconvName: 'anthropic' };

/** `AnthropicBedrock` (`@anthropic-ai/bedrock-sdk`): Bedrock's catalog prices, whatever the host. */
const BEDROCK = Object.freeze({ id: 'bedrock', semconvName: genAiProviderName('bedrock') });
/** `AnthropicVertex` (`@anthropic-ai/vertex-sdk`): Google's catalog, the Vertex AI service. */
const VERTEX = Object.freeze({ id: 'google', semconvName: genAiProviderName('google-vertex') });

/** The class names of the two cloud clients, for a client that no longer names its platform. */
const CLOUD_CLASSES: Readonly<Record<string, { id: string; semconvName: string }>> = {
  AnthropicBedrock: BEDROCK,
  AnthropicVertex: VERTEX,
};

let warnedNoScope = false;

/** A cloud client names its platform in `_instrumentationScope()` (bedrock-sdk and vertex-sdk 1.x). */
function namesPlatform(client: object): boolean {
  return (
    typeof (client as { _instrumentationScope?: unknown })._instrumentationScope === 'function'
  );
}

/**
 * The cloud a Bedrock or Vertex client bills through, whatever its base URL (a gateway,
 * a private endpoint). Both classes reuse this SDK's `Messages` resource and name their
 * platform in `_instrumentationScope()` (bedrock-sdk and vertex-sdk 1.x); nothing else
 * tells them from a plain `Anthropic` client. Should a later release drop that method,
 * the class name decides, said once and counted per call (`provider_by_class_name`, see
 * `readRequest`): a Bedrock call must never be priced as Anthropic's own API in silence.
 */
function cloudProvider(client: object): { id: string; semconvName: string } | undefined {
  const scope = (client as { _instrumentationScope?: unknown })._instrumentationScope;
  if (typeof scope !== 'function') {
    const byClass =
      CLOUD_CLASSES[(client as { constructor?: { name?: string } }).constructor?.name ?? ''];
    if (byClass !== undefined && !warnedNoScope) {
      warnedNoScope = true;
      diag.warn(
        `tokenfuse: an Anthropic ${byClass.id === 'bedrock' ? 'Bedrock' : 'Vertex'} client no longer names its platform (_instrumentationScope); ` +
          'told apart by its class name instead. Please report this SDK version to tokenfuse.',
      );
    }
    return byClass;
  }
  let platform: unknown;
  try {
    platform = (scope as () => { platform?: unknown } | undefined).call(client)?.platform;
  } catch {
    return undefined;
  }
  if (platform === 'bedrock') return BEDROCK;
  if (platform === 'vertex') return VERTEX;
  return undefined;
}

/** Request options the wrapper may copy: an object that is no promise of options. */
function isOptions(options: unknown): options is Record<string, unknown> {
  return (
    options !== null &&
    typeof options === 'object' &&
    typeof (options as { then?: unknown }).then !== 'function'
  );
}

export const anthropicSdk: SdkAdapter<undefined> = {
  module: ANTHROPIC_MODULE,
  support: ANTHROPIC_SUPPORT,
  createSession: () => undefined,
  load(moduleExports) {
    const Anthropic = anthropicClass(moduleExports);
    if (!Anthropic) {
      diag.warn(
        'tokenfuse: the @anthropic-ai/sdk module has no Anthropic class; calls are not instrumented',
      );
      return undefined;
    }
    return {
      promises: openAIPromises(apiPromiseFactory(moduleExports, Anthropic)),
      patchPoints: [
        {
          target: Anthropic.Messages?.prototype,
          method: 'create',
          name: 'messages.create',
          operation: messagesAdapter,
        },
        {
          target: Anthropic.Beta?.Messages?.prototype,
          method: 'create',
          name: 'beta.messages.create',
          operation: messagesAdapter,
        },
      ],
    };
  },
  readRequest(thisArg, args) {
    // Indexed, not destructured: an array pattern runs the iterator protocol per call.
    const body = args[0];
    const options = args[1] as Record<string, unknown> | null | undefined;
    const client = (thisArg as SdkResource | undefined)?._client;
    const readable = options == null || isOptions(options);
    // 1.x stream helpers start the SDK's own call span before calling `create` and
    // pass it down here (`__span`): a sibling of ours, not its parent or child.
    const cloud = client ? cloudProvider(client) : undefined;
    const sdkSpan = readable
      ? (options?.__span as { span?: unknown } | undefined)?.span
      : undefined;
    const request: SdkRequest = {
      body,
      headers: options?.headers,
      headersReadable: readable,
      client: client
        ? { baseURL: client.baseURL, apiKey: client.apiKey, object: client, provider: ANTHROPIC }
        : undefined,
    };
    // Set only when present (no spread of a temporary object per call).
    if (cloud !== undefined) {
      request.provider = cloud;
      if (!namesPlatform(client!)) request.providerIssue = 'provider_by_class_name';
    }
    if (typeof sdkSpan === 'object' && sdkSpan !== null) request.sdkSpan = sdkSpan;
    return request;
  },
  rebuildArgs(args, body, headers) {
    const [, options, ...rest] = args as [unknown, { headers?: unknown } | undefined, ...unknown[]];
    const requestOptions = headers === options?.headers ? options : { ...options, headers };
    return [body, requestOptions, ...rest];
  },
};
