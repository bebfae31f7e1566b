// The Vercel AI SDK with its own telemetry on and NO tokenfuse middleware: tokenfuse sees
// the call only through the AI SDK's `ai.*.doGenerate` / `doStream` spans. Such a call
// cannot be blocked (it was sent before tokenfuse heard of it), but the span processor
// prices it and settles it into the department's budget, so the threshold and trip fire
// and the next call through a wrapped client (`openai`) of that department is blocked
// before any request leaves. Real `ai` + `@ai-sdk/openai` over HTTP against the fake server.
import { createOpenAI } from '@ai-sdk/openai';
import { calcPrice } from '@pydantic/genai-prices';
import { generateText, streamText } from 'ai';
import type OpenAIType from 'openai';
import { describe, expect, it } from 'vitest';
import {
  type BudgetExceededError,
  isBudgetExceededError,
  type ThresholdEvent,
  type TripEvent,
  withAttribution,
} from '../src/index.js';
import { rejection, x } from './helpers/budget-calls.js';
import { useFakeServerHarness } from './helpers/fake-server-harness.js';
import type { Harness } from './helpers/harness.js';
import { sum } from './helpers/prom-text.js';

const { llm, harness, client } = useFakeServerHarness();
let h: Harness | undefined;

/** Dollars by the catalog for gpt-4.1 (the fake's usage: the call's words, then its output limit). */
function gpt41Usd(input: number, output: number): number {
  const price = calcPrice({ input_tokens: input, output_tokens: output }, 'gpt-4.1', {
    providerId: 'openai',
  });
  if (!price) throw new Error('no catalog price for openai/gpt-4.1');
  return price.total_price;
}

/** 20 tokens an hour for research: one AI SDK call of 9 + 7 tokens passes 75%, a second trips it. */
const RESEARCH_HOURLY = {
  name: 'research-hourly',
  match: { department: 'research' },
  window: 'hour' as const,
  limit: { tokens: 20 },
};

describe('AI SDK telemetry spans without the middleware', () => {
  it('move the budget exactly, fire its thresholds and trip, and the next wrapped openai call is blocked unsent', async () => {
    h = await harness({
      attribution: { defaults: { project: 'core', environment: 'test' } },
      budgets: [RESEARCH_HOURLY],
    });
    const thresholds: ThresholdEvent[] = [];
    const trips: TripEvent[] = [];
    h.tokenfuse.fuses.onThreshold((e) => thresholds.push(e));
    h.tokenfuse.fuses.onTrip((e) => trips.push(e));
    const tracer = h.tracerProvider.getTracer('ai');
    const aiOpenAI = createOpenAI({ baseURL: `${llm.url}/v1`, apiKey: 'sk-test-ai' });

    // 6 words + 3 = 9 prompt tokens; 7 output tokens (the limit, fully used).
    await withAttribution({ department: 'research' }, () =>
      generateText({
        model: aiOpenAI.chat('gpt-4.1'),
        prompt: 'name three colours of the autumn',
        maxOutputTokens: 7,
        experimental_telemetry: { isEnabled: true, tracer },
      }),
    );
    expect(llm.requests).toHaveLength(1);
    let fuse = await h.tokenfuse.fuses.read('research-hourly');
    expect(fuse.spent.tokens).toBe(16);
    expect(fuse.spent.requests).toBe(1);
    expect(Math.abs(fuse.spent.usd - gpt41Usd(9, 7))).toBeLessThan(1e-9);
    expect(fuse.state).toBe('closed');
    expect(thresholds.map((e) => [e.budget, e.threshold, e.unit])).toEqual([
      ['research-hourly', 0.5, 'tokens'],
      ['research-hourly', 0.75, 'tokens'],
    ]);

    // A streamed call: its doStream span settles when the stream has ended.
    const stream = withAttribution({ department: 'research' }, () =>
      streamText({
        model: aiOpenAI.chat('gpt-4.1'),
        prompt: 'a b c',
        maxOutputTokens: 4,
        experimental_telemetry: { isEnabled: true, tracer },
      }),
    );
    await stream.consumeStream();
    await expect
      .poll(async () => (await h!.tokenfuse.fuses.read('research-hourly')).state)
      .toBe('open');
    fuse = await h.tokenfuse.fuses.read('research-hourly');
    const streamUsage = await stream.usage;
    const streamTokens = (streamUsage.inputTokens ?? 0) + (streamUsage.outputTokens ?? 0);
    expect(streamTokens).toBeGreaterThan(0);
    expect(fuse.spent.tokens).toBe(16 + streamTokens);
    expect(fuse.spent.requests).toBe(2);
    expect(trips.map((e) => [e.budget, e.unit, e.limit])).toEqual([
      ['research-hourly', 'tokens', 20],
    ]);

    // The next research call through a client tokenfuse wraps never leaves the process.
    const openai: OpenAIType = client(h);
    const err = (await rejection(
      withAttribution({ department: 'research' }, () => openai.chat.completions.create(x(1))),
    )) as BudgetExceededError;
    expect(isBudgetExceededError(err)).toBe(true);
    expect([err.budget, err.reason, err.unit]).toEqual([
      'research-hourly',
      'limit_reached',
      'tokens',
    ]);
    expect(llm.requests).toHaveLength(2);

    const m = await h.scrape();
    // The AI SDK names the system `openai.chat`: the provider label is the catalog's `openai`.
    const observed = { department: 'research', provider: 'openai', model: 'gpt-4.1' };
    expect(sum(m, 'tokenfuse_requests_total', { ...observed, outcome: 'observed' })).toBe(2);
    expect(Math.abs(sum(m, 'tokenfuse_tokens_total', { ...observed, type: 'input' }))).toBe(
      9 + (streamUsage.inputTokens ?? 0),
    );
    expect(sum(m, 'tokenfuse_requests_total', { department: 'research', outcome: 'ok' })).toBe(0);
    expect(
      sum(m, 'tokenfuse_requests_total', {
        department: 'research',
        outcome: 'blocked',
        budget: 'research-hourly',
      }),
    ).toBe(1);
    expect(sum(m, 'tokenfuse_fuse_trips_total', { budget: 'research-hourly' })).toBe(1);
  });
});
