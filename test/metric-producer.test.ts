// tokenfuse aggregates its per-call metrics itself (src/metrics/metrics-engine.ts) and hands
// them to readers as a MetricProducer: a reader other than the Prometheus endpoint (an OTLP
// one, a console one, a user's own) must still receive them, with the values /metrics serves.
import { createRequire } from 'node:module';
import {
  AggregationTemporality,
  type DataPoint,
  type Histogram,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { createTokenfuse, withAttribution } from '../src/index.js';
import { METRIC } from '../src/metrics/contract.js';
import { start } from '../src/tokenfuse.js';
import { captureDiag } from './helpers/diag.js';
import { useFakeOpenAI } from './helpers/fake-server-harness.js';
import { metric } from './helpers/metric-data.js';
import { freePort } from './helpers/processes.js';
import { parsePrometheusText, select, sum } from './helpers/prom-text.js';

const require = createRequire(import.meta.url);
const llm = useFakeOpenAI();

describe('a reader given to start() besides the Prometheus endpoint', () => {
  it('receives tokenfuse_requests_total, tokens and the GenAI histograms with the values /metrics serves', async () => {
    const port = await freePort();
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    // Built without tokenfuse's producer, as an OTLP reader of the user's would be.
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
    const runtime = start({
      config: { serviceName: 'producer-check', metrics: { port, host: '127.0.0.1' } },
      metricReaders: [reader],
    })!;
    try {
      const { OpenAI } = require('openai');
      const openai = new OpenAI({ baseURL: `${llm.url}/v1`, apiKey: 'sk', maxRetries: 0 });
      for (const department of ['search', 'search', 'ads']) {
        await withAttribution({ department }, () =>
          openai.chat.completions.create({
            model: 'gpt-4.1',
            messages: [{ role: 'user', content: 'a b' }],
            max_tokens: 2,
          }),
        );
      }
      await reader.forceFlush();
      const exported = exporter
        .getMetrics()
        .at(-1)!
        .scopeMetrics.flatMap((s) => s.metrics);
      const served = parsePrometheusText(
        await (await fetch(`http://127.0.0.1:${port}/metrics`)).text(),
      );

      const requests = metric(exported, METRIC.requests).dataPoints as DataPoint<number>[];
      const byDepartment = Object.fromEntries(
        requests.map((p) => [p.attributes.department, p.value]),
      );
      expect(byDepartment).toEqual({ search: 2, ads: 1 });
      expect(sum(served, 'tokenfuse_requests_total', { department: 'search' })).toBe(2);

      const tokens = metric(exported, METRIC.tokens).dataPoints as DataPoint<number>[];
      const inputSearch = tokens.find(
        (p) => p.attributes.department === 'search' && p.attributes.type === 'input',
      );
      expect(inputSearch?.value).toBe(
        sum(served, 'tokenfuse_tokens_total', { department: 'search', type: 'input' }),
      );
      expect(inputSearch?.value).toBeGreaterThan(0);

      const duration = metric(exported, METRIC.operationDuration);
      expect(duration.descriptor.unit).toBe('s');
      const search = (duration.dataPoints as DataPoint<Histogram>[]).find(
        (p) => p.attributes.department === 'search',
      )!;
      expect(search.value.count).toBe(2);
      expect(search.value.buckets.boundaries).toEqual([
        0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
      ]);
      expect(search.value.buckets.counts.reduce((a, b) => a + b, 0)).toBe(2);
      expect(
        select(served, 'gen_ai_client_operation_duration_count', { department: 'search' })[0]
          ?.value,
      ).toBe(2);

      const usage = metric(exported, METRIC.tokenUsage).dataPoints as DataPoint<Histogram>[];
      const input = usage.find(
        (p) => p.attributes.department === 'ads' && p.attributes['gen_ai.token.type'] === 'input',
      )!;
      expect(input.value.count).toBe(1);
      expect(input.value.sum).toBe(
        sum(served, 'gen_ai_client_token_usage_sum', {
          department: 'ads',
          gen_ai_token_type: 'input',
        }),
      );
      // The scope is the instrumentation's, as the SDK's meter reported it.
      const scope = exporter
        .getMetrics()
        .at(-1)!
        .scopeMetrics.find((s) => s.metrics.some((m) => m.descriptor.name === METRIC.requests))!;
      expect(scope.scope.name).toBe('tokenfuse');
    } finally {
      await runtime.shutdown();
    }
  }, 60_000);
});

describe('a reader of your own meter provider', () => {
  it('built without tokenfuse.metricProducer: said once in the diag log, with the fix', async () => {
    const messages = captureDiag();
    const tokenfuse = createTokenfuse({});
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
    const provider = new MeterProvider({ readers: [reader] });
    tokenfuse.instrumentation.setMeterProvider(provider);
    try {
      for (let i = 0; i < 2; i++) {
        await reader.forceFlush();
        await new Promise((resolve) => setImmediate(resolve));
      }
      const said = messages.filter((m) => m.includes("without tokenfuse's metric producer"));
      expect(said).toHaveLength(1);
      expect(said[0]).toContain('metricProducers: [tokenfuse.metricProducer]');
    } finally {
      tokenfuse.instrumentation.disable();
      await provider.shutdown();
    }
  });

  it('built with it: collects the per-call metrics, and nothing is said', async () => {
    const messages = captureDiag();
    const tokenfuse = createTokenfuse({});
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({
      exporter,
      exportIntervalMillis: 3_600_000,
      metricProducers: [tokenfuse.metricProducer],
    });
    const provider = new MeterProvider({ readers: [reader] });
    tokenfuse.instrumentation.setMeterProvider(provider);
    try {
      await reader.forceFlush();
      await new Promise((resolve) => setImmediate(resolve));
      expect(messages.filter((m) => m.includes("without tokenfuse's metric producer"))).toEqual([]);
    } finally {
      tokenfuse.instrumentation.disable();
      await provider.shutdown();
    }
  });
});
