import { createRequire } from 'node:module';
import type * as GenAI from '@google/genai';
import { calcPrice } from '@pydantic/genai-prices';
import { afterEach, describe, expect, it } from 'vitest';
import { type BudgetExceededError, isBudgetExceededError, withAttribution } from '../src/index.js';
import type { TokenfuseOptions } from '../src/types.js';
import { rejection } from './helpers/budget-calls.js';
import { useFakeServerHarness } from './helpers/fake-server-harness.js';
import type { Harness } from './helpers/harness.js';
import { App, childEnv, freePort } from './helpers/processes.js';
import { parsePrometheusText, sum } from './helpers/prom-text.js';
import { useRedisServer } from './helpers/redis.js';
import { behaviourSuite } from './sdk/behaviour.js';
import { googleGenAiDriver, googleGenAiDriverFor } from './sdk/drivers/google-genai.js';

// The CommonJS build, the one the instrumentation's require hook patches.
const require = createRequire(import.meta.url);
const genai = require('@google/genai') as typeof GenAI;
const MODULE_NAME = '@google/genai';

// The shared behaviour suite (test/sdk/behaviour.ts); client-wide headers declared away.
// Each supported major, installed side by side (npm aliases for the older two).
behaviourSuite(googleGenAiDriver);
behaviourSuite(googleGenAiDriverFor('google-genai-v2'));
behaviourSuite(googleGenAiDriverFor('google-genai-v1'));

const { llm, harness } = useFakeServerHarness();
let h: Harness | undefined;
let ai: GenAI.GoogleGenAI;

const isPatched = () => Boolean((genai.Models.prototype as any).generateContentInternal.__wrapped);

function definitions(harness: Harness): any[] {
  return (harness.tokenfuse.instrumentation as any)
    .getModuleDefinitions()
    .filter((d: any) => d.name === MODULE_NAME);
}

async function setup(options: TokenfuseOptions = {}): Promise<Harness> {
  h = await harness({
    attribution: { defaults: { department: 'platform', project: 'core', environment: 'test' } },
    ...options,
  });
  // An earlier harness in this worker may have loaded (and unpatched) the module.
  if (!isPatched()) for (const def of definitions(h)) def.patch(genai, '3.3.0');
  ai = new genai.GoogleGenAI({ apiKey: 'gemini-test-key', httpOptions: { baseUrl: llm.url } });
  return h;
}

afterEach(() => {
  if (h && isPatched()) for (const def of definitions(h)) def.unpatch(genai);
  h = undefined;
});

const labels = (model: string) => ({
  department: 'platform',
  project: 'core',
  environment: 'test',
  provider: 'google',
  model,
});

const price = (usage: Record<string, number>, model: string) =>
  calcPrice(usage, model, { providerId: 'google' })!.total_price;

describe('models.generateContent', () => {
  it('records exact tokens (thoughts as output and reasoning), dollars = calcPrice, and span attributes', async () => {
    await setup();
    // 5 words + 3 = 8 prompt tokens; thinking 10; 5 reply words.
    const response = await ai.models.generateContent({
      model: 'gemini-2.5-pro',
      contents: 'name three colours of autumn',
      config: { maxOutputTokens: 50, temperature: 0.2, thinkingConfig: { thinkingBudget: 64 } },
    });
    expect(response.usageMetadata).toMatchObject({
      promptTokenCount: 8,
      candidatesTokenCount: 5,
      thoughtsTokenCount: 10,
    });

    const m = await h!.scrape();
    const l = labels('gemini-2.5-pro');
    expect(sum(m, 'tokenfuse_tokens_total', { ...l, type: 'input' })).toBe(8);
    expect(sum(m, 'tokenfuse_tokens_total', { ...l, type: 'cache_read' })).toBe(0);
    expect(sum(m, 'tokenfuse_tokens_total', { ...l, type: 'output' })).toBe(15);
    const usd = price(
      { input_tokens: 8, output_tokens: 15, output_reasoning_tokens: 10 },
      'gemini-2.5-pro',
    );
    expect(usd).toBeGreaterThan(0);
    expect(sum(m, 'tokenfuse_cost_usd_total', l)).toBeCloseTo(usd, 12);
    expect(sum(m, 'tokenfuse_requests_total', { ...l, outcome: 'ok' })).toBe(1);
    expect(sum(m, 'tokenfuse_unpriced_total')).toBe(0);

    expect(h!.spans()).toHaveLength(1);
    const span = h!.spans()[0]!;
    expect(span.name).toBe('chat gemini-2.5-pro');
    expect(span.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'gcp.gemini',
      'gen_ai.request.model': 'gemini-2.5-pro',
      'gen_ai.request.max_tokens': 50,
      'gen_ai.request.temperature': 0.2,
      'gen_ai.response.model': 'gemini-2.5-pro',
      'gen_ai.response.id': response.responseId,
      'gen_ai.response.finish_reasons': ['STOP'],
      'gen_ai.usage.input_tokens': 8,
      'gen_ai.usage.output_tokens': 15,
      'gen_ai.usage.reasoning.output_tokens': 10,
      'server.address': '127.0.0.1',
      'tokenfuse.api': 'models.generateContent',
      'tokenfuse.provider': 'google',
      'tokenfuse.department': 'platform',
      'tokenfuse.usage.estimated': false,
      'tokenfuse.priced': true,
    });
    expect(span.attributes['tokenfuse.cost.usd']).toBeCloseTo(usd, 15);
  });

  it('prices the context-size tier: above 200k input the whole call at the tier price, exactly 200k at base', async () => {
    await setup();
    const call = () =>
      ai.models.generateContent({ model: 'gemini-2.5-pro', contents: 'long document' });
    llm.enqueue({
      kind: 'usage',
      usage: {
        promptTokenCount: 250000,
        cachedContentTokenCount: 200000,
        candidatesTokenCount: 300,
        thoughtsTokenCount: 120,
      } as any,
    });
    await call();
    let m = await h!.scrape();
    const l = labels('gemini-2.5-pro');
    expect(sum(m, 'tokenfuse_tokens_total', { ...l, type: 'input' })).toBe(50000);
    expect(sum(m, 'tokenfuse_tokens_total', { ...l, type: 'cache_read' })).toBe(200000);
    expect(sum(m, 'tokenfuse_tokens_total', { ...l, type: 'output' })).toBe(420);
    const above = price(
      { input_tokens: 250000, cache_read_tokens: 200000, output_tokens: 420 },
      'gemini-2.5-pro',
    );
    expect(above).toBeCloseTo(0.1813, 12);
    expect(sum(m, 'tokenfuse_cost_usd_total', l)).toBeCloseTo(above, 12);

    llm.enqueue({
      kind: 'usage',
      usage: { promptTokenCount: 200000, candidatesTokenCount: 420 } as any,
    });
    await call();
    m = await h!.scrape();
    const base = price({ input_tokens: 200000, output_tokens: 420 }, 'gemini-2.5-pro');
    expect(base).toBeCloseTo(0.2542, 12);
    expect(sum(m, 'tokenfuse_cost_usd_total', l)).toBeCloseTo(above + base, 12);
  });

  it('counts tool-use prompt tokens as input, inside the tier decision', async () => {
    await setup();
    llm.enqueue({
      kind: 'usage',
      usage: {
        promptTokenCount: 199990,
        toolUsePromptTokenCount: 40,
        candidatesTokenCount: 420,
      } as any,
    });
    await ai.models.generateContent({ model: 'gemini-2.5-pro', contents: 'x' });
    const m = await h!.scrape();
    const l = labels('gemini-2.5-pro');
    expect(sum(m, 'tokenfuse_tokens_total', { ...l, type: 'input' })).toBe(200030);
    const usd = price(
      { input_tokens: 200030, input_tool_tokens: 40, output_tokens: 420 },
      'gemini-2.5-pro',
    );
    // Above 200k only with the tool-use tokens: the tier price.
    expect(usd).toBeCloseTo((200030 * 2.5 + 420 * 15) / 1e6, 12);
    expect(sum(m, 'tokenfuse_cost_usd_total', l)).toBeCloseTo(usd, 12);
  });

  it('counts a usage field that is no token count as 0, says so, and marks the call estimated', async () => {
    await setup();
    llm.enqueue({
      kind: 'usage',
      usage: { promptTokenCount: 12, candidatesTokenCount: -3, thoughtsTokenCount: '7' } as any,
    });
    await ai.models.generateContent({ model: 'models/gemini-2.5-flash', contents: 'x' });
    const m = await h!.scrape();
    const l = labels('gemini-2.5-flash');
    expect(sum(m, 'tokenfuse_tokens_total', { ...l, type: 'input' })).toBe(12);
    expect(sum(m, 'tokenfuse_tokens_total', { ...l, type: 'output' })).toBe(0);
    const invalid = (field: string) =>
      sum(m, 'tokenfuse_usage_invalid_total', { provider: 'google', model: l.model, field });
    expect(invalid('candidatesTokenCount')).toBe(1);
    expect(invalid('thoughtsTokenCount')).toBe(1);
    // `models/…` names the same model as the catalog knows it.
    expect(h!.spans()[0]!.attributes).toMatchObject({
      'gen_ai.request.model': 'gemini-2.5-flash',
      'tokenfuse.usage.estimated': true,
      'tokenfuse.priced': true,
    });
  });

  it('attributes by withAttribution and by per-request headers, which never reach the server', async () => {
    await setup();
    await withAttribution({ department: 'marketing' }, () =>
      ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'x' }),
    );
    await ai.models.generateContent({
      model: 'gemini-2.5-flash',
      contents: 'x',
      config: { httpOptions: { headers: { 'X-Department': 'search', 'X-Trace': 'keep' } } },
    });
    const m = await h!.scrape();
    const l = { ...labels('gemini-2.5-flash'), outcome: 'ok' };
    expect(sum(m, 'tokenfuse_requests_total', { ...l, department: 'marketing' })).toBe(1);
    expect(sum(m, 'tokenfuse_requests_total', { ...l, department: 'search' })).toBe(1);
    expect(llm.requests).toHaveLength(2);
    expect(llm.requests[1]!.headers['x-department']).toBeUndefined();
    expect(llm.requests[1]!.headers['x-trace']).toBe('keep');
  });

  it('counts each request of a chat (chats.create().sendMessage)', async () => {
    await setup();
    const chat = ai.chats.create({ model: 'gemini-2.5-flash' });
    await chat.sendMessage({ message: 'hello there' });
    await chat.sendMessage({ message: 'and again' });
    const m = await h!.scrape();
    const l = labels('gemini-2.5-flash');
    expect(sum(m, 'tokenfuse_requests_total', { ...l, outcome: 'ok' })).toBe(2);
    // First: 2 words + 3; second: the history (5 + 8) plus 2 words + 3.
    expect(llm.requests).toHaveLength(2);
    expect(sum(m, 'tokenfuse_tokens_total', { ...l, type: 'input' })).toBe(5 + 5 + 8 + 5);
    expect(sum(m, 'tokenfuse_tokens_total', { ...l, type: 'output' })).toBe(10);
    expect(h!.spans()).toHaveLength(2);
  });

  it('a fuse blocks with a rejected promise and no request reaching the server', async () => {
    await setup({ budgets: [{ name: 'one', window: 'hour', limit: { requests: 1 } }] });
    await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'x' });
    const err = await rejection(
      ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'x' }),
    );
    expect(isBudgetExceededError(err)).toBe(true);
    expect((err as BudgetExceededError).budget).toBe('one');
    const streamErr = await rejection(
      ai.models.generateContentStream({ model: 'gemini-2.5-flash', contents: 'x' }),
    );
    expect(isBudgetExceededError(streamErr)).toBe(true);
    const embedErr = await rejection(
      ai.models.embedContent({ model: 'gemini-embedding-001', contents: 'x' }),
    );
    expect(isBudgetExceededError(embedErr)).toBe(true);
    expect(llm.requests).toHaveLength(1);
    const m = await h!.scrape();
    expect(
      sum(m, 'tokenfuse_requests_total', {
        ...labels('gemini-2.5-flash'),
        outcome: 'blocked',
      }),
    ).toBe(2);
  });

  it('a 429 ends the span with the error and releases the reservation', async () => {
    // Each call reserves its input and 200 output tokens: a reservation left behind
    // would block the next call.
    await setup({ budgets: [{ name: 'b', window: 'hour', limit: { tokens: 300 } }] });
    const call = () =>
      ai.models.generateContent({
        model: 'gemini-2.5-flash',
        contents: 'x',
        config: { maxOutputTokens: 200 },
      });
    llm.enqueue({ kind: 'error', status: 429 });
    const err = await rejection(call());
    expect(err).toBeInstanceOf(genai.ApiError);
    expect((err as GenAI.ApiError).status).toBe(429);
    const span = h!.spans()[0]!;
    expect(span.status.code).toBe(2);
    expect(span.attributes['error.type']).toBe('ApiError');
    await call();
    expect(llm.requests).toHaveLength(2);
    const m = await h!.scrape();
    const l = labels('gemini-2.5-flash');
    expect(sum(m, 'tokenfuse_requests_total', { ...l, outcome: 'error' })).toBe(1);
    expect(sum(m, 'tokenfuse_requests_total', { ...l, outcome: 'ok' })).toBe(1);
  });

  it('embedContent counts input tokens from usageMetadata', async () => {
    await setup();
    await ai.models.embedContent({
      model: 'gemini-embedding-001',
      contents: ['one two three', 'four five'],
    });
    const m = await h!.scrape();
    const l = labels('gemini-embedding-001');
    expect(sum(m, 'tokenfuse_tokens_total', { ...l, type: 'input' })).toBe(5);
    expect(sum(m, 'tokenfuse_cost_usd_total', l)).toBeCloseTo(
      price({ input_tokens: 5 }, 'gemini-embedding-001'),
      15,
    );
    expect(h!.spans()[0]!.attributes).toMatchObject({
      'gen_ai.operation.name': 'embeddings',
      'tokenfuse.api': 'models.embedContent',
      'gen_ai.usage.input_tokens': 5,
    });
  });

  it('a Vertex AI client is provider google, gen_ai.provider.name gcp.vertex_ai', async () => {
    await setup();
    const vertex = new genai.GoogleGenAI({
      vertexai: true,
      apiKey: 'vertex-express-key',
      httpOptions: { baseUrl: llm.url },
    });
    // The fake serves the Gemini API's paths only: the call fails, but it is counted.
    await vertex.models
      .generateContent({ model: 'gemini-2.5-flash', contents: 'x' })
      .catch(() => 0);
    const span = h!.spans()[0]!;
    expect(span.attributes).toMatchObject({
      'gen_ai.provider.name': 'gcp.vertex_ai',
      'tokenfuse.provider': 'google',
    });
  });
});

describe('models.generateContentStream', () => {
  it('takes the last chunk usage, never a sum', async () => {
    await setup();
    const stream = await ai.models.generateContentStream({
      model: 'gemini-2.5-flash',
      contents: 'name three colours of autumn',
    });
    let text = '';
    for await (const chunk of stream) text += chunk.text ?? '';
    expect(text).toBe('Hello from gemini-2.5-flash Hello from');
    const m = await h!.scrape();
    const l = labels('gemini-2.5-flash');
    expect(sum(m, 'tokenfuse_tokens_total', { ...l, type: 'input' })).toBe(8);
    expect(sum(m, 'tokenfuse_tokens_total', { ...l, type: 'output' })).toBe(5);
    expect(sum(m, 'tokenfuse_cost_usd_total', l)).toBeCloseTo(
      price({ input_tokens: 8, output_tokens: 5 }, 'gemini-2.5-flash'),
      15,
    );
    const span = h!.spans()[0]!;
    expect(span.attributes).toMatchObject({
      'tokenfuse.api': 'models.generateContentStream',
      'gen_ai.response.finish_reasons': ['STOP'],
      'gen_ai.usage.input_tokens': 8,
      'gen_ai.usage.output_tokens': 5,
      'tokenfuse.usage.estimated': false,
    });
  });

  it('counts a chat stream (sendMessageStream) once', async () => {
    await setup();
    const chat = ai.chats.create({ model: 'gemini-2.5-flash' });
    let text = '';
    for await (const chunk of await chat.sendMessageStream({ message: 'hello there' }))
      text += chunk.text ?? '';
    expect(text).toBe('Hello from gemini-2.5-flash Hello from');
    // The SDK keeps the user turn and each streamed chunk, as it does uninstrumented.
    expect(chat.getHistory()).toHaveLength(6);
    const m = await h!.scrape();
    const l = labels('gemini-2.5-flash');
    expect(sum(m, 'tokenfuse_requests_total', { ...l, outcome: 'ok' })).toBe(1);
    expect(sum(m, 'tokenfuse_tokens_total', { ...l, type: 'input' })).toBe(5);
    expect(sum(m, 'tokenfuse_tokens_total', { ...l, type: 'output' })).toBe(5);
  });

  it('an abandoned stream ends the span and releases the reservation', async () => {
    await setup({ budgets: [{ name: 'b', window: 'hour', limit: { tokens: 300 } }] });
    const open = () =>
      ai.models.generateContentStream({
        model: 'gemini-2.5-flash',
        contents: 'x',
        config: { maxOutputTokens: 200 },
      });
    const stream = await open();
    for await (const _chunk of stream) break;
    const span = h!.spans()[0]!;
    expect(span.attributes['tokenfuse.stream.abandoned']).toBe(true);
    expect(span.attributes['tokenfuse.usage.estimated']).toBe(true);
    // The reservation was released: a second call of the same size is admitted.
    for await (const _chunk of await open()) {
    }
    expect(llm.requests).toHaveLength(2);
  });

  it('a budget with cutOffStreams ends the stream once its output pushes it over', async () => {
    await setup({
      budgets: [{ name: 'hard', window: 'hour', limit: { tokens: 3 }, cutOffStreams: true }],
    });
    const stream = await ai.models.generateContentStream({
      model: 'gemini-2.5-flash',
      contents: 'x',
      config: { maxOutputTokens: 100 },
    });
    let chunks = 0;
    const err = await (async () => {
      for await (const _chunk of stream) chunks++;
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isBudgetExceededError(err)).toBe(true);
    expect((err as BudgetExceededError).budget).toBe('hard');
    expect(chunks).toBe(CUT_CHUNKS);
    const span = h!.spans()[0]!;
    expect(span.attributes['tokenfuse.stream.cut_off']).toBe(true);
    expect(span.attributes['tokenfuse.usage.estimated']).toBe(true);
  });

  it('a connection cut mid-stream ends the span as an error with what streamed', async () => {
    await setup();
    llm.enqueue({ kind: 'stream-cut', afterChunks: 2 });
    const stream = await ai.models.generateContentStream({
      model: 'gemini-2.5-flash',
      contents: 'x',
    });
    const err = await (async () => {
      for await (const _chunk of stream) {
      }
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    const span = h!.spans()[0]!;
    expect(span.status.code).toBe(2);
    expect(span.attributes['tokenfuse.usage.estimated']).toBe(true);
    const m = await h!.scrape();
    expect(
      sum(m, 'tokenfuse_requests_total', { ...labels('gemini-2.5-flash'), outcome: 'error' }),
    ).toBe(1);
  });
});

const CUT_CHUNKS = 2;

// Zero-code startup, as a user runs it (needs `npm run build`: `tokenfuse/register` is dist/).
describe.each([
  { flag: '--import', app: 'test/fixtures/apps/gemini-app.mjs' },
  { flag: '--require', app: 'test/fixtures/apps/gemini-app.cjs' },
])('node $flag tokenfuse/register, @google/genai', ({ flag, app: appFile }) => {
  it('counts the call and the stream, attributed and priced, the header stripped', async () => {
    const port = await freePort();
    const app = new App([flag, 'tokenfuse/register', appFile], {
      ...childEnv({
        LLM_BASE_URL: llm.url,
        OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
        TOKENFUSE_DEPARTMENT: 'platform',
      }),
    });
    try {
      expect(JSON.parse(await app.firstLine())).toEqual({ ready: true, chunks: 5 });
      const m = parsePrometheusText(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
      const l = { provider: 'google', model: 'gemini-2.5-flash' };
      // "one two three" = 6 input, 4 output (research); "stream please" = 5 input, 5 output.
      const research = { ...l, department: 'research' };
      const platform = { ...l, department: 'platform' };
      expect(sum(m, 'tokenfuse_tokens_total', { ...research, type: 'input' })).toBe(6);
      expect(sum(m, 'tokenfuse_tokens_total', { ...research, type: 'output' })).toBe(4);
      expect(sum(m, 'tokenfuse_tokens_total', { ...platform, type: 'input' })).toBe(5);
      expect(sum(m, 'tokenfuse_tokens_total', { ...platform, type: 'output' })).toBe(5);
      expect(sum(m, 'tokenfuse_cost_usd_total', research)).toBeCloseTo(
        price({ input_tokens: 6, output_tokens: 4 }, 'gemini-2.5-flash'),
        15,
      );
      expect(sum(m, 'tokenfuse_cost_usd_total', platform)).toBeCloseTo(
        price({ input_tokens: 5, output_tokens: 5 }, 'gemini-2.5-flash'),
        15,
      );
      expect(llm.requests.map((r) => r.headers['x-department'])).toEqual([undefined, undefined]);
    } finally {
      await app.kill();
    }
  });
});

describe('with the shared Redis ledger (admission answers later)', () => {
  const redis = useRedisServer();

  it('sends an admitted call once admitted, and rejects a blocked one with nothing sent', async () => {
    await setup({
      budgets: [{ name: 'one', window: 'hour', limit: { requests: 1 } }],
      ledger: { store: 'redis', url: redis.url, keyPrefix: `tf-genai-${process.pid}:` },
    });
    try {
      const admitted = ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'x' });
      expect(admitted).toBeInstanceOf(Promise);
      expect((await admitted).text).toBe('Hello from gemini-2.5-flash Hello from');
      const stream = await ai.models
        .generateContentStream({
          model: 'gemini-2.5-flash',
          contents: 'x',
        })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(isBudgetExceededError(stream)).toBe(true);
      expect(llm.requests).toHaveLength(1);
      const m = await h!.scrape();
      const l = labels('gemini-2.5-flash');
      expect(sum(m, 'tokenfuse_requests_total', { ...l, outcome: 'ok' })).toBe(1);
      expect(sum(m, 'tokenfuse_requests_total', { ...l, outcome: 'blocked' })).toBe(1);
      expect(sum(m, 'tokenfuse_tokens_total', { ...l, type: 'input' })).toBe(4);
    } finally {
      await h!.tokenfuse.fuses.close();
    }
  });
});
