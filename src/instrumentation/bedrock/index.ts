/**
 * The AWS SDK's Bedrock Runtime client (`@aws-sdk/client-bedrock-runtime`):
 * Converse, ConverseStream, InvokeModel and InvokeModelWithResponseStream.
 *
 * The hook is `BedrockRuntimeClient.prototype.send`, not the client's middleware
 * stack: the prototype covers every client, those built before the
 * instrumentation included (a middleware is added per client instance), and the
 * wrapper runs before `send` resolves the middleware, so a blocked command
 * rejects before anything is serialized, signed or sent; one `send` is one call
 * whatever the SDK's own retries (which sit in the stack) do. The aggregated
 * `BedrockRuntime` client's methods go through the same `send`. Any other command
 * (ApplyGuardrail, CountTokens, async invokes) is sent untouched.
 */
import { diag } from '@opentelemetry/api';
import { genAiProviderName } from '../../pricing/providers.js';
import type { OperationAdapter, SdkAdapter } from '../sdk-adapter.js';
import { converseAdapter, converseStreamAdapter } from './converse.js';
import { invokeAdapter, invokeStreamAdapter } from './invoke.js';
import { bedrockPromises } from './promises.js';
import { type BedrockRequest, isObject, parseJsonBytes } from './read.js';
import { BEDROCK_SUPPORT } from './support.js';

/** A Bedrock client is Bedrock whatever its endpoint (a VPC endpoint, a proxy). */
const BEDROCK = Object.freeze({ id: 'bedrock', semconvName: genAiProviderName('bedrock') });

/** Versions of `@aws-sdk/client-bedrock-runtime` whose shapes tokenfuse knows. */
export const SUPPORTED_BEDROCK_VERSIONS = ['>=3.700.0 <4'];

/** The commands that are model calls, by their exported class name. */
const OPERATIONS: Record<string, OperationAdapter<BedrockRequest>> = {
  ConverseCommand: converseAdapter,
  ConverseStreamCommand: converseStreamAdapter,
  InvokeModelCommand: invokeAdapter,
  InvokeModelWithResponseStreamCommand: invokeStreamAdapter,
};

/** The module's exports (CommonJS exports or an ESM namespace). */
function exportsOf(moduleExports: any): any {
  return moduleExports?.[Symbol.toStringTag] === 'Module' &&
    moduleExports.BedrockRuntimeClient === undefined
    ? moduleExports.default
    : moduleExports;
}

export const bedrockSdk: SdkAdapter<undefined> = {
  module: { name: '@aws-sdk/client-bedrock-runtime', versions: SUPPORTED_BEDROCK_VERSIONS },
  support: BEDROCK_SUPPORT,
  createSession: () => undefined,
  load(moduleExports) {
    const mod = exportsOf(moduleExports);
    const Client = mod?.BedrockRuntimeClient;
    if (typeof Client !== 'function') {
      diag.warn(
        'tokenfuse: @aws-sdk/client-bedrock-runtime has no BedrockRuntimeClient; calls are not instrumented',
      );
      return undefined;
    }
    // The command classes of this copy of the module (CommonJS and ESM copies differ).
    const byClass = new Map<unknown, OperationAdapter<BedrockRequest>>();
    for (const [name, adapter] of Object.entries(OPERATIONS)) {
      if (typeof mod[name] === 'function') byClass.set(mod[name], adapter);
      else diag.warn(`tokenfuse: @aws-sdk/client-bedrock-runtime has no ${name} to instrument`);
    }
    return {
      promises: bedrockPromises,
      patchPoints: [
        {
          target: Client.prototype,
          method: 'send',
          name: 'BedrockRuntimeClient.send',
          operationOf(_thisArg, args) {
            const adapter = byClass.get((args[0] as { constructor?: unknown } | null)?.constructor);
            return adapter;
          },
          // `send(command, callback)` and `send(command, options, callback)`.
          callbackLast: true,
        },
      ],
    };
  },
  readRequest(_thisArg, args) {
    const input = (args[0] as { input?: unknown } | null)?.input;
    const body: BedrockRequest = {
      input: isObject(input) ? input : {},
      payload: isObject(input) ? parseJsonBytes(input.body) : undefined,
    };
    return {
      body,
      // Bedrock has no per-request headers to attribute from (docs/sdks.md, Amazon Bedrock).
      headers: undefined,
      headersReadable: false,
      // The client's region and endpoint are async providers: the server is not known
      // before the request; the provider is Bedrock whatever the endpoint.
      client: isObject(_thisArg)
        ? { baseURL: undefined, apiKey: undefined, object: _thisArg, provider: BEDROCK }
        : undefined,
    };
  },
  // The command is sent as the caller built it.
  rebuildArgs: (args) => args,
};
