// LangChain.js on top of the instrumented SDKs: a chat model call through LangChain is the
// SDK call underneath, so it must be counted once, attributed like any other call, and
// blocked by a fuse before anything is sent, and LangChain's retrying caller
// (`AsyncCaller`, 6 retries by default) must not retry a blocked call.
//
// Through the real LangChain packages and the real SDK over HTTP against the fake server.
// LangChain is loaded as CommonJS, like `openai` in the harness: its ESM build would load
// the ESM copy of `openai`, which the harness does not patch (in an app, `tokenfuse/register`
// hooks both).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { ChatOpenAIFields, ChatOpenAI as ChatOpenAIType } from '@langchain/openai';
import { calcPrice } from '@pydantic/genai-prices';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type BudgetExceededError,
  isBlockedCallError,
  isBudgetExceededError,
  isLedgerUnavailableError,
  isModelNotAllowedError,
  type LedgerUnavailableError,
  type ModelNotAllowedError,
  withAttribution,
} from '../src/index.js';
import type { TokenfuseOptions } from '../src/types.js';
import { rejection } from './helpers/budget-calls.js';
import { LOCAL_RELAY, useFakeServerHarness } from './helpers/fake-server-harness.js';
import type { Harness } from './helpers/harness.js';
import { freePort } from './helpers/processes.js';
import { type Sample, sum } from './helpers/prom-text.js';
import { behaviourSuite } from './sdk/behaviour.js';
import { chatAnthropicDriver, chatOpenAIDriver } from './sdk/drivers/langchain.js';

const require = createRequire(import.meta.url);
const { ChatOpenAI } = require('@langchain/openai') as typeof import('@langchain/openai');
const { ChatPromptTemplate } =
  require('@langchain/core/prompts') as typeof import('@langchain/core/prompts');

// The shared behaviour suite (test/sdk/behaviour.ts) through both LangChain chat models.
behaviourSuite(chatOpenAIDriver());
behaviourSuite(chatAnthropicDriver());

const { llm, harness } = useFakeServerHarness();
let h: Harness | undefined;

afterEach(() => {
  vi.useRealTimers();
  h = undefined;
});

async function setup(options: TokenfuseOptions = {}): Promise<Harness> {
  h = await harness({
    attribution: { defaults: { department: 'platform', project: 'core', environment: 'test' } },
    providers: [LOCAL_RELAY],
    ...options,
  });
  return h;
}

/** A ChatOpenAI on the fake server, with LangChain's default retries (6). */
function chatOpenAI(fields: ChatOpenAIFields = {}): ChatOpenAIType {
  return new ChatOpenAI({
    model: 'gpt-4.1',
    apiKey: 'sk-test-langchain',
    ...fields,
    configuration: { baseURL: `${llm.url}/v1`, ...fields.configuration },
  });
}

/** The catalog's own price of OpenAI chat usage (prompt includes the cached tokens). */
function catalogUsd(prompt: number, output: number, cached = 0): number {
  const price = calcPrice(
    { input_tokens: prompt, cache_read_tokens: cached, output_tokens: output },
    'gpt-4.1',
    { providerId: 'openai' },
  );
  if (price === null) throw new Error('the catalog has no price for gpt-4.1');
  return price.total_price;
}

const tags = { project: 'core', environment: 'test', provider: 'local-relay', model: 'gpt-4.1' };

/** What /metrics says one department spent on gpt-4.1. */
function spend(m: Sample[], department: string) {
  const l = { ...tags, department };
  return {
    input: sum(m, 'tokenfuse_tokens_total', { ...l, type: 'input' }),
    cacheRead: sum(m, 'tokenfuse_tokens_total', { ...l, type: 'cache_read' }),
    output: sum(m, 'tokenfuse_tokens_total', { ...l, type: 'output' }),
    ok: sum(m, 'tokenfuse_requests_total', { ...l, outcome: 'ok' }),
    blocked: sum(m, 'tokenfuse_requests_total', { ...l, outcome: 'blocked' }),
    usd: sum(m, 'tokenfuse_cost_usd_total', l),
  };
}

// The usage the fake reports for the next call, with cached tokens to price at their rate.
const USAGE = {
  prompt_tokens: 1200,
  completion_tokens: 87,
  total_tokens: 1287,
  prompt_tokens_details: { cached_tokens: 400 },
};

describe('ChatOpenAI (@langchain/openai on openai 7)', () => {
  it('invoke is one call: exact tokens and dollars for the usage the server returned, one span', async () => {
    await setup();
    llm.enqueue({ kind: 'usage', usage: USAGE });
    const reply = await chatOpenAI({ maxTokens: 5 }).invoke('name three autumn colours');

    // LangChain read the same usage tokenfuse counted.
    expect(reply.usage_metadata).toMatchObject({
      input_tokens: 1200,
      output_tokens: 87,
      input_token_details: { cache_read: 400 },
    });
    expect(llm.requests.map((r) => r.path)).toEqual(['/v1/chat/completions']);
    const m = await h!.scrape();
    expect(spend(m, 'platform')).toEqual({
      input: 800,
      cacheRead: 400,
      output: 87,
      ok: 1,
      blocked: 0,
      usd: expect.closeTo(catalogUsd(1200, 87, 400), 12),
    });
    expect(h!.spans().map((s) => s.name)).toEqual(['chat gpt-4.1']);
    expect(h!.spans()[0]!.attributes).toMatchObject({
      'tokenfuse.api': 'chat.completions',
      'gen_ai.usage.input_tokens': 1200,
      'gen_ai.usage.cache_read.input_tokens': 400,
      'gen_ai.usage.output_tokens': 87,
      'tokenfuse.department': 'platform',
    });
  });

  it('stream is one call, counted from the usage chunk LangChain asked for and still receives', async () => {
    await setup();
    llm.enqueue({ kind: 'usage', usage: USAGE });
    const chunks = [];
    for await (const chunk of await chatOpenAI({ maxTokens: 4 }).stream('a tagline please')) {
      chunks.push(chunk);
    }
    // LangChain sets stream_options.include_usage itself, so the usage chunk is its own to see.
    expect(llm.requests[0]!.body.stream_options).toEqual({ include_usage: true });
    expect(chunks.map((c) => c.content).join('')).toBe('Hello from gpt-4.1 Hello');
    expect(chunks.find((c) => c.usage_metadata)?.usage_metadata).toMatchObject({
      input_tokens: 1200,
      output_tokens: 87,
    });
    const m = await h!.scrape();
    expect(spend(m, 'platform')).toEqual({
      input: 800,
      cacheRead: 400,
      output: 87,
      ok: 1,
      blocked: 0,
      usd: expect.closeTo(catalogUsd(1200, 87, 400), 12),
    });
    expect(h!.spans()).toHaveLength(1);
    expect(h!.spans()[0]!.attributes['tokenfuse.usage.estimated']).toBe(false);
  });

  it('a prompt.pipe(model) chain inside withAttribution is counted once, for that department', async () => {
    await setup();
    const chain = ChatPromptTemplate.fromMessages([
      ['system', 'You write short subject lines'],
      ['human', 'Subject line for the {topic}'],
    ]).pipe(chatOpenAI({ maxTokens: 6 }));
    await withAttribution({ department: 'marketing', feature: 'subject-lines' }, () =>
      chain.invoke({ topic: 'autumn sale' }),
    );
    // The fake's own accounting: (5 + 3) + (6 + 3) prompt tokens, 6 output.
    expect(llm.requests[0]!.body.messages).toEqual([
      { role: 'system', content: 'You write short subject lines' },
      { role: 'user', content: 'Subject line for the autumn sale' },
    ]);
    const m = await h!.scrape();
    expect(spend(m, 'marketing')).toEqual({
      input: 17,
      cacheRead: 0,
      output: 6,
      ok: 1,
      blocked: 0,
      usd: expect.closeTo(catalogUsd(17, 6), 12),
    });
    expect(sum(m, 'tokenfuse_requests_total', { department: 'platform' })).toBe(0);
    expect(h!.spans()).toHaveLength(1);
    expect(h!.spans()[0]!.attributes).toMatchObject({
      'tokenfuse.department': 'marketing',
      'tokenfuse.feature': 'subject-lines',
    });
  });

  it('per-call headers (call options.headers) and client defaultHeaders attribute, and are stripped before sending', async () => {
    await setup();
    await chatOpenAI({ maxTokens: 2 }).invoke('x', {
      options: { headers: { 'X-Department': 'support', 'X-Feature': 'ticket-summary' } },
    });
    const search = chatOpenAI({
      maxTokens: 3,
      configuration: { defaultHeaders: { 'X-Department': 'search' } },
    });
    await search.invoke('y');
    for (const r of llm.requests) {
      expect(
        Object.keys(r.headers).filter((k) => k.startsWith('x-') && !k.startsWith('x-stainless')),
      ).toEqual([]);
    }
    const m = await h!.scrape();
    expect(spend(m, 'support')).toMatchObject({ input: 4, output: 2, ok: 1 });
    expect(spend(m, 'search')).toMatchObject({ input: 4, output: 3, ok: 1 });
    expect(sum(m, 'tokenfuse_requests_total', { department: 'platform' })).toBe(0);
    expect(h!.spans().map((s) => s.attributes['tokenfuse.feature'])).toEqual([
      'ticket-summary',
      undefined,
    ]);
  });

  it('useResponsesApi: one responses.create, exact tokens and dollars', async () => {
    await setup();
    await chatOpenAI({ useResponsesApi: true, maxTokens: 5 }).invoke('rank these boots');
    expect(llm.requests.map((r) => r.path)).toEqual(['/v1/responses']);
    const m = await h!.scrape();
    // 3 words + 3 input tokens, 5 output.
    expect(spend(m, 'platform')).toEqual({
      input: 6,
      cacheRead: 0,
      output: 5,
      ok: 1,
      blocked: 0,
      usd: expect.closeTo(catalogUsd(6, 5), 12),
    });
    expect(h!.spans().map((s) => s.attributes['tokenfuse.api'])).toEqual(['responses']);
  });
});

// LangChain's AsyncCaller retries a 429 whose message hints a retry within a minute, and a
// 503, up to 6 times with backoff: each retry would be blocked again and counted again.
// tokenfuse's block errors carry LangChain's own "not retryable" mark, so the user gets the
// rejection at once, and /metrics counts the one blocked call.
describe('a fuse blocks a LangChain call before it is sent, once, with no retry', () => {
  const marketingHourly = {
    name: 'marketing-hourly',
    match: { department: 'marketing' },
    window: 'hour',
    limit: { tokens: 20 },
  } as const;
  const TROUBLESHOOTING =
    '\n\nTroubleshooting URL: https://docs.langchain.com/oss/javascript/langchain/errors/MODEL_RATE_LIMIT/\n';

  it('invoke of a chain, a second before the window ends ("retry after 1s"): our BudgetExceededError, one blocked call, no request', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: new Date('2026-11-23T10:59:59Z') });
    await setup({ budgets: [marketingHourly] });
    const chain = ChatPromptTemplate.fromMessages([
      ['system', 'You write short subject lines'],
      ['human', 'Subject line for the {topic}'],
    ]).pipe(chatOpenAI({ maxTokens: 6 }));
    const marketing = <T>(fn: () => Promise<T>) => withAttribution({ department: 'marketing' }, fn);
    await marketing(() => chain.invoke({ topic: 'autumn sale' })); // 17 + 6 = 23 of 20

    const err = (await rejection(
      marketing(() => chain.invoke({ topic: 'winter sale' })),
    )) as BudgetExceededError & { lc_error_code?: string };
    expect(llm.requests).toHaveLength(1); // nothing left the process
    const m = await h!.scrape();
    expect(spend(m, 'marketing')).toMatchObject({ ok: 1, blocked: 1 });
    expect(
      sum(m, 'tokenfuse_requests_total', { budget: 'marketing-hourly', outcome: 'blocked' }),
    ).toBe(1);

    // What the user sees: our error, the same object a direct call rejects with, which
    // @langchain/openai tags as a rate limit (it does so for every status 429) by appending
    // a troubleshooting link to the message and setting `lc_error_code`.
    expect(isBudgetExceededError(err)).toBe(true);
    expect(err.message).toBe(
      'tokenfuse: budget "marketing-hourly" blocked this call before it was sent: 23 of 20 tokens spent this hour; retry after 1s' +
        TROUBLESHOOTING,
    );
    expect({ ...err }).toEqual({
      name: 'BudgetExceededError',
      status: 429,
      code: 'budget_exceeded',
      budget: 'marketing-hourly',
      reason: 'limit_reached',
      window: 'hour',
      unit: 'tokens',
      spent: 23,
      reserved: 0,
      limit: 20,
      retryAfterSeconds: 1,
      lc_error_code: 'MODEL_RATE_LIMIT',
      [Symbol.for('tokenfuse.error')]: true,
      [Symbol.for('tokenfuse.blocked-call')]: true,
    });
    // LangChain's own verdict on it, read the way its AsyncCaller reads it.
    expect(
      Object.getOwnPropertyDescriptor(err, Symbol.for('langchain.errors.retryable'))?.value,
    ).toBe(false);
  });

  it('stream: rejects at the first chunk, one blocked call, no request', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: new Date('2026-11-23T10:59:59Z') });
    await setup({ budgets: [marketingHourly] });
    const model = chatOpenAI({ maxTokens: 16 });
    await withAttribution({ department: 'marketing' }, () => model.invoke('x')); // 4 + 16 = 20

    const err = await withAttribution({ department: 'marketing' }, async () =>
      rejection(
        (async () => {
          for await (const chunk of await model.stream('x')) void chunk;
        })(),
      ),
    );
    expect(isBudgetExceededError(err)).toBe(true);
    expect((err as BudgetExceededError).message).toBe(
      'tokenfuse: budget "marketing-hourly" blocked this call before it was sent: 20 of 20 tokens spent this hour; retry after 1s' +
        TROUBLESHOOTING,
    );
    expect(llm.requests).toHaveLength(1);
    expect(spend(await h!.scrape(), 'marketing')).toMatchObject({ ok: 1, blocked: 1 });
  });

  it('calls in flight hold the rest ("reserved", retry after 1s): one blocked call while they run', async () => {
    await setup({ budgets: [marketingHourly] });
    const model = chatOpenAI({ maxTokens: 14 });
    llm.enqueue({ kind: 'hang' });
    const inFlight = new AbortController();
    const hanging = withAttribution({ department: 'marketing' }, () =>
      model.invoke('x', { signal: inFlight.signal }),
    ).catch((e: unknown) => e);
    await vi.waitFor(() => expect(llm.requests).toHaveLength(1));

    const err = (await rejection(
      withAttribution({ department: 'marketing' }, () => chatOpenAI({ maxTokens: 6 }).invoke('x')),
    )) as BudgetExceededError;
    expect(isBudgetExceededError(err)).toBe(true);
    expect([err.reason, err.retryAfterSeconds]).toEqual(['reserved', 1]);
    expect(llm.requests).toHaveLength(1);
    expect(spend(await h!.scrape(), 'marketing')).toMatchObject({ ok: 0, blocked: 1 });
    inFlight.abort();
    await hanging;
  });

  it('model.withRetry() retries whatever fails, blocked calls too, unless its onFailedAttempt rethrows them', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: new Date('2026-11-23T10:30:00Z') });
    await setup({ budgets: [marketingHourly] });
    const model = chatOpenAI({ maxTokens: 16 });
    const marketing = <T>(fn: () => Promise<T>) => withAttribution({ department: 'marketing' }, fn);
    await marketing(() => model.invoke('x')); // 4 + 16 = 20 of 20

    // RunnableRetry has its own loop and no notion of retryable: 2 attempts, 2 blocked calls.
    const retried = await rejection(
      marketing(() => model.withRetry({ stopAfterAttempt: 2 }).invoke('x')),
    );
    expect(isBudgetExceededError(retried)).toBe(true);
    expect(spend(await h!.scrape(), 'marketing')).toMatchObject({ ok: 1, blocked: 2 });

    // The pattern of docs/sdks.md (LangChain): rethrow a blocked call from onFailedAttempt to stop at once.
    const stopped = await rejection(
      marketing(() =>
        model
          .withRetry({
            stopAfterAttempt: 3,
            onFailedAttempt: (err) => {
              if (isBlockedCallError(err)) throw err;
            },
          })
          .invoke('x'),
      ),
    );
    expect(isBudgetExceededError(stopped)).toBe(true);
    expect(spend(await h!.scrape(), 'marketing')).toMatchObject({ ok: 1, blocked: 3 });
    expect(llm.requests).toHaveLength(1);
  });

  it('a model policy: our ModelNotAllowedError, message untouched, one blocked call', async () => {
    await setup({
      policies: [{ name: 'qa-models', match: { department: 'qa' }, allowModels: ['gpt-4.1-mini'] }],
    });
    const err = (await rejection(
      withAttribution({ department: 'qa' }, () => chatOpenAI({ maxTokens: 2 }).invoke('x')),
    )) as ModelNotAllowedError;
    expect(isModelNotAllowedError(err)).toBe(true);
    expect(err.message).toBe(
      'tokenfuse: policy "qa-models" does not allow model "gpt-4.1"; allowed: gpt-4.1-mini; the call was not sent',
    );
    expect(llm.requests).toHaveLength(0);
    expect(spend(await h!.scrape(), 'qa')).toMatchObject({ ok: 0, blocked: 1 });
  });

  it('the budget ledger unreachable with onFailure "closed" (a 503): one blocked call, no request', async () => {
    const port = await freePort(); // nothing listens there
    await setup({
      budgets: [marketingHourly],
      ledger: {
        store: 'redis',
        url: `redis://127.0.0.1:${port}`,
        keyPrefix: `tf-langchain-${process.pid}:`,
        timeoutMs: 200,
        onFailure: 'closed',
      },
    });
    const err = await rejection(
      withAttribution({ department: 'marketing' }, () => chatOpenAI({ maxTokens: 2 }).invoke('x')),
    );
    expect(isLedgerUnavailableError(err)).toBe(true);
    expect((err as LedgerUnavailableError).message).toBe(
      `tokenfuse: the budget ledger at 127.0.0.1:${port} cannot be reached, so budget "marketing-hourly" could not be checked and this call was not sent (ledger.onFailure: closed)`,
    );
    expect(llm.requests).toHaveLength(0);
    expect(spend(await h!.scrape(), 'marketing')).toMatchObject({ ok: 0, blocked: 1 });
  });
});

// ChatAnthropic runs on the copy of @anthropic-ai/sdk that @langchain/anthropic installs
// under itself (0.122), not the top-level 1.x: the Anthropic adapter covers both.
describe('ChatAnthropic (@langchain/anthropic on its own @anthropic-ai/sdk 0.122)', () => {
  const { ChatAnthropic } =
    require('@langchain/anthropic') as typeof import('@langchain/anthropic');
  const nestedRequire = createRequire(require.resolve('@langchain/anthropic'));
  const CLAUDE = 'claude-sonnet-4-5';
  const claudeTags = { project: 'core', environment: 'test', provider: 'anthropic', model: CLAUDE };
  let uninstall: (() => void) | undefined;

  afterEach(() => {
    uninstall?.();
    uninstall = undefined;
  });

  /** A harness where the fake (127.0.0.1) is Anthropic, with the nested SDK patched into it. */
  async function setupClaude(options: TokenfuseOptions = {}): Promise<Harness> {
    h = await harness({
      attribution: { defaults: { department: 'platform', project: 'core', environment: 'test' } },
      providers: [{ id: 'anthropic', hosts: ['127.0.0.1'] }],
      ...options,
    });
    // The module is cached by an earlier test's harness, which unpatched it on close.
    const main = nestedRequire.resolve('@anthropic-ai/sdk');
    const mod = nestedRequire('@anthropic-ai/sdk');
    const { version } = JSON.parse(readFileSync(join(dirname(main), 'package.json'), 'utf8'));
    expect(version).toBe('0.122.0');
    const defs = (h.tokenfuse.instrumentation as any)
      .getModuleDefinitions()
      .filter((d: any) => d.name === '@anthropic-ai/sdk');
    const patched = () => Boolean(mod.Anthropic.Messages.prototype.create.__wrapped);
    if (!patched()) for (const def of defs) def.patch(mod, version);
    uninstall = () => {
      if (patched()) for (const def of defs) def.unpatch(mod);
    };
    return h;
  }

  const claude = (maxTokens: number) =>
    new ChatAnthropic({
      model: CLAUDE,
      apiKey: 'sk-ant-test',
      anthropicApiUrl: llm.url,
      maxTokens,
    });

  // Anthropic's usage: input_tokens EXCLUDES the cache reads and writes.
  const CLAUDE_USAGE = {
    input_tokens: 21,
    cache_creation_input_tokens: 1200,
    cache_read_input_tokens: 3400,
    cache_creation: { ephemeral_5m_input_tokens: 1000, ephemeral_1h_input_tokens: 200 },
    output_tokens: 87,
  };
  /** The catalog's price of CLAUDE_USAGE (its input INCLUDES the cache): $0.007338. */
  const claudeUsd = () =>
    calcPrice(
      {
        input_tokens: 4621,
        cache_read_tokens: 3400,
        cache_write_tokens: 1200,
        cache_write_5m_tokens: 1000,
        cache_write_1h_tokens: 200,
        output_tokens: 87,
      },
      CLAUDE,
      { providerId: 'anthropic' },
    )!.total_price;

  function claudeSpend(m: Sample[], department: string) {
    const l = { ...claudeTags, department };
    return {
      input: sum(m, 'tokenfuse_tokens_total', { ...l, type: 'input' }),
      cacheRead: sum(m, 'tokenfuse_tokens_total', { ...l, type: 'cache_read' }),
      cacheWrite: sum(m, 'tokenfuse_tokens_total', { ...l, type: 'cache_write' }),
      output: sum(m, 'tokenfuse_tokens_total', { ...l, type: 'output' }),
      ok: sum(m, 'tokenfuse_requests_total', { ...l, outcome: 'ok' }),
      blocked: sum(m, 'tokenfuse_requests_total', { ...l, outcome: 'blocked' }),
      usd: sum(m, 'tokenfuse_cost_usd_total', l),
    };
  }

  it('invoke is one messages.create: exact tokens and dollars for the usage the server returned', async () => {
    await setupClaude();
    llm.enqueue({ kind: 'usage', usage: CLAUDE_USAGE });
    const reply = await claude(5).invoke('name three autumn colours');
    expect(reply.usage_metadata).toMatchObject({ output_tokens: 87 });
    expect(llm.requests.map((r) => [r.path, r.headers['anthropic-version']])).toEqual([
      ['/v1/messages', '2023-06-01'], // the 0.x wire protocol
    ]);
    const m = await h!.scrape();
    expect(claudeSpend(m, 'platform')).toEqual({
      input: 21,
      cacheRead: 3400,
      cacheWrite: 1200,
      output: 87,
      ok: 1,
      blocked: 0,
      usd: expect.closeTo(claudeUsd(), 12),
    });
    expect(claudeUsd()).toBeCloseTo(0.007338, 12);
    expect(h!.spans()).toHaveLength(1);
    expect(h!.spans()[0]!.attributes).toMatchObject({
      'tokenfuse.api': 'messages',
      'gen_ai.provider.name': 'anthropic',
      'gen_ai.usage.output_tokens': 87,
    });
  });

  it('stream is one call, counted from message_start and message_delta', async () => {
    await setupClaude();
    llm.enqueue({ kind: 'usage', usage: CLAUDE_USAGE });
    let text = '';
    for await (const chunk of await claude(4).stream('a tagline please')) text += chunk.content;
    expect(text).toBe(`Hello from ${CLAUDE} Hello`);
    expect(llm.requests[0]!.body.stream).toBe(true);
    expect(claudeSpend(await h!.scrape(), 'platform')).toEqual({
      input: 21,
      cacheRead: 3400,
      cacheWrite: 1200,
      output: 87,
      ok: 1,
      blocked: 0,
      usd: expect.closeTo(claudeUsd(), 12),
    });
    expect(h!.spans()).toHaveLength(1);
  });

  it('a chain inside withAttribution, and per-call headers, attribute the call; the headers are not sent', async () => {
    await setupClaude();
    const chain = ChatPromptTemplate.fromMessages([
      ['system', 'You write short subject lines'],
      ['human', 'Subject line for the {topic}'],
    ]).pipe(claude(6));
    await withAttribution({ department: 'marketing' }, () =>
      chain.invoke({ topic: 'autumn sale' }),
    );
    await claude(2).invoke('x', { headers: { 'X-Department': 'support' } });
    // The fake's own accounting: system (5 + 3) + message (6 + 3) = 17, and 5 reply words
    // at most; then 1 + 3 = 4 and 2.
    expect(llm.requests[0]!.body.system).toBe('You write short subject lines');
    expect(llm.requests.every((r) => r.headers['x-department'] === undefined)).toBe(true);
    const m = await h!.scrape();
    expect(claudeSpend(m, 'marketing')).toMatchObject({ input: 17, output: 5, ok: 1 });
    expect(claudeSpend(m, 'support')).toMatchObject({ input: 4, output: 2, ok: 1 });
    expect(sum(m, 'tokenfuse_requests_total', { department: 'platform' })).toBe(0);
  });

  it('a fuse blocks before anything is sent: our BudgetExceededError, one blocked call, not retried', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: new Date('2026-11-23T10:59:59Z') });
    await setupClaude({
      budgets: [
        {
          name: 'marketing-hourly',
          match: { department: 'marketing' },
          window: 'hour',
          limit: { tokens: 9 },
        },
      ],
    });
    const marketing = <T>(fn: () => Promise<T>) => withAttribution({ department: 'marketing' }, fn);
    await marketing(() => claude(5).invoke('x')); // 4 + 5 = 9 of 9
    const err = (await rejection(marketing(() => claude(5).invoke('x')))) as BudgetExceededError & {
      lc_error_code?: string;
    };
    expect(llm.requests).toHaveLength(1);
    expect(isBudgetExceededError(err)).toBe(true);
    expect(err.message).toBe(
      'tokenfuse: budget "marketing-hourly" blocked this call before it was sent: 9 of 9 tokens spent this hour; retry after 1s' +
        '\n\nTroubleshooting URL: https://docs.langchain.com/oss/javascript/langchain/errors/MODEL_RATE_LIMIT/\n',
    );
    expect(err.lc_error_code).toBe('MODEL_RATE_LIMIT');
    expect(claudeSpend(await h!.scrape(), 'marketing')).toMatchObject({ ok: 1, blocked: 1 });
  });
});
