// @opentelemetry/instrumentation-aws-sdk (part of @opentelemetry/auto-instrumentations-node, so
// on in many AWS services) beside tokenfuse on Bedrock: it makes a GenAI span of its own for
// every Converse call. Real AWS SDK over HTTP/2 against the local fake
// (examples/shared/fake-bedrock.mjs). Beside tokenfuse's patch, each call is counted once, by
// tokenfuse (its span is the parent of theirs, which the span processor then leaves alone);
// alone, with tokenfuse's span processor, each call is counted once from their span, as observed
// spend, with what that span says (it reports no cache tokens).
//
// Patched by hand, as a require hook would at load: their patch wraps `send` of the
// @smithy/core Client that BedrockRuntimeClient inherits from; tokenfuse's wraps
// BedrockRuntimeClient's own, so tokenfuse's runs first whatever the order.
import { createRequire } from 'node:module';
import type * as BedrockModule from '@aws-sdk/client-bedrock-runtime';
import { hrTimeToMilliseconds } from '@opentelemetry/core';
import { AwsInstrumentation } from '@opentelemetry/instrumentation-aws-sdk';
import { calcPrice } from '@pydantic/genai-prices';
import { afterEach, describe, expect, it } from 'vitest';
import { withAttribution } from '../src/index.js';
import { useFakeServerHarness } from './helpers/fake-server-harness.js';
import type { Harness } from './helpers/harness.js';
import { sum } from './helpers/prom-text.js';

const require = createRequire(import.meta.url);
const bedrock = require('@aws-sdk/client-bedrock-runtime') as typeof BedrockModule;
const { BedrockRuntimeClient, ConverseCommand } = bedrock;
const BEDROCK_VERSION: string = require('@aws-sdk/client-bedrock-runtime/package.json').version;
const fromClient = createRequire(require.resolve('@aws-sdk/client-bedrock-runtime'));
/** The @smithy/core the loaded client is built on, and the file of it their patch targets. */
const smithyClient = fromClient('@smithy/core/client');
const SMITHY_VERSION: string = fromClient('@smithy/core/package.json').version;
const SMITHY_FILE = '@smithy/core/dist-cjs/submodules/client/index.js';
const AWS_SCOPE = '@opentelemetry/instrumentation-aws-sdk';

const CLAUDE = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';
/** 13 prompt tokens, of which the fake reports 6 read from and 3 written to the cache; 5 out. */
const CACHED_CONVERSE = {
  modelId: CLAUDE,
  system: [{ text: 'be brief and kind' }, { cachePoint: { type: 'default' as const } }],
  messages: [{ role: 'user' as const, content: [{ text: 'hello there friend' }] }],
  inferenceConfig: { maxTokens: 100 },
};

const { llm: fake, harness } = useFakeServerHarness();
let h: Harness | undefined;
let unwind: (() => void)[] = [];

afterEach(() => {
  for (const undo of unwind.reverse()) undo();
  unwind = [];
  h = undefined;
});

type Definition = {
  name: string;
  patch?: (m: unknown, v?: string) => unknown;
  unpatch?: (m: unknown) => void;
  files?: Definition[];
};

function patchTokenfuse(harness: Harness): void {
  const defs = (harness.tokenfuse.instrumentation as { getModuleDefinitions(): Definition[] })
    .getModuleDefinitions()
    .filter((d) => d.name === '@aws-sdk/client-bedrock-runtime');
  for (const def of defs) def.patch?.(bedrock, BEDROCK_VERSION);
  unwind.push(() => {
    for (const def of defs) def.unpatch?.(bedrock);
  });
}

/** Their instrumentation on the harness's providers, its Client patch applied by hand. */
function patchAwsSdk(harness: Harness): void {
  // Off at construction: no require hooks, the loaded module is patched below.
  const aws = new AwsInstrumentation({ enabled: false });
  aws.setTracerProvider(harness.tracerProvider);
  const file = aws
    .getModuleDefinitions()
    .flatMap((d) => d.files)
    .find((f) => f.name === SMITHY_FILE);
  if (!file) throw new Error(`instrumentation-aws-sdk patches no ${SMITHY_FILE} any more`);
  file.patch(smithyClient, SMITHY_VERSION);
  unwind.push(() => file.unpatch(smithyClient, SMITHY_VERSION));
}

const newClient = () =>
  new BedrockRuntimeClient({
    region: 'us-east-1',
    endpoint: fake.bedrockUrl,
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'x' },
  });

const spansOf = (scope: string) => h!.spans().filter((s) => s.instrumentationScope.name === scope);

function catalogUsd(
  usage: Parameters<typeof calcPrice>[0],
  at: Parameters<typeof hrTimeToMilliseconds>[0],
): number {
  const r = calcPrice(usage, CLAUDE, {
    providerId: 'aws',
    timestamp: new Date(hrTimeToMilliseconds(at)),
  });
  if (r === null) throw new Error(`the catalog has no aws/${CLAUDE}`);
  return r.total_price;
}

describe('instrumentation-aws-sdk beside tokenfuse on Bedrock: each call counted once', () => {
  it('tokenfuse counts the call (ok) and leaves their child span unpriced, in either patch order', async () => {
    for (const order of ['theirs first', 'ours first'] as const) {
      h = await harness({});
      if (order === 'theirs first') {
        patchAwsSdk(h);
        patchTokenfuse(h);
      } else {
        patchTokenfuse(h);
        patchAwsSdk(h);
      }
      // Their patch of the base class, which every AWS client in the process sends through,
      // survives ours: tokenfuse wraps only Bedrock's client, and unwraps nothing of theirs.
      const base = Object.getPrototypeOf(BedrockRuntimeClient.prototype) as { send: unknown };
      expect(base.send).toBe(smithyClient.Client.prototype.send);
      expect((base.send as { __wrapped?: boolean }).__wrapped).toBe(true);
      const requestsBefore = fake.requests.length;
      await withAttribution({ department: 'research' }, () =>
        newClient().send(new ConverseCommand(CACHED_CONVERSE)),
      );
      expect(fake.requests.length - requestsBefore).toBe(1);

      const [ours] = spansOf('tokenfuse');
      const [theirs] = spansOf(AWS_SCOPE);
      expect(spansOf('tokenfuse')).toHaveLength(1);
      expect(spansOf(AWS_SCOPE)).toHaveLength(1);
      // Theirs describes the same call, inside ours: covered, so not priced or counted again.
      expect(theirs!.parentSpanContext?.spanId).toBe(ours!.spanContext().spanId);
      expect(theirs!.attributes['gen_ai.usage.input_tokens']).toBe(4);
      expect(theirs!.attributes['tokenfuse.cost.usd']).toBeUndefined();

      const m = await h.scrape();
      const labels = { department: 'research', provider: 'bedrock', model: CLAUDE };
      expect(sum(m, 'tokenfuse_requests_total')).toBe(1);
      expect(sum(m, 'tokenfuse_requests_total', { ...labels, outcome: 'ok' })).toBe(1);
      for (const [type, n] of Object.entries({ input: 4, cache_read: 6, cache_write: 3 }))
        expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type })).toBe(n);
      expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'output' })).toBe(5);
      const usd = catalogUsd(
        { input_tokens: 13, cache_read_tokens: 6, cache_write_tokens: 3, output_tokens: 5 },
        ours!.startTime,
      );
      expect(sum(m, 'tokenfuse_cost_usd_total', labels)).toBeCloseTo(usd, 12);

      for (const undo of unwind.reverse()) undo();
      unwind = [];
    }
  });
});

describe("instrumentation-aws-sdk alone, with tokenfuse's span processor", () => {
  it('prices each call once from its span, as observed spend, without the cache tokens it does not report', async () => {
    h = await harness({});
    patchAwsSdk(h);
    await withAttribution({ department: 'research' }, () =>
      newClient().send(new ConverseCommand(CACHED_CONVERSE)),
    );

    expect(spansOf('tokenfuse')).toHaveLength(0);
    const [theirs] = spansOf(AWS_SCOPE);
    expect(spansOf(AWS_SCOPE)).toHaveLength(1);
    // Converse's inputTokens leaves out the 6 read and 3 written: their span says 4 in, 5 out.
    const usd = catalogUsd({ input_tokens: 4, output_tokens: 5 }, theirs!.startTime);
    expect(theirs!.attributes['tokenfuse.cost.usd']).toBeCloseTo(usd, 15);

    const m = await h.scrape();
    const labels = { department: 'research', provider: 'bedrock', model: CLAUDE };
    expect(sum(m, 'tokenfuse_requests_total')).toBe(1);
    expect(sum(m, 'tokenfuse_requests_total', { ...labels, outcome: 'observed' })).toBe(1);
    expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'input' })).toBe(4);
    expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'output' })).toBe(5);
    expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'cache_read' })).toBe(0);
    expect(sum(m, 'tokenfuse_cost_usd_total', labels)).toBeCloseTo(usd, 12);
  });
});
