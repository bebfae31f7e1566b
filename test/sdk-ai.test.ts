// The Vercel AI SDK (`ai` 6) under tokenfuseMiddleware(), through its real provider
// packages (`@ai-sdk/openai`, `@ai-sdk/anthropic`) over HTTP against the fake server.

import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAI } from '@ai-sdk/openai';
import { diag, SpanStatusCode } from '@opentelemetry/api';
import { calcPrice, type Usage } from '@pydantic/genai-prices';
import {
  embed,
  generateObject,
  generateText,
  stepCountIs,
  streamText,
  tool,
  wrapEmbeddingModel,
  wrapLanguageModel,
} from 'ai';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { chatPromptTokens, startFakeOpenAI } from '../examples/shared/fake-openai-server.mjs';
import {
  type BudgetExceededError,
  isBudgetExceededError,
  isModelNotAllowedError,
  tokenfuseMiddleware,
  withAttribution,
} from '../src/index.js';
import type { TokenfuseOptions } from '../src/types.js';
import { rejection } from './helpers/budget-calls.js';
import { captureDiag } from './helpers/diag.js';
import { useFakeServerHarness } from './helpers/fake-server-harness.js';
import type { Harness } from './helpers/harness.js';
import { sum } from './helpers/prom-text.js';
import { behaviourSuite } from './sdk/behaviour.js';
import { AI_SDK_MAJORS, aiSdkDriver } from './sdk/drivers/ai-sdk.js';

// The shared behaviour suite (test/sdk/behaviour.ts), per provider package, on `ai` 6 and 5
// (language-model spec v3 and v2: one middleware serves both).
for (const major of AI_SDK_MAJORS) {
  behaviourSuite(aiSdkDriver('openai', major));
  behaviourSuite(aiSdkDriver('anthropic', major));
  // generateObject / streamObject: the fake answers a JSON-schema request with JSON.
  behaviourSuite(aiSdkDriver('openai', major, 'object'));
}

const { llm, harness } = useFakeServerHarness();
let h: Harness | undefined;

afterEach(() => {
  h = undefined;
});

/** Dollars by the catalog for the usage the fake scripted. */
function usd(provider: string, model: string, usage: Usage): number {
  const price = calcPrice(usage, model, { providerId: provider });
  if (!price) throw new Error(`no catalog price for ${provider}/${model}`);
  return price.total_price;
}

async function setup(options: TokenfuseOptions = {}) {
  h = await harness({
    attribution: { defaults: { department: 'platform', project: 'core', environment: 'test' } },
    ...options,
  });
  const middleware = tokenfuseMiddleware({ tokenfuse: h.tokenfuse });
  const openai = createOpenAI({ baseURL: `${llm.url}/v1`, apiKey: 'sk-test-ai' });
  const anthropic = createAnthropic({ baseURL: `${llm.url}/v1`, apiKey: 'sk-ant-test' });
  return {
    h,
    middleware,
    /** OpenAI Chat Completions (`openai.chat(id)`). */
    openaiChat: (id: string) => wrapLanguageModel({ model: openai.chat(id), middleware }),
    /** OpenAI Responses (`openai(id)`, the provider's default). */
    openaiResponses: (id: string) => wrapLanguageModel({ model: openai(id), middleware }),
    claude: (id: string) => wrapLanguageModel({ model: anthropic(id), middleware }),
    embedder: (id: string) => wrapEmbeddingModel({ model: openai.embedding(id), middleware }),
  };
}

const base = { department: 'platform', project: 'core', environment: 'test' };

describe('generateText', () => {
  it('@ai-sdk/openai: exact tokens and dollars, the span, and per-call X-Department headers tag the call and are not sent', async () => {
    const { h, openaiChat } = await setup();
    // 6 words + 3 = 9 prompt tokens; 7 output tokens (the limit, fully used).
    const result = await generateText({
      model: openaiChat('gpt-4.1'),
      prompt: 'name three colours of the autumn',
      maxOutputTokens: 7,
      headers: { 'X-Department': 'sales', 'X-Project': 'web' },
    });
    expect(result.usage.inputTokens).toBe(9);
    expect(llm.requests).toHaveLength(1);
    expect(llm.requests[0]!.path).toBe('/v1/chat/completions');
    expect(llm.requests[0]!.headers['x-department']).toBeUndefined();
    expect(llm.requests[0]!.headers['x-project']).toBeUndefined();

    const labels = {
      ...base,
      department: 'sales',
      project: 'web',
      provider: 'openai',
      model: 'gpt-4.1',
    };
    const m = await h.scrape();
    expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'input' })).toBe(9);
    expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'output' })).toBe(7);
    expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'cache_read' })).toBe(0);
    const dollars = usd('openai', 'gpt-4.1', { input_tokens: 9, output_tokens: 7 });
    expect(sum(m, 'tokenfuse_cost_usd_total', labels)).toBeCloseTo(dollars, 12);
    expect(sum(m, 'tokenfuse_requests_total', { ...labels, outcome: 'ok' })).toBe(1);
    expect(sum(m, 'tokenfuse_requests_total')).toBe(1);

    expect(h.spans()).toHaveLength(1);
    const span = h.spans()[0]!;
    expect(span.name).toBe('chat gpt-4.1');
    expect(span.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4.1',
      'gen_ai.request.max_tokens': 7,
      'gen_ai.response.model': 'gpt-4.1',
      'gen_ai.response.id': result.response.id,
      'gen_ai.response.finish_reasons': ['length'],
      'gen_ai.usage.input_tokens': 9,
      'gen_ai.usage.output_tokens': 7,
      'tokenfuse.api': 'ai-sdk.language-model',
      'tokenfuse.provider': 'openai',
      'tokenfuse.department': 'sales',
      'tokenfuse.project': 'web',
      'tokenfuse.environment': 'test',
      'tokenfuse.usage.estimated': false,
      'tokenfuse.priced': true,
    });
    expect(span.attributes['tokenfuse.cost.usd']).toBeCloseTo(dollars, 15);
  });

  it('@ai-sdk/anthropic with prompt caching: cache reads and writes (from the provider usage) at their rates, tagged by withAttribution', async () => {
    const { h, claude } = await setup();
    // 7 words + 3 = 10 prompt tokens; the cache marker makes the fake read 5 and write 2
    // (input_tokens 3, excluding both); 5 reply words.
    const result = await withAttribution({ department: 'research' }, () =>
      generateText({
        model: claude('claude-sonnet-4-5'),
        messages: [
          {
            role: 'user',
            content: 'name three colours of the autumn please',
            providerOptions: { anthropic: { cacheControl: { type: 'ephemeral' } } },
          },
        ],
      }),
    );
    expect(result.usage.inputTokenDetails.cacheReadTokens).toBe(5);
    expect(result.usage.inputTokenDetails.cacheWriteTokens).toBe(2);
    expect(llm.requests[0]!.path).toBe('/v1/messages');

    const labels = {
      ...base,
      department: 'research',
      provider: 'anthropic',
      model: 'claude-sonnet-4-5',
    };
    const m = await h.scrape();
    expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'input' })).toBe(3);
    expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'cache_read' })).toBe(5);
    expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'cache_write' })).toBe(2);
    expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'output' })).toBe(5);
    const dollars = usd('anthropic', 'claude-sonnet-4-5', {
      input_tokens: 10,
      cache_read_tokens: 5,
      cache_write_tokens: 2,
      output_tokens: 5,
    });
    expect(sum(m, 'tokenfuse_cost_usd_total', labels)).toBeCloseTo(dollars, 12);
    const span = h.spans()[0]!;
    expect(span.attributes).toMatchObject({
      'gen_ai.provider.name': 'anthropic',
      'gen_ai.request.model': 'claude-sonnet-4-5',
      'gen_ai.usage.input_tokens': 10,
      'gen_ai.usage.cache_read.input_tokens': 5,
      'gen_ai.usage.cache_creation.input_tokens': 2,
      'gen_ai.usage.output_tokens': 5,
      'tokenfuse.department': 'research',
      'tokenfuse.provider': 'anthropic',
    });
    expect(span.attributes['tokenfuse.cost.usd']).toBeCloseTo(dollars, 15);
  });
});

describe('generateObject', () => {
  it('@ai-sdk/openai: the structured call is priced from its usage, cached and reasoning tokens included', async () => {
    const { h, openaiChat } = await setup();
    llm.enqueue({
      kind: 'raw',
      body: {
        id: 'chatcmpl-object',
        object: 'chat.completion',
        created: 1,
        model: 'gpt-4.1',
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: '{"colour":"red"}' },
            finish_reason: 'stop',
          },
        ],
        usage: {
          prompt_tokens: 40,
          completion_tokens: 12,
          total_tokens: 52,
          prompt_tokens_details: { cached_tokens: 16 },
          completion_tokens_details: { reasoning_tokens: 4 },
        },
      },
    });
    const { object } = await generateObject({
      model: openaiChat('gpt-4.1'),
      schema: z.object({ colour: z.string() }),
      prompt: 'one colour',
    });
    expect(object).toEqual({ colour: 'red' });
    const labels = { ...base, provider: 'openai', model: 'gpt-4.1' };
    const m = await h.scrape();
    expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'input' })).toBe(24);
    expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'cache_read' })).toBe(16);
    expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'output' })).toBe(12);
    const dollars = usd('openai', 'gpt-4.1', {
      input_tokens: 40,
      cache_read_tokens: 16,
      output_tokens: 12,
    });
    expect(sum(m, 'tokenfuse_cost_usd_total', labels)).toBeCloseTo(dollars, 12);
    expect(h.spans()[0]!.attributes).toMatchObject({
      'gen_ai.response.id': 'chatcmpl-object',
      'gen_ai.usage.input_tokens': 40,
      'gen_ai.usage.cache_read.input_tokens': 16,
      'gen_ai.usage.reasoning.output_tokens': 4,
      'gen_ai.usage.output_tokens': 12,
    });
  });
  it('@ai-sdk/anthropic: the structured call is priced from its usage, cache writes included', async () => {
    const { h, claude } = await setup();
    llm.enqueue({
      kind: 'raw',
      body: {
        id: 'msg_object',
        type: 'message',
        role: 'assistant',
        model: 'claude-sonnet-4-5',
        content: [{ type: 'text', text: '{"colour":"red"}' }],
        stop_reason: 'end_turn',
        stop_sequence: null,
        usage: {
          input_tokens: 21,
          cache_read_input_tokens: 3400,
          cache_creation_input_tokens: 1200,
          output_tokens: 87,
        },
      },
    });
    const { object } = await generateObject({
      model: claude('claude-sonnet-4-5'),
      schema: z.object({ colour: z.string() }),
      prompt: 'one colour',
    });
    expect(object).toEqual({ colour: 'red' });
    const labels = { ...base, provider: 'anthropic', model: 'claude-sonnet-4-5' };
    const m = await h.scrape();
    expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'input' })).toBe(21);
    expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'cache_read' })).toBe(3400);
    expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'cache_write' })).toBe(1200);
    expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'output' })).toBe(87);
    // All writes at the 5-minute rate: the AI SDK's usage does not split 5m from 1h.
    const dollars = usd('anthropic', 'claude-sonnet-4-5', {
      input_tokens: 4621,
      cache_read_tokens: 3400,
      cache_write_tokens: 1200,
      output_tokens: 87,
    });
    expect(dollars).toBeCloseTo(0.006888, 12);
    expect(sum(m, 'tokenfuse_cost_usd_total', labels)).toBeCloseTo(dollars, 12);
  });
});

describe('streamText', () => {
  it.each([
    ['@ai-sdk/openai (Responses)', 'openai', 'gpt-4.1', '/v1/responses'],
    ['@ai-sdk/anthropic', 'anthropic', 'claude-sonnet-4-5', '/v1/messages'],
  ] as const)(
    '%s: the stream ends the call with the usage of its finish part',
    async (_, provider, model, path) => {
      const s = await setup();
      const wrapped = provider === 'openai' ? s.openaiResponses(model) : s.claude(model);
      // 3 words + 3 = 6 input tokens; 5 reply words.
      const result = streamText({ model: wrapped, prompt: 'a b c' });
      const deltas: string[] = [];
      for await (const text of result.textStream) deltas.push(text);
      expect(deltas.join('')).toBe(`Hello from ${model} Hello from`);
      expect(llm.requests[0]!.path).toBe(path);

      const labels = { ...base, provider, model };
      const m = await s.h.scrape();
      expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'input' })).toBe(6);
      expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'output' })).toBe(5);
      const dollars = usd(provider, model, { input_tokens: 6, output_tokens: 5 });
      expect(sum(m, 'tokenfuse_cost_usd_total', labels)).toBeCloseTo(dollars, 12);
      expect(sum(m, 'tokenfuse_requests_total', { ...labels, outcome: 'ok' })).toBe(1);
      const span = s.h.spans()[0]!;
      expect(span.attributes).toMatchObject({
        'gen_ai.provider.name': provider,
        'gen_ai.usage.input_tokens': 6,
        'gen_ai.usage.output_tokens': 5,
        'gen_ai.response.finish_reasons': ['stop'],
        'tokenfuse.usage.estimated': false,
      });
      expect(span.attributes['tokenfuse.stream.abandoned']).toBeUndefined();
    },
  );

  it('a stream the caller aborts ends its call on what it streamed and releases its reservation', async () => {
    const slow = await startFakeOpenAI({ chunkDelayMs: 30 });
    try {
      h = await harness({
        budgets: [{ name: 'hourly', window: 'hour', limit: { tokens: 1000 } }],
      });
      const openai = createOpenAI({ baseURL: `${slow.url}/v1`, apiKey: 'sk' });
      const model = wrapLanguageModel({
        model: openai.chat('gpt-4.1'),
        middleware: tokenfuseMiddleware({ tokenfuse: h.tokenfuse }),
      });
      const abort = new AbortController();
      const result = streamText({
        model,
        prompt: 'x',
        maxOutputTokens: 50,
        abortSignal: abort.signal,
      });
      let parts = 0;
      for await (const _ of result.textStream) {
        parts++;
        if (parts === 2) abort.abort();
      }
      await expect.poll(() => h!.spans().length).toBe(1);
      const span = h.spans()[0]!;
      // The aborted request failed midway: billed for what it streamed (estimated).
      expect(span.status.code).toBe(SpanStatusCode.ERROR);
      expect(span.attributes).toMatchObject({
        'error.type': 'DOMException',
        'tokenfuse.usage.estimated': true,
        'gen_ai.usage.input_tokens': 7,
        'gen_ai.usage.output_tokens': 2,
      });
      const fuse = h.tokenfuse.fuses.get('hourly');
      expect(fuse.reserved).toEqual({ tokens: 0, usd: 0, requests: 0 });
      expect(fuse.spent.tokens).toBe(9);
      const m = await h.scrape();
      expect(sum(m, 'tokenfuse_requests_total', { outcome: 'error' })).toBe(1);
    } finally {
      await slow.close();
    }
  });

  it('a stream read straight from the wrapped model and cancelled is abandoned', async () => {
    const s = await setup({
      budgets: [{ name: 'hourly', window: 'hour', limit: { tokens: 1000 } }],
    });
    const model = s.openaiChat('gpt-4.1');
    const { stream } = await model.doStream({
      prompt: [{ role: 'user', content: [{ type: 'text', text: 'x' }] }],
      maxOutputTokens: 50,
    });
    const reader = stream.getReader();
    let text = '';
    while (text === '') {
      const { value } = await reader.read();
      if (value?.type === 'text-delta') text = value.delta;
    }
    await reader.cancel();
    const span = s.h.spans()[0]!;
    expect(span.attributes['tokenfuse.stream.abandoned']).toBe(true);
    expect(span.attributes['tokenfuse.usage.estimated']).toBe(true);
    expect(span.attributes['gen_ai.usage.output_tokens']).toBe(1);
    const fuse = s.h.tokenfuse.fuses.get('hourly');
    expect(fuse.reserved).toEqual({ tokens: 0, usd: 0, requests: 0 });
    expect(fuse.spent.tokens).toBe(8);
  });
});

describe('embed', () => {
  it('@ai-sdk/openai: input tokens only, priced as an embedding', async () => {
    const { h, embedder } = await setup();
    const { usage } = await withAttribution({ project: 'search' }, () =>
      embed({ model: embedder('text-embedding-3-small'), value: 'one two three' }),
    );
    expect(usage.tokens).toBe(3);
    const labels = {
      ...base,
      project: 'search',
      provider: 'openai',
      model: 'text-embedding-3-small',
    };
    const m = await h.scrape();
    expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'input' })).toBe(3);
    expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'output' })).toBe(0);
    const dollars = usd('openai', 'text-embedding-3-small', { input_tokens: 3 });
    expect(sum(m, 'tokenfuse_cost_usd_total', labels)).toBeCloseTo(dollars, 15);
    expect(h.spans()[0]!.attributes).toMatchObject({
      'gen_ai.operation.name': 'embeddings',
      'gen_ai.request.model': 'text-embedding-3-small',
      'gen_ai.usage.input_tokens': 3,
      'tokenfuse.api': 'ai-sdk.embedding-model',
      'tokenfuse.project': 'search',
    });
  });
});

describe('budgets and policies', () => {
  it.each([
    ['generateText', 'openai'],
    ['generateText', 'anthropic'],
    ['streamText', 'openai'],
    ['streamText', 'anthropic'],
  ] as const)(
    '%s through @ai-sdk/%s: an open fuse throws BudgetExceededError and no request reaches the server',
    async (fn, provider) => {
      const s = await setup({ budgets: [{ name: 'tiny', window: 'hour', limit: { tokens: 8 } }] });
      const model = provider === 'openai' ? s.openaiChat('gpt-4.1') : s.claude('claude-sonnet-4-5');
      // 1 + 3 = 4 input tokens, 7 (OpenAI) or 5 (Anthropic) output tokens: over 8, the fuse opens.
      await generateText({ model, prompt: 'x', maxOutputTokens: 7 });
      expect(llm.requests).toHaveLength(1);
      const err =
        fn === 'generateText'
          ? await rejection(generateText({ model, prompt: 'x', maxOutputTokens: 7 }))
          : await (async () => {
              let caught: unknown;
              const result = streamText({
                model,
                prompt: 'x',
                maxOutputTokens: 7,
                onError: ({ error }) => {
                  caught = error;
                },
              });
              for await (const _ of result.textStream);
              return caught;
            })();
      expect(isBudgetExceededError(err)).toBe(true);
      expect((err as BudgetExceededError).budget).toBe('tiny');
      expect(llm.requests).toHaveLength(1);
      const m = await s.h.scrape();
      expect(
        sum(m, 'tokenfuse_requests_total', { outcome: 'blocked', budget: 'tiny', provider }),
      ).toBe(1);
      const blocked = s.h
        .spans()
        .find((span) => span.attributes['tokenfuse.budget.name'] === 'tiny');
      expect(blocked?.attributes['tokenfuse.block.reason']).toBeDefined();
    },
  );

  it('embed: an open fuse blocks the embedding call before it is sent', async () => {
    const s = await setup({ budgets: [{ name: 'tiny', window: 'hour', limit: { tokens: 3 } }] });
    const model = s.embedder('text-embedding-3-small');
    await embed({ model, value: 'one two three' });
    const err = await rejection(embed({ model, value: 'one two three' }));
    expect(isBudgetExceededError(err)).toBe(true);
    expect(llm.requests).toHaveLength(1);
  });

  it('a model policy refuses a model with ModelNotAllowedError, sending nothing', async () => {
    const s = await setup({
      policies: [
        { name: 'cheap-only', match: { department: 'qa' }, allowModels: ['gpt-4.1-mini'] },
      ],
    });
    const err = await withAttribution({ department: 'qa' }, () =>
      rejection(generateText({ model: s.claude('claude-sonnet-4-5'), prompt: 'x' })),
    );
    expect(isModelNotAllowedError(err)).toBe(true);
    expect((err as Error).message).toBe(
      'tokenfuse: policy "cheap-only" does not allow model "claude-sonnet-4-5"; allowed: gpt-4.1-mini; the call was not sent',
    );
    expect(llm.requests).toHaveLength(0);
    await withAttribution({ department: 'qa' }, () =>
      generateText({ model: s.openaiChat('gpt-4.1-mini'), prompt: 'x' }),
    );
    expect(llm.requests).toHaveLength(1);
  });

  it('a cutOffStreams budget ends a streamText midway with BudgetExceededError and closes the request', async () => {
    const s = await setup({
      budgets: [{ name: 'hard', window: 'hour', limit: { tokens: 40 }, cutOffStreams: true }],
    });
    let caught: unknown;
    const result = streamText({
      model: s.openaiChat('gpt-4.1'),
      prompt: 'x',
      maxOutputTokens: 100,
      onError: ({ error }) => {
        caught = error;
      },
    });
    let deltas = 0;
    try {
      for await (const _ of result.textStream) deltas++;
    } catch (err) {
      caught = err;
    }
    // 7 input tokens (tokenized: the length bound of 100 output does not fit) + one
    // token per delta: the 34th delta makes 41 > 40. The caller saw fewer than that.
    expect(deltas).toBeGreaterThan(0);
    expect(deltas).toBeLessThanOrEqual(33);
    expect(llm.requests).toHaveLength(1);
    expect(isBudgetExceededError(caught)).toBe(true);
    expect((caught as BudgetExceededError).budget).toBe('hard');
    const span = s.h.spans()[0]!;
    expect(span.attributes['tokenfuse.stream.cut_off']).toBe(true);
    expect(span.attributes['tokenfuse.usage.estimated']).toBe(true);
    expect(span.attributes['error.type']).toBe('BudgetExceededError');
    expect(s.h.tokenfuse.fuses.get('hard').reserved.tokens).toBe(0);
  });
});

describe('with the AI SDK telemetry on', () => {
  it('a call seen by the middleware and by experimental_telemetry spans is counted once', async () => {
    const s = await setup();
    const tracer = s.h.tracerProvider.getTracer('ai');
    await generateText({
      model: s.openaiChat('gpt-4.1'),
      prompt: 'name three colours of the autumn',
      maxOutputTokens: 7,
      experimental_telemetry: { isEnabled: true, tracer },
    });
    const stream = streamText({
      model: s.claude('claude-sonnet-4-5'),
      prompt: 'a b c',
      experimental_telemetry: { isEnabled: true, tracer },
    });
    await stream.consumeStream();
    await embed({
      model: s.embedder('text-embedding-3-small'),
      value: 'one two three',
      experimental_telemetry: { isEnabled: true, tracer },
    });
    await expect.poll(() => s.h.spans().length).toBe(9);
    const names = s.h
      .spans()
      .map((span) => span.name)
      .sort();
    expect(names).toEqual([
      'ai.embed',
      'ai.embed.doEmbed',
      'ai.generateText',
      'ai.generateText.doGenerate',
      'ai.streamText',
      'ai.streamText.doStream',
      'chat claude-sonnet-4-5',
      'chat gpt-4.1',
      'embeddings text-embedding-3-small',
    ]);
    const m = await s.h.scrape();
    expect(sum(m, 'tokenfuse_requests_total')).toBe(3);
    expect(sum(m, 'tokenfuse_tokens_total', { model: 'gpt-4.1', type: 'input' })).toBe(9);
    expect(sum(m, 'tokenfuse_tokens_total', { model: 'claude-sonnet-4-5', type: 'output' })).toBe(
      5,
    );
    expect(sum(m, 'tokenfuse_cost_usd_total')).toBeCloseTo(
      usd('openai', 'gpt-4.1', { input_tokens: 9, output_tokens: 7 }) +
        usd('anthropic', 'claude-sonnet-4-5', { input_tokens: 6, output_tokens: 5 }) +
        usd('openai', 'text-embedding-3-small', { input_tokens: 3 }),
      12,
    );
    // The AI SDK's model-call spans carry the same usage; only ours is priced.
    const doGenerate = s.h.spans().find((span) => span.name === 'ai.generateText.doGenerate')!;
    expect(doGenerate.attributes['gen_ai.usage.input_tokens']).toBe(9);
    expect(doGenerate.attributes['tokenfuse.cost.usd']).toBeUndefined();
  });
});

describe('without a running tokenfuse', () => {
  it('calls go through untouched, headers included, and that is said once in the log', async () => {
    const messages = captureDiag();
    try {
      const openai = createOpenAI({ baseURL: `${llm.url}/v1`, apiKey: 'sk' });
      const model = wrapLanguageModel({
        model: openai.chat('gpt-4.1'),
        middleware: tokenfuseMiddleware(),
      });
      const first = await generateText({
        model,
        prompt: 'x',
        headers: { 'X-Department': 'sales' },
      });
      await generateText({ model, prompt: 'x' });
      expect(first.text).toBe('Hello from gpt-4.1 Hello from');
      expect(llm.requests).toHaveLength(2);
      expect(llm.requests[0]!.headers['x-department']).toBe('sales');
      expect(messages).toEqual([
        'tokenfuse: AI SDK calls through tokenfuseMiddleware() go uninstrumented: getRuntime(): tokenfuse is not running: start the app with `node --import tokenfuse/register app.mjs` (ESM) or `node --require tokenfuse/register app.cjs` (CommonJS), or call start() first',
      ]);
    } finally {
      diag.disable();
    }
  });
});

describe('content capture', () => {
  it('puts the prompt and the reply on the span only when content.capture is on, streams included', async () => {
    const s = await setup({ content: { capture: true } });
    await generateText({ model: s.openaiChat('gpt-4.1'), prompt: 'a b', maxOutputTokens: 3 });
    const stream = streamText({ model: s.claude('claude-sonnet-4-5'), prompt: 'c d' });
    await stream.consumeStream();
    const [plain, streamed] = s.h.spans();
    expect(JSON.parse(String(plain!.attributes['gen_ai.input.messages']))).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'a b' }] },
    ]);
    expect(JSON.parse(String(plain!.attributes['gen_ai.output.messages']))).toEqual([
      { role: 'assistant', content: 'Hello from gpt-4.1' },
    ]);
    expect(JSON.parse(String(streamed!.attributes['gen_ai.output.messages']))).toEqual([
      { role: 'assistant', content: 'Hello from claude-sonnet-4-5 Hello from' },
    ]);
    await s.h.close();

    const off = await setup();
    await generateText({ model: off.openaiChat('gpt-4.1'), prompt: 'secret plan' });
    const serialized = JSON.stringify(off.h.spans()[0]!.attributes);
    expect(serialized).not.toContain('secret');
    expect(serialized).not.toContain('Hello');
  });
});

describe('multi-step generateText (tools)', () => {
  it('is one call per step, each priced from its own usage', async () => {
    const s = await setup();
    llm.enqueue({
      kind: 'raw',
      body: {
        id: 'chatcmpl-step1',
        object: 'chat.completion',
        created: 1,
        model: 'gpt-4.1',
        choices: [
          {
            index: 0,
            message: {
              role: 'assistant',
              content: null,
              tool_calls: [
                {
                  id: 'call_1',
                  type: 'function',
                  function: { name: 'weather', arguments: '{"city":"Paris"}' },
                },
              ],
            },
            finish_reason: 'tool_calls',
          },
        ],
        usage: { prompt_tokens: 50, completion_tokens: 10, total_tokens: 60 },
      },
    });
    const result = await generateText({
      model: s.openaiChat('gpt-4.1'),
      prompt: 'weather in Paris',
      tools: {
        weather: tool({
          inputSchema: z.object({ city: z.string() }),
          execute: async () => 'sunny',
        }),
      },
      stopWhen: stepCountIs(2),
    });
    expect(result.steps).toHaveLength(2);
    expect(llm.requests).toHaveLength(2);
    const secondInput = chatPromptTokens(llm.requests[1]!.body);
    const labels = { ...base, provider: 'openai', model: 'gpt-4.1' };
    const m = await s.h.scrape();
    expect(sum(m, 'tokenfuse_requests_total', { ...labels, outcome: 'ok' })).toBe(2);
    expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'input' })).toBe(50 + secondInput);
    expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'output' })).toBe(10 + 5);
    expect(sum(m, 'tokenfuse_cost_usd_total', labels)).toBeCloseTo(
      usd('openai', 'gpt-4.1', { input_tokens: 50, output_tokens: 10 }) +
        usd('openai', 'gpt-4.1', { input_tokens: secondInput, output_tokens: 5 }),
      12,
    );
    expect(s.h.spans().map((span) => span.attributes['gen_ai.response.finish_reasons'])).toEqual([
      ['tool-calls'],
      ['stop'],
    ]);
  });
});
