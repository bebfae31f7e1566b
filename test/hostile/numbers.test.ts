import { diag } from '@opentelemetry/api';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type FakeOpenAI, startFakeOpenAI } from '../../examples/shared/fake-openai-server.mjs';
import { createHarness, type Harness } from '../helpers/harness.js';
import { select, sum } from '../helpers/prom-text.js';

let llm: FakeOpenAI;
let h: Harness | undefined;
beforeAll(async () => {
  llm = await startFakeOpenAI();
});
afterAll(async () => {
  await llm.close();
});
afterEach(async () => {
  await h?.tokenfuse.fuses.close();
  await h?.close();
  h = undefined;
  llm.reset();
  diag.disable();
});

// The fake server's host priced as OpenAI, with prices chosen so every model's
// share of a sum is visible.
const relay = { id: 'local-relay', hosts: ['127.0.0.1'], pricesFrom: 'openai' };
const overrides = [
  { model: 'gpt-4.1', input_mtok: 1000, output_mtok: 10_000 },
  { model: 'gpt-4.1-mini', input_mtok: 1, output_mtok: 10 },
  { model: 'gpt-4o-mini', input_mtok: 2, output_mtok: 20 },
  { model: 'text-embedding-3-small', input_mtok: 100 },
];

function client(harness: Harness) {
  return new harness.OpenAI({ baseURL: `${llm.url}/v1`, apiKey: 'sk', maxRetries: 0 });
}

// 'a b c' is 3 words + 3 framing = 6 prompt tokens on the fake server; max_tokens 2 → 2 output.
async function chat(harness: Harness, model: string, headers?: Record<string, string>) {
  await client(harness).chat.completions.create(
    { model, messages: [{ role: 'user', content: 'a b c' }], max_tokens: 2 },
    headers ? { headers } : undefined,
  );
}

describe('counters sum every call of one exported label set', () => {
  it("adds calls whose models fold into 'other' and whose operations differ", async () => {
    h = await createHarness({
      providers: [relay],
      pricing: { overrides },
      // provider is not a label, so chat and embeddings share a label set too
      metrics: { labels: ['department', 'model'], maxValuesPerLabel: 1 },
    });
    await chat(h, 'gpt-4.1');
    await chat(h, 'gpt-4.1-mini'); // → other
    await chat(h, 'gpt-4o-mini'); // → other
    await chat(h, 'gpt-4o-mini'); // → other
    await client(h).embeddings.create({
      model: 'text-embedding-3-small', // → other
      input: 'one two three four',
    });

    const m = await h.scrape();
    const other = { department: 'unknown', model: 'other' };
    // one data point per exported label set, holding the sum
    expect(select(m, 'tokenfuse_requests_total', { ...other, outcome: 'ok' })).toHaveLength(1);
    expect(select(m, 'tokenfuse_tokens_total', { ...other, type: 'input' })).toHaveLength(1);
    expect(select(m, 'tokenfuse_cost_usd_total', other)).toHaveLength(1);
    expect(sum(m, 'tokenfuse_requests_total', { ...other, outcome: 'ok' })).toBe(4);
    expect(sum(m, 'tokenfuse_tokens_total', { ...other, type: 'input' })).toBe(6 * 3 + 4);
    expect(sum(m, 'tokenfuse_tokens_total', { ...other, type: 'output' })).toBe(2 * 3);
    expect(sum(m, 'tokenfuse_cost_usd_total', other)).toBeCloseTo(
      (6 * 1 + 2 * 10 + 2 * (6 * 2 + 2 * 20) + 4 * 100) / 1e6,
      15,
    );
    // and the whole equals the sum of all calls
    expect(sum(m, 'tokenfuse_requests_total')).toBe(5);
    expect(sum(m, 'tokenfuse_tokens_total', { type: 'input' })).toBe(6 * 4 + 4);
    expect(sum(m, 'tokenfuse_cost_usd_total', { model: 'gpt-4.1' })).toBeCloseTo(
      (6 * 1000 + 2 * 10_000) / 1e6,
      15,
    );
    // histograms keep their own semconv attributes: the operations stay apart
    expect(
      sum(m, 'gen_ai_client_operation_duration_count', { gen_ai_operation_name: 'embeddings' }),
    ).toBe(1);
    expect(
      sum(m, 'gen_ai_client_operation_duration_count', { gen_ai_operation_name: 'chat' }),
    ).toBe(4);
  });
});
