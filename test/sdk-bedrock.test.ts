// Amazon Bedrock through the real AWS SDK (`@aws-sdk/client-bedrock-runtime`) over HTTP/2
// against the local fake (examples/shared/fake-bedrock.mjs): Converse, ConverseStream,
// InvokeModel and InvokeModelWithResponseStream with Anthropic and Amazon Nova bodies. Exact
// tokens and dollars on /metrics (dollars = calcPrice of the catalog's `aws` provider for the
// same usage and model id), span attributes, attribution, a fuse that blocks with no request
// sent, a throttled call, and an abandoned stream.

import { createRequire } from 'node:module';
import type * as BedrockModule from '@aws-sdk/client-bedrock-runtime';
import { diag } from '@opentelemetry/api';
import { hrTimeToMilliseconds } from '@opentelemetry/core';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { calcPrice, type Usage } from '@pydantic/genai-prices';
import { afterEach, describe, expect, it } from 'vitest';
import { isBudgetExceededError, withAttribution } from '../src/index.js';
import { converseStreamAdapter } from '../src/instrumentation/bedrock/converse.js';
import { inputTokenCount } from '../src/pricing/estimate-tokens.js';
import type { TokenfuseOptions } from '../src/types.js';
import { rejection } from './helpers/budget-calls.js';
import { captureDiag } from './helpers/diag.js';
import { useFakeServerHarness } from './helpers/fake-server-harness.js';
import type { Harness } from './helpers/harness.js';
import { sum } from './helpers/prom-text.js';
import { useRedisServer } from './helpers/redis.js';
import { behaviourSuite } from './sdk/behaviour.js';
import { bedrockDriver } from './sdk/drivers/bedrock.js';

const require = createRequire(import.meta.url);
// Loaded before any instrumentation: each harness patches this very copy (and unpatches it).
const bedrock = require('@aws-sdk/client-bedrock-runtime') as typeof BedrockModule;
const {
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  InvokeModelCommand,
  InvokeModelWithResponseStreamCommand,
  ThrottlingException,
} = bedrock;
const BEDROCK_VERSION: string = require('@aws-sdk/client-bedrock-runtime/package.json').version;

/** A cross-region inference profile: the catalog prices it as the regional model. */
const CLAUDE = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';
const NOVA = 'amazon.nova-pro-v1:0';

const { llm: fake, harness } = useFakeServerHarness();
let h: Harness | undefined;

afterEach(() => {
  if (h) for (const def of bedrockDefinitions(h)) def.unpatch?.(bedrock);
  h = undefined;
});

function bedrockDefinitions(harness: Harness): any[] {
  return (harness.tokenfuse.instrumentation as any)
    .getModuleDefinitions()
    .filter((d: { name: string }) => d.name === '@aws-sdk/client-bedrock-runtime');
}

async function setup(options: TokenfuseOptions = {}) {
  h = await harness(options);
  for (const def of bedrockDefinitions(h)) def.patch?.(bedrock, BEDROCK_VERSION);
  return new BedrockRuntimeClient({
    region: 'us-east-1',
    endpoint: fake.bedrockUrl,
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'x' },
  });
}

function onlySpan(): ReadableSpan {
  const spans = h!.spans();
  expect(spans).toHaveLength(1);
  return spans[0]!;
}

/** The catalog's price of `usage` for the span's call, at the span's start time. */
function catalogPrice(span: ReadableSpan, usage: Usage, model: string): number {
  const timestamp = new Date(hrTimeToMilliseconds(span.startTime));
  const r = calcPrice(usage, model, { providerId: 'aws', timestamp });
  if (r === null) throw new Error(`catalog has no aws/${model}`);
  return r.total_price;
}

async function tokens(labels: Record<string, string> = {}) {
  const m = await h!.scrape();
  const out: Record<string, number> = {};
  for (const type of ['input', 'cache_read', 'cache_write', 'output'])
    out[type] = sum(m, 'tokenfuse_tokens_total', { provider: 'bedrock', ...labels, type });
  return { m, tokens: out };
}

/** system (4 words + 3) + one message (3 words + 3) = 13 prompt tokens; a cachePoint caches. */
const CACHED_CONVERSE = {
  modelId: CLAUDE,
  system: [{ text: 'be brief and kind' }, { cachePoint: { type: 'default' as const } }],
  messages: [{ role: 'user' as const, content: [{ text: 'hello there friend' }] }],
  inferenceConfig: { maxTokens: 100, temperature: 0.5 },
};
/** 13 prompt tokens: read floor(13/2) = 6, write floor(13/4) = 3, uncached 4; 5 output. */
const CACHED_USAGE: Usage = {
  input_tokens: 13,
  cache_read_tokens: 6,
  cache_write_tokens: 3,
  output_tokens: 5,
};

// The shared behaviour suite (test/sdk/behaviour.ts), Converse and InvokeModel.
behaviourSuite(bedrockDriver('converse'));
behaviourSuite(bedrockDriver('invoke'));

describe('Converse', () => {
  it('counts exact tokens (cache reads and writes apart) and the catalog dollars', async () => {
    const client = await setup();
    const out = await client.send(new ConverseCommand(CACHED_CONVERSE));
    expect(out.usage).toEqual({
      inputTokens: 4,
      outputTokens: 5,
      totalTokens: 18,
      cacheReadInputTokens: 6,
      cacheWriteInputTokens: 3,
    });

    const span = onlySpan();
    const usd = catalogPrice(span, CACHED_USAGE, CLAUDE);
    // The regional profile costs more than the global one: the model id decides.
    expect(usd).not.toBe(catalogPrice(span, CACHED_USAGE, CLAUDE.replace(/^us\./, 'global.')));
    const { m, tokens: t } = await tokens({ model: CLAUDE });
    expect(t).toEqual({ input: 4, cache_read: 6, cache_write: 3, output: 5 });
    expect(sum(m, 'tokenfuse_cost_usd_total', { provider: 'bedrock', model: CLAUDE })).toBeCloseTo(
      usd,
      12,
    );
    expect(sum(m, 'tokenfuse_requests_total', { provider: 'bedrock', outcome: 'ok' })).toBe(1);

    expect(span.name).toBe(`chat ${CLAUDE}`);
    expect(span.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'aws.bedrock',
      'gen_ai.request.model': CLAUDE,
      'gen_ai.request.max_tokens': 100,
      'gen_ai.request.temperature': 0.5,
      'gen_ai.response.finish_reasons': ['end_turn'],
      'gen_ai.usage.input_tokens': 13,
      'gen_ai.usage.output_tokens': 5,
      'gen_ai.usage.cache_read.input_tokens': 6,
      'gen_ai.usage.cache_creation.input_tokens': 3,
      'tokenfuse.api': 'bedrock.converse',
      'tokenfuse.provider': 'bedrock',
      'tokenfuse.usage.estimated': false,
      'tokenfuse.priced': true,
    });
    expect(span.attributes['tokenfuse.cost.usd']).toBeCloseTo(usd, 12);
    // The endpoint is an async setting of the client: no server is named before sending.
    expect(span.attributes['server.address']).toBeUndefined();
  });

  it('attributes the call from withAttribution', async () => {
    const client = await setup();
    await withAttribution({ department: 'research', project: 'atlas' }, () =>
      client.send(new ConverseCommand(CACHED_CONVERSE)),
    );
    expect(onlySpan().attributes).toMatchObject({
      'tokenfuse.department': 'research',
      'tokenfuse.project': 'atlas',
    });
    const { m } = await tokens();
    expect(sum(m, 'tokenfuse_requests_total', { department: 'research', project: 'atlas' })).toBe(
      1,
    );
  });

  it('a fuse blocks the command before any request reaches Bedrock', async () => {
    const client = await setup({
      budgets: [{ name: 'tiny', window: 'day', limit: { requests: 1 } }],
    });
    await client.send(new ConverseCommand(CACHED_CONVERSE));
    fake.reset();
    const err = await rejection(client.send(new ConverseCommand(CACHED_CONVERSE)));
    expect(isBudgetExceededError(err)).toBe(true);
    expect((err as { budget: string }).budget).toBe('tiny');
    expect(fake.requests).toHaveLength(0);
    const span = h!.spans()[1]!;
    expect(span.attributes).toMatchObject({
      'tokenfuse.budget.name': 'tiny',
      'error.type': 'BudgetExceededError',
    });
    const { m } = await tokens();
    expect(sum(m, 'tokenfuse_requests_total', { provider: 'bedrock', outcome: 'blocked' })).toBe(1);
  });

  it('a 429 (ThrottlingException) ends the span and releases the reservation', async () => {
    const client = await setup({
      budgets: [{ name: 'room', window: 'day', limit: { tokens: 100 } }],
    });
    const throttled = new BedrockRuntimeClient({
      region: 'us-east-1',
      endpoint: fake.bedrockUrl,
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'x' },
      maxAttempts: 1,
    });
    fake.enqueue({ kind: 'error', status: 429 });
    const err = await rejection(throttled.send(new ConverseCommand(CACHED_CONVERSE)));
    expect(err).toBeInstanceOf(ThrottlingException);
    const span = onlySpan();
    expect(span.attributes['error.type']).toBe('ThrottlingException');
    expect(span.status.code).toBe(2);
    // A call reserves its input and its 100-token maxTokens, the whole 100-token budget:
    // the second call is admitted only if the first one's reservation was released.
    await client.send(new ConverseCommand(CACHED_CONVERSE));
    expect(fake.requests).toHaveLength(2);
    const { m } = await tokens();
    expect(sum(m, 'tokenfuse_requests_total', { provider: 'bedrock', outcome: 'error' })).toBe(1);
    expect(sum(m, 'tokenfuse_requests_total', { provider: 'bedrock', outcome: 'ok' })).toBe(1);
  });
});

describe('ConverseStream', () => {
  it('reads usage from the metadata event, cache counts included', async () => {
    const client = await setup();
    const out = await client.send(new ConverseStreamCommand(CACHED_CONVERSE));
    let text = '';
    for await (const event of out.stream!) text += event.contentBlockDelta?.delta?.text ?? '';
    expect(text).toBe(`Hello from ${CLAUDE} Hello from`);

    const span = onlySpan();
    const usd = catalogPrice(span, CACHED_USAGE, CLAUDE);
    const { m, tokens: t } = await tokens({ model: CLAUDE });
    expect(t).toEqual({ input: 4, cache_read: 6, cache_write: 3, output: 5 });
    expect(sum(m, 'tokenfuse_cost_usd_total', { provider: 'bedrock' })).toBeCloseTo(usd, 12);
    expect(span.attributes).toMatchObject({
      'gen_ai.provider.name': 'aws.bedrock',
      'tokenfuse.api': 'bedrock.converse_stream',
      'gen_ai.response.finish_reasons': ['end_turn'],
      'gen_ai.usage.input_tokens': 13,
      'gen_ai.usage.output_tokens': 5,
      'tokenfuse.usage.estimated': false,
    });
  });

  it('an abandoned stream ends its span and releases its reservation', async () => {
    const client = await setup({
      budgets: [{ name: 'room', window: 'day', limit: { tokens: 100 } }],
    });
    const out = await client.send(new ConverseStreamCommand(CACHED_CONVERSE));
    for await (const event of out.stream!) {
      if (event.contentBlockDelta) break;
    }
    const span = onlySpan();
    expect(span.attributes).toMatchObject({
      'tokenfuse.stream.abandoned': true,
      'tokenfuse.usage.estimated': true,
    });
    // Settled on what it streamed, not on its reservation of the whole 100-token budget:
    // a second call is admitted.
    const again = await client.send(new ConverseCommand(CACHED_CONVERSE));
    expect(again.usage?.outputTokens).toBe(5);
  });
});

/** Anthropic's Messages body: (3 + 3) prompt tokens, a cache_control marker caches. */
const ANTHROPIC_BODY = {
  anthropic_version: 'bedrock-2023-05-31',
  max_tokens: 64,
  messages: [
    {
      role: 'user',
      content: [{ type: 'text', text: 'one two three', cache_control: { type: 'ephemeral' } }],
    },
  ],
};
/** Prompt 6: read floor(6/2) = 3, write floor(6/4) = 1, uncached 2; 5 output. */
const ANTHROPIC_USAGE: Usage = {
  input_tokens: 6,
  cache_read_tokens: 3,
  cache_write_tokens: 1,
  output_tokens: 5,
};

describe('InvokeModel', () => {
  it('reads an Anthropic body and its usage as Anthropic reports it', async () => {
    const client = await setup();
    const out = await client.send(
      new InvokeModelCommand({ modelId: CLAUDE, body: JSON.stringify(ANTHROPIC_BODY) }),
    );
    const json = JSON.parse(out.body.transformToString());
    expect(json.usage).toEqual({
      input_tokens: 2,
      cache_creation_input_tokens: 1,
      cache_read_input_tokens: 3,
      output_tokens: 5,
    });
    const span = onlySpan();
    const usd = catalogPrice(span, ANTHROPIC_USAGE, CLAUDE);
    const { m, tokens: t } = await tokens({ model: CLAUDE });
    expect(t).toEqual({ input: 2, cache_read: 3, cache_write: 1, output: 5 });
    expect(sum(m, 'tokenfuse_cost_usd_total', { provider: 'bedrock' })).toBeCloseTo(usd, 12);
    expect(span.attributes).toMatchObject({
      'gen_ai.provider.name': 'aws.bedrock',
      'tokenfuse.api': 'bedrock.invoke_model',
      'gen_ai.request.max_tokens': 64,
      'gen_ai.response.id': json.id,
      'gen_ai.response.finish_reasons': ['end_turn'],
      'gen_ai.usage.input_tokens': 6,
    });
  });

  it('reads an Amazon Nova body and its usage', async () => {
    const client = await setup();
    const body = {
      schemaVersion: 'messages-v1',
      messages: [{ role: 'user', content: [{ text: 'hi there' }] }],
      inferenceConfig: { max_new_tokens: 3 },
    };
    await client.send(new InvokeModelCommand({ modelId: NOVA, body: JSON.stringify(body) }));
    // 2 words + 3 = 5 input; max_new_tokens 3 → 3 output words.
    const span = onlySpan();
    const usd = catalogPrice(span, { input_tokens: 5, output_tokens: 3 }, NOVA);
    const { m, tokens: t } = await tokens({ model: NOVA });
    expect(t).toEqual({ input: 5, cache_read: 0, cache_write: 0, output: 3 });
    expect(sum(m, 'tokenfuse_cost_usd_total', { provider: 'bedrock' })).toBeCloseTo(usd, 12);
    expect(span.attributes).toMatchObject({
      'gen_ai.request.max_tokens': 3,
      'gen_ai.response.finish_reasons': ['max_tokens'],
    });
  });
});

describe('InvokeModelWithResponseStream', () => {
  it('merges Anthropic stream usage from message_start and message_delta', async () => {
    const client = await setup();
    const out = await client.send(
      new InvokeModelWithResponseStreamCommand({
        modelId: CLAUDE,
        body: JSON.stringify(ANTHROPIC_BODY),
      }),
    );
    const types: string[] = [];
    for await (const event of out.body!) {
      types.push(JSON.parse(new TextDecoder().decode(event.chunk!.bytes)).type);
    }
    expect(types.at(-1)).toBe('message_stop');
    const span = onlySpan();
    const usd = catalogPrice(span, ANTHROPIC_USAGE, CLAUDE);
    const { m, tokens: t } = await tokens({ model: CLAUDE });
    expect(t).toEqual({ input: 2, cache_read: 3, cache_write: 1, output: 5 });
    expect(sum(m, 'tokenfuse_cost_usd_total', { provider: 'bedrock' })).toBeCloseTo(usd, 12);
    expect(span.attributes).toMatchObject({
      'tokenfuse.api': 'bedrock.invoke_model_with_response_stream',
      'gen_ai.response.finish_reasons': ['end_turn'],
      'gen_ai.usage.output_tokens': 5,
      'tokenfuse.usage.estimated': false,
    });
  });

  it('reads Amazon Nova stream usage from its metadata chunk', async () => {
    const client = await setup();
    const body = {
      schemaVersion: 'messages-v1',
      messages: [{ role: 'user', content: [{ text: 'hi there' }] }],
    };
    const out = await client.send(
      new InvokeModelWithResponseStreamCommand({ modelId: NOVA, body: JSON.stringify(body) }),
    );
    for await (const _ of out.body!) {
      // drain
    }
    const span = onlySpan();
    const usd = catalogPrice(span, { input_tokens: 5, output_tokens: 5 }, NOVA);
    const { m, tokens: t } = await tokens({ model: NOVA });
    expect(t).toEqual({ input: 5, cache_read: 0, cache_write: 0, output: 5 });
    expect(sum(m, 'tokenfuse_cost_usd_total', { provider: 'bedrock' })).toBeCloseTo(usd, 12);
  });
});

describe('stream cut-off', () => {
  it('ends a ConverseStream that pushes a cutOffStreams budget over its limit', async () => {
    // The prompt as the admission tokenizes it (its length bound does not fit the budget),
    // plus 2 streamed pieces: the third piece passes the limit.
    const input = inputTokenCount(
      converseStreamAdapter.billedInput({ input: CACHED_CONVERSE, payload: undefined }),
    );
    const client = await setup({
      budgets: [{ name: 'hard', window: 'day', limit: { tokens: input + 2 }, cutOffStreams: true }],
    });
    const out = await client.send(new ConverseStreamCommand(CACHED_CONVERSE));
    const pieces: string[] = [];
    const err = await (async () => {
      for await (const event of out.stream!) {
        const text = event.contentBlockDelta?.delta?.text;
        if (text) pieces.push(text);
      }
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isBudgetExceededError(err)).toBe(true);
    expect((err as { budget: string }).budget).toBe('hard');
    expect(pieces).toEqual(['Hello', ' from']);
    const span = onlySpan();
    expect(span.attributes['tokenfuse.stream.cut_off']).toBe(true);
    expect(span.attributes['tokenfuse.usage.estimated']).toBe(true);
  });
});

describe('failures and other forms', () => {
  it('a stream cut midway ends the call as failed, counted on what it streamed', async () => {
    const client = await setup();
    // messageStart and two text deltas ("Hello", " from"), then the connection drops.
    fake.enqueue({ kind: 'stream-cut', afterChunks: 3 });
    const out = await client.send(new ConverseStreamCommand(CACHED_CONVERSE));
    const err = await (async () => {
      try {
        for await (const _ of out.stream!) {
          // read until it fails
        }
      } catch (e) {
        return e;
      }
      throw new Error('expected the stream to fail');
    })();
    const span = onlySpan();
    expect(span.status.code).toBe(2);
    // The reset HTTP/2 stream surfaces as Node's own error, named by its code.
    expect((err as { code?: string }).code).toBe('ERR_HTTP2_STREAM_ERROR');
    expect(span.attributes['error.type']).toBe('ERR_HTTP2_STREAM_ERROR');
    expect(span.attributes['tokenfuse.usage.estimated']).toBe(true);
    const { m } = await tokens();
    expect(sum(m, 'tokenfuse_requests_total', { provider: 'bedrock', outcome: 'error' })).toBe(1);
    expect(sum(m, 'tokenfuse_tokens_total', { provider: 'bedrock', type: 'output' })).toBe(2);
  });

  it('counts the callback form, and a fuse blocks it before anything is sent', async () => {
    const client = await setup({
      budgets: [{ name: 'tiny', window: 'day', limit: { requests: 1 } }],
    });
    const viaCallback = (options?: { abortSignal?: AbortSignal }) =>
      new Promise<any>((resolve, reject) => {
        const done = (err: unknown, data: unknown) => (err ? reject(err) : resolve(data));
        if (options) client.send(new ConverseCommand(CACHED_CONVERSE), options, done);
        else client.send(new ConverseCommand(CACHED_CONVERSE), done);
      });
    const out = await viaCallback();
    expect(out.usage.outputTokens).toBe(5);
    expect(fake.requests).toHaveLength(1);
    expect(onlySpan().attributes).toMatchObject({
      'tokenfuse.api': 'bedrock.converse',
      'gen_ai.usage.output_tokens': 5,
    });
    const { tokens: t } = await tokens({ model: CLAUDE });
    expect(t).toEqual({ input: 4, cache_read: 6, cache_write: 3, output: 5 });
    // The budget's one request is spent: the callback gets the BudgetExceededError, unsent.
    const err = await rejection(viaCallback({ abortSignal: new AbortController().signal }));
    expect(isBudgetExceededError(err)).toBe(true);
    expect(fake.requests).toHaveLength(1);
  });

  it('sends commands that are no model call untouched', async () => {
    const client = await setup();
    await client
      .send(new bedrock.GetAsyncInvokeCommand({ invocationArn: 'arn:x' }))
      .catch(() => undefined);
    expect(h!.spans()).toHaveLength(0);
  });

  it('unpatching gives the client back the send it inherits, so a later patch of it is reached', async () => {
    const proto = BedrockRuntimeClient.prototype as { send: unknown };
    const base = Object.getPrototypeOf(proto) as { send: (...args: unknown[]) => unknown };
    // The earlier tests' patches and unpatches left nothing behind.
    expect(Object.hasOwn(proto, 'send')).toBe(false);
    const client = await setup();
    expect(Object.hasOwn(proto, 'send')).toBe(true);
    for (const def of bedrockDefinitions(h!)) def.unpatch?.(bedrock);
    expect(Object.hasOwn(proto, 'send')).toBe(false);
    expect(proto.send).toBe(base.send);

    // Another instrumentation that patches the base class now (as
    // @opentelemetry/instrumentation-aws-sdk patches @smithy/core's Client) sees Bedrock's calls.
    const original = base.send;
    let seen = 0;
    base.send = function countingSend(this: unknown, ...args: unknown[]) {
      seen++;
      return original.apply(this, args);
    };
    try {
      await client.send(new ConverseCommand(CACHED_CONVERSE));
    } finally {
      base.send = original;
    }
    expect(seen).toBe(1);
    expect(fake.requests).toHaveLength(1);
    expect(h!.spans()).toHaveLength(0);
  });
});

describe('a module tokenfuse cannot read', () => {
  it("is handed back as it is, without failing the app's import: counted, and logged once", async () => {
    const messages = captureDiag();
    try {
      await setup();
      const internal = async () =>
        sum(await h!.scrape(), 'tokenfuse_internal_errors_total', {
          component: 'instrumentation',
        });
      const before = await internal();
      // An export whose getter throws, as a module still initialising does through an ESM hook.
      const hostile = {
        get BedrockRuntimeClient(): never {
          throw new Error('BedrockRuntimeClient is not initialised yet');
        },
      };
      const defs = bedrockDefinitions(h!);
      for (const def of defs) {
        expect(def.patch(hostile, BEDROCK_VERSION)).toBe(hostile);
        expect(def.patch(hostile, BEDROCK_VERSION)).toBe(hostile);
      }
      expect((await internal()) - before).toBe(2 * defs.length);
      const logged = messages.filter((m) =>
        m.includes('instrumenting @aws-sdk/client-bedrock-runtime failed'),
      );
      expect(logged).toHaveLength(1);
      expect(logged[0]).toContain(`version ${BEDROCK_VERSION}`);
      expect(logged[0]).toContain('BedrockRuntimeClient is not initialised yet');
    } finally {
      diag.disable();
    }
  });
});

describe('with the shared Redis ledger (admission answers asynchronously)', () => {
  const redis = useRedisServer();

  it('sends an admitted command once admitted, and rejects a blocked one unsent', async () => {
    const client = await setup({
      ledger: { store: 'redis', url: redis.url, keyPrefix: `tf-bedrock-${process.pid}:` },
      budgets: [{ name: 'shared', window: 'day', limit: { requests: 1 } }],
    });
    const out = await client.send(new ConverseStreamCommand(CACHED_CONVERSE));
    for await (const _ of out.stream!) {
      // drain
    }
    const err = await rejection(client.send(new ConverseCommand(CACHED_CONVERSE)));
    expect(isBudgetExceededError(err)).toBe(true);
    expect(fake.requests).toHaveLength(1);
    const { tokens: t } = await tokens();
    expect(t).toEqual({ input: 4, cache_read: 6, cache_write: 3, output: 5 });
    await h!.tokenfuse.fuses.close();
  });
});
