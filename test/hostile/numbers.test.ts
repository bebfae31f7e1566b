import { createHash } from 'node:crypto';
import { diag } from '@opentelemetry/api';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startFakeOpenAI } from '../../examples/shared/fake-openai-server.mjs';
import { createTokenfuse } from '../../src/index.js';
import { captureDiag } from '../helpers/diag.js';
import { LOCAL_RELAY, useFakeServerHarness } from '../helpers/fake-server-harness.js';
import type { Harness } from '../helpers/harness.js';
import { App, childEnv, freePort } from '../helpers/processes.js';
import { parsePrometheusText, select, sum } from '../helpers/prom-text.js';

const fake = useFakeServerHarness();
const { llm, client } = fake;
let h: Harness | undefined;
afterEach(() => {
  vi.useRealTimers();
  diag.disable();
});

// Prices for the fake server's host (LOCAL_RELAY, priced as OpenAI) chosen so every
// model's share of a sum is visible.
const overrides = [
  { model: 'gpt-4.1', input_mtok: 1000, output_mtok: 10_000 },
  { model: 'gpt-4.1-mini', input_mtok: 1, output_mtok: 10 },
  { model: 'gpt-4o-mini', input_mtok: 2, output_mtok: 20 },
  { model: 'text-embedding-3-small', input_mtok: 100 },
];

// 'a b c' is 3 words + 3 framing = 6 prompt tokens on the fake server; max_tokens 2 → 2 output.
async function chat(harness: Harness, model: string, headers?: Record<string, string>) {
  await client(harness).chat.completions.create(
    { model, messages: [{ role: 'user', content: 'a b c' }], max_tokens: 2 },
    headers ? { headers } : undefined,
  );
}

describe('counters sum every call of one exported label set', () => {
  it("adds calls whose models fold into 'other' and whose operations differ", async () => {
    h = await fake.harness({
      providers: [LOCAL_RELAY],
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

describe('usage that is not a token count', () => {
  it('rejects each bad field, counts and logs it once, and keeps budgets and counters exact', async () => {
    const logs = captureDiag();
    vi.useFakeTimers({ toFake: ['Date'], now: new Date('2026-03-02T10:00:00Z') });
    h = await fake.harness({
      providers: [LOCAL_RELAY],
      pricing: { overrides },
      budgets: [
        { name: 'all', window: { rolling: '1m' }, limit: { tokens: 1_000_000, usd: 1000 } },
      ],
    });
    const forged = `\nFORGED LOG LINE ${'x'.repeat(500)}`;
    const bad = [
      { prompt_tokens: 1e308, completion_tokens: 2 }, // counts 0 in, 2 out
      { prompt_tokens: -5, completion_tokens: 3.7 }, // 0, 0
      { prompt_tokens: '12', completion_tokens: 4 }, // 0, 4
      {
        prompt_tokens: 10,
        completion_tokens: 'NaN',
        prompt_tokens_details: { cached_tokens: forged },
      }, // 10, 0
    ];
    for (const usage of bad) {
      llm.enqueue({ kind: 'usage', usage });
      await chat(h, 'gpt-4.1');
    }
    llm.enqueue({ kind: 'usage', usage: { prompt_tokens: 6, completion_tokens: 1e308 } });
    const stream = await client(h).chat.completions.create({
      model: 'gpt-4.1',
      messages: [{ role: 'user', content: 'a b c' }],
      max_tokens: 2,
      stream: true,
      stream_options: { include_usage: true },
    }); // 6, 0
    for await (const _ of stream);
    await chat(h, 'gpt-4.1'); // valid: 6, 2

    // A foreign instrumentation's span with non-finite and negative usage.
    h.tracerProvider
      .getTracer('@opentelemetry/instrumentation-openai')
      .startSpan('chat gpt-4.1', {
        attributes: {
          'gen_ai.operation.name': 'chat',
          'gen_ai.provider.name': 'openai',
          'gen_ai.request.model': 'gpt-4.1',
          'gen_ai.usage.input_tokens': Number.POSITIVE_INFINITY,
          'gen_ai.usage.output_tokens': Number.NaN,
          'gen_ai.usage.cache_read.input_tokens': -1,
        },
      })
      .end();

    const input = 0 + 0 + 0 + 10 + 6 + 6;
    const output = 2 + 0 + 4 + 0 + 0 + 2;
    const spent = h.tokenfuse.fuses.get('all').spent;
    expect(spent.tokens).toBe(input + output);
    expect(spent.usd).toBeCloseTo((input * 1000 + output * 10_000) / 1e6, 12);
    // Six wrapped calls, and the foreign span's call: observed, with no valid usage.
    expect(spent.requests).toBe(7);

    const m = await h.scrape();
    const relayLabels = { provider: 'local-relay', model: 'gpt-4.1' };
    expect(sum(m, 'tokenfuse_tokens_total', { ...relayLabels, type: 'input' })).toBe(input);
    expect(sum(m, 'tokenfuse_tokens_total', { ...relayLabels, type: 'output' })).toBe(output);
    expect(sum(m, 'tokenfuse_tokens_total', { provider: 'openai' })).toBe(0);
    expect(sum(m, 'tokenfuse_requests_total', { outcome: 'ok' })).toBe(6);
    expect(sum(m, 'tokenfuse_requests_total', { outcome: 'observed' })).toBe(1);
    expect(sum(m, 'tokenfuse_cost_usd_total', relayLabels)).toBeCloseTo(spent.usd, 12);
    const invalid = (labels: Record<string, string>) =>
      sum(m, 'tokenfuse_usage_invalid_total', labels);
    expect(invalid({ ...relayLabels, field: 'prompt_tokens' })).toBe(3);
    expect(invalid({ ...relayLabels, field: 'completion_tokens' })).toBe(3);
    expect(invalid({ ...relayLabels, field: 'prompt_tokens_details.cached_tokens' })).toBe(1);
    const openai = { provider: 'openai', model: 'gpt-4.1' };
    expect(invalid({ ...openai, field: 'gen_ai.usage.input_tokens' })).toBe(1);
    expect(invalid({ ...openai, field: 'gen_ai.usage.output_tokens' })).toBe(1);
    expect(invalid({ ...openai, field: 'gen_ai.usage.cache_read.input_tokens' })).toBe(1);
    expect(invalid({})).toBe(10);

    // the calls with a rejected field say their usage is not the provider's
    const estimated = h.spans().map((s) => s.attributes['tokenfuse.usage.estimated']);
    expect(estimated).toEqual([true, true, true, true, true, false, true]);

    // once per provider and field, the value escaped and cut
    const warned = logs.filter((l) => l.includes('is not a token count'));
    expect(warned).toHaveLength(6);
    expect(warned[0]).toContain(
      'provider "local-relay" (model "gpt-4.1") reported usage field \'prompt_tokens\' = 1e+308,',
    );
    expect(warned[1]).toContain("usage field 'completion_tokens' = 3.7,");
    const cached = warned.find((l) => l.includes("'prompt_tokens_details.cached_tokens'"))!;
    expect(cached).toContain(`= "\\nFORGED LOG LINE ${'x'.repeat(63)}… (517 chars)",`);
    expect(cached).not.toContain('\n');
    expect(
      warned.filter((l) => l.includes("'gen_ai.usage.input_tokens' = Infinity,")),
    ).toHaveLength(1);

    // the window rolls: nothing is left over, nothing turns into NaN
    vi.setSystemTime(new Date('2026-03-02T10:02:00Z'));
    expect(h.tokenfuse.fuses.get('all').spent).toEqual({ tokens: 0, usd: 0, requests: 0 });
    await chat(h, 'gpt-4.1');
    const after = h.tokenfuse.fuses.get('all');
    expect(after.spent.tokens).toBe(8);
    expect(after.spent.usd).toBeCloseTo((6 * 1000 + 2 * 10_000) / 1e6, 12);
    // the larger of 8 / 1M tokens and $0.026 / $1000
    expect(after.utilization).toBeCloseTo(0.026 / 1000, 15);
  });

  it("keeps a rejected output count out of the model's output average", async () => {
    h = await fake.harness({
      providers: [LOCAL_RELAY],
      budgets: [{ name: 'all', window: 'hour', limit: { tokens: 1_000_000 } }],
    });
    // no max_tokens: the reservation's output part is the model's running average
    const unbounded = async () =>
      client(h!).chat.completions.create({
        model: 'gpt-4.1',
        messages: [{ role: 'user', content: 'a b c' }],
      });
    llm.enqueue({ kind: 'usage', usage: { prompt_tokens: 6, completion_tokens: 1e308 } });
    await unbounded();
    // Were 1e308 in the average, this reservation (input bound + average) would not
    // fit a 1M budget and the call would be blocked.
    await unbounded();
    expect(h.tokenfuse.fuses.get('all').spent.tokens).toBe(6 + 6 + 5);
  });
});

/** The documented cut: the first 119 characters, `~`, 8 hex digits of the SHA-256. */
function cut128(value: string): string {
  return `${value.slice(0, 119)}~${createHash('sha256').update(value).digest('hex').slice(0, 8)}`;
}

describe('label values and series are bounded', () => {
  it('keeps /metrics of a running app scrapeable with twelve 1 MiB department values', async () => {
    const server = await startFakeOpenAI();
    const port = await freePort();
    const app = new App(
      ['--import', 'tokenfuse/register', 'test/fixtures/apps/long-tags-app.mjs'],
      childEnv({
        LLM_BASE_URL: `${server.url}/v1`,
        OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
        OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
      }),
    );
    try {
      expect(await app.firstLine()).toBe('{"ready":true}');
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(res.status).toBe(200);
      const text = await res.text();
      // 12 label sets of a few dozen lines each (~260 KB); uncut, it would pass 12 MiB
      expect(text.length).toBeLessThan(1 << 20);
      const m = parsePrometheusText(text);
      for (let i = 0; i < 12; i++) {
        const department = cut128(`dept-${i}-${'x'.repeat(1 << 20)}`);
        expect(department).toHaveLength(128);
        expect(sum(m, 'tokenfuse_requests_total', { department, outcome: 'ok' })).toBe(1);
        expect(sum(m, 'tokenfuse_tokens_total', { department, type: 'input' })).toBe(6);
        expect(sum(m, 'gen_ai_client_operation_duration_count', { department })).toBe(1);
      }
      expect(sum(m, 'tokenfuse_requests_total')).toBe(12);
      expect(sum(m, 'tokenfuse_series_dropped_total', { reason: 'value_too_long' })).toBe(12);
      // the header never reached the provider
      expect(server.requests.every((r) => r.headers['x-department'] === undefined)).toBe(true);
      // logged once, escaped and cut
      const warned = app.stderr.split('\n').filter((l) => l.includes('got a value of'));
      expect(warned).toHaveLength(1);
      expect(warned[0]).toContain(
        `label 'department' got a value of 1048583 characters, "dept-0-${'x'.repeat(73)}… (1048583 chars)";`,
      );
    } finally {
      await app.kill();
      await server.close();
    }
    // 12 MiB of headers through the SDK in a child process: slow on a busy machine
  }, 90_000);

  it("caps a foreign GenAI span's model, provider and operation like our own", async () => {
    h = await fake.harness({ metrics: { labels: ['department', 'provider', 'model'] } });
    const model = `m-${'y'.repeat(5000)}`;
    const provider = `p-${'z'.repeat(5000)}`;
    const operation = `o-${'w'.repeat(5000)}`;
    h.tracerProvider
      .getTracer('@opentelemetry/instrumentation-openai')
      .startSpan('chat', {
        attributes: {
          'gen_ai.operation.name': operation,
          'gen_ai.provider.name': provider,
          'gen_ai.request.model': model,
          'tokenfuse.department': `d-${'v'.repeat(5000)}`,
          'gen_ai.usage.input_tokens': 7,
          'gen_ai.usage.output_tokens': 3,
        },
      })
      .end();
    const m = await h.scrape();
    const labels = {
      department: cut128(`d-${'v'.repeat(5000)}`),
      provider: cut128(provider),
      model: cut128(model),
    };
    expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'input' })).toBe(7);
    expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'output' })).toBe(3);
    const histogram = select(m, 'gen_ai_client_token_usage_count', {
      gen_ai_operation_name: cut128(operation),
      gen_ai_provider_name: cut128(provider),
      gen_ai_request_model: cut128(model),
    });
    expect(histogram.map((s) => s.value)).toEqual([1, 1]);
    // one call, with values cut: counted once for that reason
    expect(sum(m, 'tokenfuse_series_dropped_total', { reason: 'value_too_long' })).toBe(1);
    const longest = Math.max(...m.flatMap((s) => Object.values(s.labels).map((v) => v.length)));
    expect(longest).toBe(128);
  });

  it('folds label sets past metrics.maxSeries into one overflow set and counts them', async () => {
    const logs = captureDiag();
    h = await fake.harness({ providers: [LOCAL_RELAY], metrics: { maxSeries: 3 } });
    for (const department of ['a', 'b', 'c', 'd', 'e', 'a', 'e']) {
      await chat(h, 'gpt-4.1', { 'X-Department': department });
    }
    const m = await h.scrape();
    for (const department of ['a', 'b', 'c']) {
      expect(sum(m, 'tokenfuse_requests_total', { department })).toBe(department === 'a' ? 2 : 1);
    }
    const overflow = {
      department: 'other',
      project: 'other',
      environment: 'other',
      provider: 'other',
      model: 'other',
    };
    expect(select(m, 'tokenfuse_requests_total', { ...overflow, outcome: 'ok' })).toHaveLength(1);
    expect(sum(m, 'tokenfuse_requests_total', overflow)).toBe(3); // d, e, e
    expect(sum(m, 'tokenfuse_tokens_total', { ...overflow, type: 'input' })).toBe(18);
    expect(sum(m, 'tokenfuse_cost_usd_total', overflow)).toBeCloseTo(
      (3 * (6 * 2 + 2 * 8)) / 1e6,
      15,
    );
    expect(
      sum(m, 'gen_ai_client_operation_duration_count', { gen_ai_request_model: 'other' }),
    ).toBe(3);
    expect(sum(m, 'tokenfuse_series_dropped_total', { reason: 'max_series' })).toBe(3);
    expect(sum(m, 'tokenfuse_requests_total')).toBe(7);
    expect(logs.filter((l) => l.includes('metrics.maxSeries'))).toHaveLength(1);
  });

  it('counts calls whose value folds into other past metrics.maxValuesPerLabel', async () => {
    const logs = captureDiag();
    h = await fake.harness({ providers: [LOCAL_RELAY], metrics: { maxValuesPerLabel: 2 } });
    for (const department of ['a', 'b', 'c\nFORGED', 'd', 'a']) {
      await chat(h, 'gpt-4.1', { 'X-Department': department });
    }
    const m = await h.scrape();
    expect(sum(m, 'tokenfuse_requests_total', { department: 'other' })).toBe(2);
    expect(sum(m, 'tokenfuse_series_dropped_total', { reason: 'max_values_per_label' })).toBe(2);
    const warned = logs.filter((l) => l.includes('metrics.maxValuesPerLabel'));
    expect(warned).toHaveLength(1);
    expect(warned[0]).toContain(`reached 2 distinct values; "c\\nFORGED" and later`);
  });

  it('validates metrics.maxLabelValueLength and metrics.maxSeries', () => {
    expect(() => createTokenfuse({ metrics: { maxLabelValueLength: 8 } })).toThrow(
      'metrics.maxLabelValueLength: expected an integer >= 16, got 8 (number)',
    );
    expect(() => createTokenfuse({ metrics: { maxSeries: 0 } })).toThrow(
      'metrics.maxSeries: expected a positive integer, got 0 (number)',
    );
  });
});
