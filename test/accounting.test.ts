import { diag, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { AlwaysOffSampler } from '@opentelemetry/sdk-trace';
import { afterEach, describe, expect, it } from 'vitest';
import { INTERNAL_ERROR_COMPONENTS } from '../src/metrics/contract.js';
import { captureDiag } from './helpers/diag.js';
import { LOCAL_RELAY, useFakeServerHarness } from './helpers/fake-server-harness.js';
import type { Harness } from './helpers/harness.js';
import { select, sum } from './helpers/prom-text.js';

const { llm, harness, client } = useFakeServerHarness();
let h: Harness;
afterEach(() => {
  diag.disable();
});

describe('exactly once', () => {
  it('counts every call exactly when the sampler drops every span', async () => {
    h = await harness({ providers: [LOCAL_RELAY] }, { sampler: new AlwaysOffSampler() });
    const openai = client(h);
    for (let i = 0; i < 3; i++) {
      await openai.chat.completions.create({
        model: 'gpt-4.1',
        messages: [{ role: 'user', content: 'a b c' }],
        max_tokens: 2,
      });
    }
    const stream = await openai.chat.completions.create({
      model: 'gpt-4.1',
      messages: [{ role: 'user', content: 'a b c' }],
      max_tokens: 4,
      stream: true,
    });
    for await (const _ of stream);
    expect(h.spans()).toHaveLength(0);
    const m = await h.scrape();
    expect(sum(m, 'tokenfuse_requests_total', { outcome: 'ok' })).toBe(4);
    expect(sum(m, 'tokenfuse_tokens_total', { type: 'input' })).toBe(24); // 4 × (3 + 3)
    expect(sum(m, 'tokenfuse_tokens_total', { type: 'output' })).toBe(10);
    expect(sum(m, 'tokenfuse_cost_usd_total')).toBeCloseTo((24 * 2 + 10 * 8) / 1e6, 12);
  });

  it("prices another instrumentation's GenAI span, writes its cost on it, and counts it once", async () => {
    h = await harness({ attribution: { defaults: { department: 'data' } } });
    const tracer = h.tracerProvider.getTracer('@opentelemetry/instrumentation-openai');
    const span = tracer.startSpan('chat gpt-4.1', {
      kind: SpanKind.CLIENT,
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'openai',
        'gen_ai.request.model': 'gpt-4.1',
        'gen_ai.usage.input_tokens': 1000,
        'gen_ai.usage.cache_read.input_tokens': 400,
        'gen_ai.usage.output_tokens': 100,
        'server.address': 'api.openai.com',
      },
    });
    span.end();
    const [ended] = h.spans();
    const expected = (600 * 2 + 400 * 0.5 + 100 * 8) / 1e6;
    expect(ended!.attributes['tokenfuse.cost.usd']).toBeCloseTo(expected, 15);
    const m = await h.scrape();
    const labels = { department: 'data', provider: 'openai', model: 'gpt-4.1' };
    // Seen only in its span: counted, never admitted by tokenfuse.
    expect(sum(m, 'tokenfuse_requests_total', { ...labels, outcome: 'observed' })).toBe(1);
    expect(sum(m, 'tokenfuse_requests_total', { ...labels, outcome: 'ok' })).toBe(0);
    expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'input' })).toBe(600);
    expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'cache_read' })).toBe(400);
    expect(sum(m, 'tokenfuse_cost_usd_total', labels)).toBeCloseTo(expected, 12);
  });

  it("does not count a foreign GenAI span that wraps one of tokenfuse's own calls", async () => {
    h = await harness({ providers: [LOCAL_RELAY] });
    const openai = client(h);
    const tracer = h.tracerProvider.getTracer('some-other-genai-instrumentation');
    await tracer.startActiveSpan(
      'chat gpt-4.1',
      { attributes: { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4.1' } },
      async (outer) => {
        await openai.chat.completions.create({
          model: 'gpt-4.1',
          messages: [{ role: 'user', content: 'x' }],
          max_tokens: 1,
        });
        outer.setAttribute('gen_ai.usage.input_tokens', 4);
        outer.setAttribute('gen_ai.usage.output_tokens', 1);
        outer.end();
      },
    );
    expect(h.spans()).toHaveLength(2);
    const m = await h.scrape();
    expect(sum(m, 'tokenfuse_requests_total')).toBe(1);
    expect(sum(m, 'tokenfuse_tokens_total', { type: 'input' })).toBe(4);
  });

  it('ignores spans that are not GenAI spans', async () => {
    h = await harness({});
    h.tracerProvider
      .getTracer('http')
      .startSpan('GET /', { attributes: { 'http.request.method': 'GET' } })
      .end();
    expect(select(await h.scrape(), 'tokenfuse_requests_total')).toEqual([]);
  });

  it('counts a failed foreign GenAI span as an error', async () => {
    h = await harness({});
    const span = h.tracerProvider.getTracer('other').startSpan('chat gpt-4.1', {
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'openai',
        'gen_ai.request.model': 'gpt-4.1',
        'error.type': '429',
      },
    });
    span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
    const m = await h.scrape();
    expect(sum(m, 'tokenfuse_requests_total', { outcome: 'error', model: 'gpt-4.1' })).toBe(1);
    expect(sum(m, 'gen_ai_client_operation_duration_count', { error_type: '429' })).toBe(1);
  });
});

describe('pricing in the pipeline', () => {
  it('counts an unknown model in tokens and tokenfuse_unpriced_total at $0, and warns once', async () => {
    const messages = captureDiag();
    h = await harness({});
    const openai = client(h);
    for (let i = 0; i < 3; i++) {
      await openai.chat.completions.create({
        model: 'house-llm-7b',
        messages: [{ role: 'user', content: 'x y' }],
        max_tokens: 3,
      });
    }
    const m = await h.scrape();
    const labels = { provider: 'openai_compatible', model: 'house-llm-7b' };
    expect(sum(m, 'tokenfuse_unpriced_total', labels)).toBe(3);
    expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'input' })).toBe(15);
    expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'output' })).toBe(9);
    expect(select(m, 'tokenfuse_cost_usd_total', labels).map((x) => x.value)).toEqual([0]);
    expect(h.spans()[0]!.attributes['tokenfuse.priced']).toBe(false);
    expect(h.spans()[0]!.attributes['tokenfuse.cost.usd']).toBe(0);
    const warnings = messages.filter((msg) =>
      msg.includes('no price known for model "house-llm-7b"'),
    );
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('pricing.overrides');
  });

  it("prices a relay's override ($8/MTok both ways for gpt-4.1) over the catalog", async () => {
    h = await harness({
      providers: [{ id: 'paid-relay', hosts: ['127.0.0.1'] }],
      pricing: {
        overrides: [{ model: 'gpt-4.1', provider: 'paid-relay', input_mtok: 8, output_mtok: 8 }],
      },
    });
    const openai = client(h);
    await openai.chat.completions.create({
      model: 'gpt-4.1',
      messages: [{ role: 'user', content: 'one two three' }],
      max_tokens: 10,
    });
    const m = await h.scrape();
    expect(
      sum(m, 'tokenfuse_cost_usd_total', { provider: 'paid-relay', model: 'gpt-4.1' }),
    ).toBeCloseTo(((6 + 10) * 8) / 1e6, 12);
  });
});

/** `tokenfuse_internal_errors_total` by component, as /metrics has it now (every component). */
async function internalErrors(harness: Harness): Promise<Record<string, number>> {
  const m = await harness.scrape();
  const out: Record<string, number> = {};
  for (const component of INTERNAL_ERROR_COMPONENTS)
    out[component] = sum(m, 'tokenfuse_internal_errors_total', { component });
  expect(select(m, 'tokenfuse_internal_errors_total', {})).toHaveLength(
    INTERNAL_ERROR_COMPONENTS.length,
  );
  return out;
}

describe('our failures never break the call, and are counted', () => {
  it('a metrics backend that throws: the call returns its result and the error goes to diag', async () => {
    const messages = captureDiag();
    // The per-call histograms and counters are tokenfuse's own (no meter on the call
    // path); the meter's counters are for what is dropped, such as a cut label value.
    h = await harness({
      providers: [LOCAL_RELAY],
      attribution: { defaults: { department: 'd'.repeat(40) } },
      metrics: { maxLabelValueLength: 16 },
    });
    const throwing = () => {
      throw new Error('meter exploded');
    };
    const badMeter = {
      createHistogram: () => ({ record: throwing }),
      createCounter: () => ({ add: throwing }),
      createObservableCounter: () => ({ addCallback() {}, removeCallback() {} }),
    };
    h.tokenfuse.accountant.setMeter(badMeter as never);
    const before = await internalErrors(h);
    const openai = client(h);
    for (let i = 0; i < 3; i++) {
      const completion = await openai.chat.completions.create({
        model: 'gpt-4.1',
        messages: [{ role: 'user', content: 'x' }],
        max_tokens: 2,
      });
      expect(completion.choices[0]!.message.content).toBe('Hello from');
    }
    // Logged once, with its error; counted every time.
    expect(
      messages.filter((m) => m.includes('accounting failed') && m.includes('meter exploded')),
    ).toHaveLength(1);
    expect(messages.find((m) => m.includes('accounting failed'))).toContain(
      'tokenfuse_internal_errors_total{component="accounting"} counts each',
    );
    expect(await internalErrors(h)).toEqual({ ...before, accounting: before.accounting! + 3 });
    expect(h.spans()).toHaveLength(3);
  });

  it('a tracer that throws: the SDK call runs untouched', async () => {
    const messages = captureDiag();
    h = await harness({});
    h.tokenfuse.instrumentation.setTracerProvider({
      getTracer: () => ({
        startSpan: () => {
          throw new Error('tracer exploded');
        },
      }),
    } as never);
    const before = await internalErrors(h);
    const openai = client(h);
    for (let i = 0; i < 2; i++) {
      const stream = await openai.chat.completions.create({
        model: 'gpt-4.1',
        messages: [{ role: 'user', content: 'x' }],
        max_tokens: 2,
        stream: true,
      });
      let text = '';
      for await (const c of stream) text += c.choices[0]?.delta?.content ?? '';
      expect(text).toBe('Hello from');
      // Untouched means untouched: no usage chunk was requested.
      expect(llm.requests[i]!.body.stream_options).toBeUndefined();
    }
    expect(
      messages.filter((m) => m.includes('calling it untouched') && m.includes('tracer exploded')),
    ).toHaveLength(1);
    expect(await internalErrors(h)).toEqual({
      ...before,
      instrumentation: before.instrumentation! + 2,
    });
  });
});
