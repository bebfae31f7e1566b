/**
 * `@aws-sdk/client-bedrock-runtime` for the shared behaviour suite: `Converse` /
 * `ConverseStream`, or `InvokeModel` / `InvokeModelWithResponseStream` with Anthropic's
 * Messages body, through the real client over HTTP/2 to the fake's Bedrock paths
 * (examples/shared/fake-bedrock.mjs: prompt = words + 3 per message; reply =
 * min(5, max tokens) words).
 */
import { createRequire } from 'node:module';
import type * as BedrockModule from '@aws-sdk/client-bedrock-runtime';
import type { Harness } from '../../helpers/harness.js';
import type { CallSpec, SdkDriver } from '../driver.js';

const require = createRequire(import.meta.url);
const bedrock = require('@aws-sdk/client-bedrock-runtime') as typeof BedrockModule;
const VERSION: string = require('@aws-sdk/client-bedrock-runtime/package.json').version;
const MODULE_NAME = '@aws-sdk/client-bedrock-runtime';
/** A cross-region inference profile, priced as the catalog's regional model. */
const MODEL = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';
const words = (text: string) => text.split(/\s+/).filter(Boolean).length;
const decoder = new TextDecoder();

type Api = 'converse' | 'invoke';

/**
 * Adds `headers` to every request a client or a command sends, the way an AWS SDK user
 * adds headers: a build-step middleware (the SDK's `send` options carry none).
 */
function addHeaders(
  stack: { add: (mw: any, options: { step: 'build'; name: string }) => void },
  headers: Record<string, string>,
  name: string,
) {
  stack.add(
    (next: any) => async (args: any) => {
      Object.assign(args.request.headers, headers);
      return next(args);
    },
    { step: 'build', name },
  );
}

function commandFor(api: Api, spec: CallSpec, stream: boolean) {
  const command =
    api === 'converse'
      ? new (stream ? bedrock.ConverseStreamCommand : bedrock.ConverseCommand)({
          modelId: MODEL,
          messages: [{ role: 'user', content: [{ text: spec.prompt }] }],
          inferenceConfig: { maxTokens: spec.maxTokens },
        })
      : new (stream ? bedrock.InvokeModelWithResponseStreamCommand : bedrock.InvokeModelCommand)({
          modelId: MODEL,
          contentType: 'application/json',
          body: JSON.stringify({
            anthropic_version: 'bedrock-2023-05-31',
            max_tokens: spec.maxTokens,
            messages: [{ role: 'user', content: [{ type: 'text', text: spec.prompt }] }],
          }),
        });
  if (spec.headers) addHeaders(command.middlewareStack as any, spec.headers, 'testRequestHeaders');
  return command;
}

/** Text of one streamed item, or undefined when it carries none. */
function streamText(api: Api, event: any): string | undefined {
  if (api === 'converse') return event.contentBlockDelta?.delta?.text;
  if (!event.chunk?.bytes) return undefined;
  const part = JSON.parse(decoder.decode(event.chunk.bytes));
  return part.type === 'content_block_delta' ? part.delta?.text : undefined;
}

/** Bedrock through one pair of commands (plain and streamed). */
export function bedrockDriver(api: Api): SdkDriver {
  return {
    name: `${MODULE_NAME} ${VERSION} (${api === 'converse' ? 'Converse, ConverseStream' : 'InvokeModel, InvokeModelWithResponseStream'})`,
    harnessOptions: {},
    install(h: Harness) {
      const defs = (h.tokenfuse.instrumentation as any)
        .getModuleDefinitions()
        .filter((d: { name: string }) => d.name === MODULE_NAME);
      for (const def of defs) def.patch?.(bedrock, VERSION);
      return () => {
        for (const def of defs) def.unpatch?.(bedrock);
      };
    },
    connect(fakeUrl, defaultHeaders) {
      const client = new bedrock.BedrockRuntimeClient({
        region: 'us-east-1',
        endpoint: fakeUrl,
        credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'x' },
        maxAttempts: 1,
      });
      if (defaultHeaders)
        addHeaders(client.middlewareStack as any, defaultHeaders, 'testClientHeaders');
      const send = (spec: CallSpec, stream: boolean) =>
        client.send(
          commandFor(api, spec, stream) as any,
          spec.signal ? { abortSignal: spec.signal } : undefined,
        );
      return {
        call: (spec) => send(spec, false),
        text(result: any) {
          if (api === 'converse')
            return result.output.message.content
              .map((b: { text?: string }) => b.text ?? '')
              .join('');
          const body = JSON.parse(decoder.decode(result.body));
          return body.content.map((b: { text?: string }) => b.text ?? '').join('');
        },
        async stream(spec, read = {}) {
          const out: any = await send(spec, true);
          let text = '';
          let items = 0;
          for await (const event of api === 'converse' ? out.stream : out.body) {
            const delta = streamText(api, event);
            if (delta === undefined) continue;
            text += delta;
            items++;
            if (read.stopAfter !== undefined && items >= read.stopAfter) break;
          }
          return { text, items };
        },
      };
    },
    // `client.send` is an async function: its promise is the SDK's own.
    fakeListener: 'bedrock',
    isSdkPromise: (value) => value instanceof Promise,
    statusOf: (err) =>
      (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode,
    capabilities: { clientHeaders: false, requestHeaders: false, serverAddress: false },
    model: MODEL,
    provider: 'bedrock',
    catalogProvider: 'aws',
    providerName: 'aws.bedrock',
    api: api === 'converse' ? 'bedrock.converse' : 'bedrock.invoke_model',
    streamApi:
      api === 'converse' ? 'bedrock.converse_stream' : 'bedrock.invoke_model_with_response_stream',
    usage: (spec) => ({
      input_tokens: words(spec.prompt) + 3,
      output_tokens: Math.min(5, spec.maxTokens),
    }),
    isModelRequest: (path) => path.startsWith('/model/'),
  };
}
