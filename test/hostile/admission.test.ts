// Admission and call lifecycle under hostile input: bodies whose billed input hides in
// tools and schemas, output limits that are no limit, prompts too large to tokenize on
// the call path, and 200 responses of unexpected shape.
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import type OpenAIType from 'openai';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import {
  type BudgetExceededError,
  isBudgetExceededError,
  type ThresholdEvent,
} from '../../src/index.js';
import { MAX_TOKENIZED_CHARS } from '../../src/pricing/estimate-tokens.js';
import type { TokenfuseOptions } from '../../src/types.js';
import { rejection, x } from '../helpers/budget-calls.js';
import { LOCAL_RELAY, useFakeServerHarness } from '../helpers/fake-server-harness.js';
import type { Harness } from '../helpers/harness.js';
import { parsePrometheusText, sum } from '../helpers/prom-text.js';
import { RedisServer } from '../helpers/redis.js';

const { countTokens } = createRequire(import.meta.url)('gpt-tokenizer/encoding/o200k_base') as {
  countTokens: (text: string) => number;
};

const { llm, harness, client } = useFakeServerHarness();
let h: Harness | undefined;
let openai: OpenAIType;

afterEach(() => {
  vi.useRealTimers();
  h = undefined;
});

async function setup(options: TokenfuseOptions): Promise<Harness> {
  vi.useFakeTimers({ toFake: ['Date'], now: new Date('2026-11-23T10:00:00Z') });
  h = await harness({ providers: [LOCAL_RELAY], ...options });
  openai = client(h);
  return h;
}

const budget = (limit: number): TokenfuseOptions => ({
  budgets: [{ name: 'b', window: 'day', limit: { tokens: limit } }],
});

/**
 * Sends `send` against a server that never answers, reads the budget's reservation
 * while the call is in flight, then aborts it. Returns the reservation.
 */
async function reservedWhileInFlight(
  send: (signal: AbortSignal) => Promise<unknown>,
): Promise<number> {
  const before = llm.requests.length;
  llm.enqueue({ kind: 'hang' });
  const controller = new AbortController();
  const call = send(controller.signal).catch((err: unknown) => err);
  await vi.waitFor(() => expect(llm.requests).toHaveLength(before + 1));
  const reserved = h!.tokenfuse.fuses.get('b').reserved.tokens;
  controller.abort();
  await call;
  expect(h!.tokenfuse.fuses.get('b').reserved.tokens).toBe(0);
  return reserved;
}

describe('the reservation holds every part of the body the provider bills as input', () => {
  const lorem = 'lorem '.repeat(2000).trim();
  const tools = [
    {
      type: 'function' as const,
      function: {
        name: 'lookup',
        description: lorem,
        parameters: { type: 'object', properties: { q: { type: 'string' } } },
      },
    },
  ];

  it('a call whose tools schema alone exceeds the room holds it all: the next call is blocked before it leaves', async () => {
    await setup(budget(1_000));
    llm.enqueue({ kind: 'hang' });
    const controller = new AbortController();
    const big = openai.chat.completions
      .create({ ...x(10), tools }, { signal: controller.signal })
      .catch((err: unknown) => err);
    await vi.waitFor(() => expect(llm.requests).toHaveLength(1));

    // Its length bound (3 × 12k characters) does not fit in 1,000 tokens, so it was
    // tokenized: the tools' JSON, the message, framing 3 + 3, and 10 output tokens.
    const reserved = countTokens(JSON.stringify(tools)) + countTokens('x') + 6 + 10;
    expect(reserved).toBeGreaterThan(2_000);
    expect(h!.tokenfuse.fuses.get('b').reserved.tokens).toBe(reserved);

    const err = (await rejection(openai.chat.completions.create(x(1)))) as BudgetExceededError;
    expect(llm.requests).toHaveLength(1); // the second call never left
    expect(isBudgetExceededError(err)).toBe(true);
    expect({
      budget: err.budget,
      reason: err.reason,
      window: err.window,
      unit: err.unit,
      spent: err.spent,
      reserved: err.reserved,
      limit: err.limit,
      retryAfterSeconds: err.retryAfterSeconds,
    }).toEqual({
      budget: 'b',
      reason: 'reserved',
      window: 'day',
      unit: 'tokens',
      spent: 0,
      reserved,
      limit: 1_000,
      retryAfterSeconds: 1,
    });
    controller.abort();
    await big;
    expect(h!.tokenfuse.fuses.get('b').reserved.tokens).toBe(0);
  });

  it('functions, tool_choice, response_format and prediction are in the length bound', async () => {
    await setup(budget(10_000_000));
    const response_format = {
      type: 'json_schema' as const,
      json_schema: { name: 'out', schema: { type: 'object', description: 'abc' } },
    };
    const functions = [{ name: 'f', description: 'def', parameters: { type: 'object' } }];
    const tool_choice = { type: 'function' as const, function: { name: 'lookup' } };
    const prediction = { type: 'content' as const, content: 'predicted text' };
    const body = {
      ...x(10),
      messages: [
        { role: 'system' as const, content: 'be brief' },
        { role: 'user' as const, content: 'x' },
      ],
      tools,
      tool_choice,
      functions,
      response_format,
      prediction,
    };
    // The room is large, so nothing is tokenized: 3 × every billed character, 3 framing
    // tokens per message and 3 more for the reply, plus the output limit.
    const chars =
      'be brief'.length +
      'x'.length +
      [tools, functions, tool_choice, response_format, prediction]
        .map((part) => JSON.stringify(part).length)
        .reduce((a, b) => a + b);
    const reserved = await reservedWhileInFlight((signal) =>
      openai.chat.completions.create(body, { signal }),
    );
    expect(reserved).toBe(3 * chars + 3 * 3 + 10);
  });

  it('Responses: instructions, input items, tools and the text format are in the length bound', async () => {
    await setup(budget(10_000_000));
    const input = [
      { role: 'user' as const, content: [{ type: 'input_text' as const, text: 'hello' }] },
      { type: 'function_call_output' as const, call_id: 'c1', output: '{"ok":true}' },
    ];
    const text = {
      format: {
        type: 'json_schema' as const,
        name: 'out',
        schema: { type: 'object', description: 'xyz' },
      },
    };
    const rtools = [
      { type: 'function' as const, name: 'f', parameters: { type: 'object' }, strict: false },
    ];
    const reserved = await reservedWhileInFlight((signal) =>
      openai.responses.create(
        {
          model: 'gpt-4.1',
          instructions: 'obey',
          input,
          tools: rtools,
          text,
          max_output_tokens: 20,
        },
        { signal },
      ),
    );
    const chars =
      'obey'.length +
      'hello'.length +
      // An item's fields other than role and type, each as JSON.
      JSON.stringify({ call_id: 'c1' }).length +
      JSON.stringify({ output: '{"ok":true}' }).length +
      JSON.stringify(rtools).length +
      JSON.stringify(text).length;
    expect(reserved).toBe(3 * chars + 3 * (2 + 1) + 20);
  });

  it('a Responses call continuing a stored conversation takes all the room: its input is not in the body', async () => {
    await setup(budget(50_000));
    const reserved = await reservedWhileInFlight((signal) =>
      openai.responses.create(
        {
          model: 'gpt-4.1',
          input: 'and then?',
          previous_response_id: 'resp_1',
          max_output_tokens: 5,
        },
        { signal },
      ),
    );
    expect(reserved).toBe(50_000);
  });
});

/** tokenfuse_estimate_bounded_total by reason, as /metrics shows it. */
async function bounded(): Promise<Record<string, number>> {
  const samples = parsePrometheusText(await h!.metricsText());
  return Object.fromEntries(
    ['max_tokens_invalid', 'text_past_tokenize_bound'].map((reason) => [
      reason,
      sum(samples, 'tokenfuse_estimate_bounded_total', { reason }),
    ]),
  );
}

describe('an output limit that is no limit never reserves less than zero', () => {
  // gpt-4.1's context window in the genai-prices catalog: no output exceeds it.
  const GPT_41_CONTEXT = 1_000_000;

  for (const value of [-1e9, Number.POSITIVE_INFINITY, Number.NaN, 1.5]) {
    it(`max_tokens: ${value} reserves the model's context window`, async () => {
      await setup(budget(5_000_000));
      const reserved = await reservedWhileInFlight((signal) =>
        openai.chat.completions.create({ ...x(1), max_tokens: value }, { signal }),
      );
      expect(reserved).toBe(3 * 1 + 3 * 2 + GPT_41_CONTEXT);
      expect(await bounded()).toEqual({ max_tokens_invalid: 1, text_past_tokenize_bound: 0 });
    });
  }

  it('max_completion_tokens: -5 on a model the catalog does not know takes the rest of the room', async () => {
    await setup(budget(40_000));
    await openai.chat.completions.create(x(6)); // spends 10
    const reserved = await reservedWhileInFlight((signal) =>
      openai.chat.completions.create(
        { ...x(1), model: 'house-model-7', max_completion_tokens: -5 },
        { signal },
      ),
    );
    expect(reserved).toBe(40_000 - 10);
    expect(await bounded()).toEqual({ max_tokens_invalid: 1, text_past_tokenize_bound: 0 });
  });

  it('max_output_tokens: -1e9 on Responses reserves the context window; the next call is blocked while it runs', async () => {
    await setup(budget(1_000_000));
    llm.enqueue({ kind: 'hang' });
    const controller = new AbortController();
    const held = openai.responses
      .create(
        { model: 'gpt-4.1', input: 'x', max_output_tokens: -1e9 },
        { signal: controller.signal },
      )
      .catch((err: unknown) => err);
    await vi.waitFor(() => expect(llm.requests).toHaveLength(1));
    const err = (await rejection(openai.chat.completions.create(x(1)))) as BudgetExceededError;
    expect([err.reason, err.spent, err.limit]).toEqual(['reserved', 0, 1_000_000]);
    expect(err.reserved).toBeGreaterThanOrEqual(GPT_41_CONTEXT);
    expect(llm.requests).toHaveLength(1);
    controller.abort();
    await held;
  });
});

describe('tokenizing on the call path is bounded', () => {
  // Base64-like text: ~1.5 characters a token, the tokenizer's slowest input.
  const base64ish = (chars: number) =>
    randomBytes(Math.ceil((chars * 3) / 4))
      .toString('base64')
      .slice(0, chars);
  const prompt = (content: string) => ({
    model: 'gpt-4.1',
    messages: [{ role: 'user' as const, content }],
    max_tokens: 10,
  });

  it(`a prompt of ${MAX_TOKENIZED_CHARS} characters that does not fit the room is tokenized exactly`, async () => {
    await setup(budget(40_000));
    const text = base64ish(MAX_TOKENIZED_CHARS);
    const reserved = await reservedWhileInFlight((signal) =>
      openai.chat.completions.create(prompt(text), { signal }),
    );
    expect(reserved).toBe(countTokens(text) + 6 + 10);
    expect(await bounded()).toEqual({ max_tokens_invalid: 0, text_past_tokenize_bound: 0 });
  });

  it('one character more is not tokenized: it reserves the length bound', async () => {
    await setup(budget(40_000));
    const text = base64ish(MAX_TOKENIZED_CHARS + 1);
    const reserved = await reservedWhileInFlight((signal) =>
      openai.chat.completions.create(prompt(text), { signal }),
    );
    expect(reserved).toBe(3 * text.length + 6 + 10);
    expect(await bounded()).toEqual({ max_tokens_invalid: 0, text_past_tokenize_bound: 1 });
  });

  it('two texts past the bound in one call are one bounded estimate', async () => {
    await setup(budget(40_000));
    const [a, b] = [base64ish(MAX_TOKENIZED_CHARS + 1), base64ish(MAX_TOKENIZED_CHARS + 1)];
    const reserved = await reservedWhileInFlight((signal) =>
      openai.chat.completions.create(
        {
          model: 'gpt-4.1',
          messages: [
            { role: 'user', content: a },
            { role: 'user', content: b },
          ],
          max_tokens: 10,
        },
        { signal },
      ),
    );
    expect(reserved).toBe(3 * (a.length + b.length) + 9 + 10);
    expect(await bounded()).toEqual({ max_tokens_invalid: 0, text_past_tokenize_bound: 1 });
  });

  it('a 5 MB base64-like prompt under a budget is admitted on its length bound, then blocks the next call', async () => {
    await setup(budget(100_000));
    const text = base64ish(5 * 1024 * 1024);
    llm.enqueue({ kind: 'hang' });
    const controller = new AbortController();
    const held = openai.chat.completions
      .create(prompt(text), { signal: controller.signal })
      .catch((err: unknown) => err);
    await vi.waitFor(() => expect(llm.requests).toHaveLength(1), { timeout: 20_000 });
    expect(h!.tokenfuse.fuses.get('b').reserved.tokens).toBe(3 * text.length + 6 + 10);
    const err = (await rejection(openai.chat.completions.create(x(1)))) as BudgetExceededError;
    expect([err.reason, err.reserved]).toEqual(['reserved', 3 * text.length + 6 + 10]);
    controller.abort();
    await held;
  }, 60_000);

  it('a stream that ends without usage estimates its output by the length bound past the limit', async () => {
    await setup({});
    llm.enqueue({ kind: 'ignore-include-usage' });
    const stream = await openai.chat.completions.create({ ...x(4000), stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    expect(text.length).toBeGreaterThan(MAX_TOKENIZED_CHARS);
    const span = h!.spans()[0]!;
    expect(span.attributes['gen_ai.usage.output_tokens']).toBe(3 * text.length);
    expect(span.attributes['tokenfuse.usage.estimated']).toBe(true);
    expect(await bounded()).toEqual({ max_tokens_invalid: 0, text_past_tokenize_bound: 1 });
  }, 60_000);
});

describe('a 200 response of unexpected shape ends its call exactly once', () => {
  /**
   * Asserts one ended span, one counted call with `outcome`, and nothing left
   * reserved: the spend is what the call was counted for (`spentTokens`).
   */
  async function endedOnce(
    api: string,
    { outcome = 'ok', spentTokens = 0 }: { outcome?: string; spentTokens?: number } = {},
  ): Promise<Record<string, unknown>> {
    const spans = h!.spans();
    expect(spans).toHaveLength(1);
    const m = await h!.scrape();
    expect(sum(m, 'tokenfuse_requests_total', {})).toBe(1);
    expect(sum(m, 'tokenfuse_requests_total', { outcome })).toBe(1);
    const fuse = h!.tokenfuse.fuses.get('b');
    expect(fuse.reserved).toEqual({ tokens: 0, usd: 0, requests: 0 });
    expect([fuse.spent.tokens, fuse.spent.requests]).toEqual([spentTokens, 1]);
    const attributes = spans[0]!.attributes;
    expect(attributes['tokenfuse.api']).toBe(api);
    if (spentTokens > 0) {
      expect(
        (attributes['gen_ai.usage.input_tokens'] as number) +
          (attributes['gen_ai.usage.output_tokens'] as number),
      ).toBe(spentTokens);
    }
    return attributes;
  }

  const chatBodies: Array<[string, unknown, (attrs: Record<string, unknown>) => void]> = [
    [
      'choices not an array, usage a string, model a number',
      { id: 'c1', choices: 'abc', usage: 'lots', model: 42 },
      (a) => {
        expect(a['gen_ai.response.id']).toBe('c1');
        expect(a['gen_ai.response.finish_reasons']).toBeUndefined();
        expect(a['gen_ai.response.model']).toBeUndefined();
        expect(a['gen_ai.usage.input_tokens']).toBeUndefined();
      },
    ],
    [
      'null and number items in choices',
      { choices: [null, 5, { finish_reason: 7, message: null }], usage: null },
      (a) => expect(a['gen_ai.response.finish_reasons']).toEqual(['unknown', 'unknown', 'unknown']),
    ],
    ['a JSON string', 'not an object', () => {}],
    ['null', null, () => {}],
    ['an array', [1, 2, 3], () => {}],
  ];
  for (const [what, body, check] of chatBodies) {
    it(`chat: ${what}`, async () => {
      await setup(budget(1_000));
      llm.enqueue({ kind: 'raw', body });
      const result = await openai.chat.completions.create(x(5));
      expect(result).toEqual(body); // what the SDK returns, untouched
      check(await endedOnce('chat.completions'));
    });
  }

  it('chat stream: chunks of every wrong shape', async () => {
    await setup(budget(1_000));
    const events = [
      null,
      5,
      { choices: 'x' },
      { choices: [{ delta: 5, finish_reason: {}, index: 1e9 }], model: 7, usage: 'u' },
      { choices: [{ delta: { content: 'hi' } }], model: 'gpt-4.1' },
    ];
    llm.enqueue({ kind: 'raw', events });
    const seen: unknown[] = [];
    for await (const chunk of await openai.chat.completions.create({ ...x(5), stream: true }))
      seen.push(chunk);
    // Every chunk reaches the caller (as the SDK normalizes it: none is hidden or replaced).
    expect(seen).toHaveLength(events.length);
    expect(seen.slice(0, 3)).toEqual(events.slice(0, 3));
    // No usage arrived: estimated from the request (1 + 3 + 3) and the streamed text ('hi').
    const a = await endedOnce('chat.completions', { spentTokens: 7 + 1 });
    expect(a['gen_ai.response.model']).toBe('gpt-4.1');
    expect(a['tokenfuse.usage.estimated']).toBe(true);
    expect(a['gen_ai.usage.output_tokens']).toBe(1);
  });

  it('chat stream: a null choice makes the SDK itself throw mid-stream; the call still ends once', async () => {
    await setup(budget(1_000));
    llm.enqueue({
      kind: 'raw',
      events: [{ choices: [{ delta: { content: 'hi' } }] }, { choices: [null] }],
    });
    const stream = await openai.chat.completions.create({ ...x(5), stream: true });
    const err = await rejection(
      (async () => {
        for await (const _ of stream);
      })(),
    );
    expect(err).toBeInstanceOf(TypeError); // the SDK's own reading of the chunk
    // The SDK's loop left ours: an abandoned stream, counted with what it streamed.
    const a = await endedOnce('chat.completions', { spentTokens: 7 + 1 });
    expect(a['tokenfuse.stream.abandoned']).toBe(true);
  });

  it('responses: output not an array, usage a string', async () => {
    await setup(budget(1_000));
    const body = { object: 'response', id: 'r1', output: 'nope', usage: 'x', status: 3 };
    llm.enqueue({ kind: 'raw', body });
    const result = await openai.responses.create({ model: 'gpt-4.1', input: 'x' });
    expect(result.id).toBe('r1');
    const a = await endedOnce('responses');
    expect(a['gen_ai.response.id']).toBe('r1');
    expect(a['gen_ai.response.finish_reasons']).toBeUndefined();
  });

  it('responses: a null output item makes the SDK itself throw; the call still ends once', async () => {
    await setup(budget(1_000));
    llm.enqueue({ kind: 'raw', body: { object: 'response', output: [null] } });
    const err = await rejection(openai.responses.create({ model: 'gpt-4.1', input: 'x' }));
    expect(err).toBeInstanceOf(TypeError); // the SDK's own reading of `output`
    // The SDK failed while parsing: the call failed as the caller saw it.
    const a = await endedOnce('responses', { outcome: 'error' });
    expect(a['error.type']).toBe('TypeError');
  });

  it('responses stream: events of every wrong shape', async () => {
    await setup(budget(1_000));
    const events = [
      null,
      { type: 'response.created', response: 'x' },
      { type: 'response.output_text.delta', delta: 5 },
      { type: 'response.completed', response: { usage: 'x', model: 5, status: 9 } },
    ];
    llm.enqueue({ kind: 'raw', events });
    const seen: unknown[] = [];
    for await (const event of await openai.responses.create({
      model: 'gpt-4.1',
      input: 'x',
      stream: true,
    }))
      seen.push(event);
    expect(seen).toEqual(events);
    // No usage: input estimated ('x', no framing for a string input), no text streamed.
    const a = await endedOnce('responses', { spentTokens: 1 });
    expect(a['tokenfuse.usage.estimated']).toBe(true);
  });

  it('embeddings: data not an array, usage a string', async () => {
    await setup(budget(1_000));
    const body = { object: 'list', data: 'weird', usage: 'x', model: null };
    llm.enqueue({ kind: 'raw', body });
    const result = await openai.embeddings.create({
      model: 'text-embedding-3-small',
      input: 'x',
      encoding_format: 'float',
    });
    expect(result).toEqual(body);
    await endedOnce('embeddings');
  });

  it('embeddings: base64 decoding in the SDK throws on null items; the call still ends once', async () => {
    await setup(budget(1_000));
    llm.enqueue({ kind: 'raw', body: { object: 'list', data: [null] } });
    const err = await rejection(
      openai.embeddings.create({ model: 'text-embedding-3-small', input: 'x' }),
    );
    expect(err).toBeInstanceOf(TypeError);
    const a = await endedOnce('embeddings', { outcome: 'error' });
    expect(a['error.type']).toBe('TypeError');
  });
});

describe('thresholds mean spent, not reserved', () => {
  let redis: RedisServer | undefined;
  afterAll(async () => {
    await redis?.stop();
  });

  for (const store of ['memory', 'redis'] as const) {
    for (const window of ['day', { rolling: '1h' }] as const) {
      const rolling = typeof window === 'object';
      it(`${store} store, ${rolling ? 'a rolling' : 'a calendar'} window: reservations over 50% fire nothing; the settlement that takes spent over 50% fires once`, async () => {
        let ledger: TokenfuseOptions['ledger'] | undefined;
        if (store === 'redis') {
          redis ??= await RedisServer.start();
          ledger = {
            store: 'redis',
            url: redis.url,
            keyPrefix: `tf-thr-${rolling ? 'rolling' : 'day'}:`,
            timeoutMs: 5000,
          };
        }
        await setup({
          budgets: [{ name: 'b', window, limit: { tokens: 100 }, thresholds: [0.25, 0.5, 0.75] }],
          ...(ledger ? { ledger } : {}),
        });
        const seen: string[] = [];
        h!.tokenfuse.fuses.onThreshold((e: ThresholdEvent) =>
          seen.push(`${e.threshold}@${e.spent}`),
        );
        const read = () => h!.tokenfuse.fuses.read('b');

        await openai.chat.completions.create(x(36)); // spent 40
        await vi.waitFor(() => expect(seen).toEqual(['0.25@40'])); // the Redis store settles async

        // A call in flight reserves 9 + 40 = 49: spent + reserved is 89%.
        llm.enqueue({ kind: 'hang' });
        const controller = new AbortController();
        const held = openai.chat.completions
          .create(x(40), { signal: controller.signal })
          .catch((err: unknown) => err);
        await vi.waitFor(() => expect(llm.requests).toHaveLength(2));
        expect((await read()).reserved.tokens).toBe(49);

        // Another call settles 5 while it is held: spent 45 + reserved 49 = 94%.
        await openai.chat.completions.create(x(1));
        expect((await read()).spent.tokens).toBe(45);
        // The utilization the alert rules read is spent / limit too.
        const m = await h!.scrape();
        expect(sum(m, 'tokenfuse_budget_utilization', { budget: 'b', unit: 'tokens' })).toBe(0.45);
        controller.abort();
        await held;
        await vi.waitFor(async () => expect((await read()).reserved.tokens).toBe(0));
        expect(seen).toEqual(['0.25@40']); // no 50% or 75% on reservations

        await openai.chat.completions.create(x(6)); // spent 55
        await vi.waitFor(() => expect(seen).toEqual(['0.25@40', '0.5@55']));
        await openai.chat.completions.create(x(1)); // spent 60: nothing new
        expect((await read()).spent.tokens).toBe(60);
        expect(seen).toEqual(['0.25@40', '0.5@55']);
      }, 30_000);
    }
  }
});
