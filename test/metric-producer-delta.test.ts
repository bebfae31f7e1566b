// A reader that asks for delta temporality (an OTLP exporter with
// OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=delta) gets deltas of tokenfuse's
// per-call metrics (src/metrics/delta-producer.ts), while /metrics stays cumulative.
// A file of its own: start() registers the OpenTelemetry API globals once per process.
import { createRequire } from 'node:module';
import {
  AggregationTemporality,
  type DataPoint,
  type Histogram,
  InMemoryMetricExporter,
  type MetricData,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { withAttribution } from '../src/index.js';
import { METRIC } from '../src/metrics/contract.js';
import { start } from '../src/tokenfuse.js';
import { useFakeOpenAI } from './helpers/fake-server-harness.js';
import { metric } from './helpers/metric-data.js';
import { freePort } from './helpers/processes.js';
import { parsePrometheusText, sum } from './helpers/prom-text.js';

const require = createRequire(import.meta.url);
const llm = useFakeOpenAI();

describe('a reader given to start() that asks for delta temporality', () => {
  it('gets, at each export, only what the calls since the last one added: counters and histograms', async () => {
    const port = await freePort();
    const exporter = new InMemoryMetricExporter(AggregationTemporality.DELTA);
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
    const runtime = start({
      config: { serviceName: 'delta-check', metrics: { port, host: '127.0.0.1' } },
      metricReaders: [reader],
    })!;
    const { OpenAI } = require('openai');
    const openai = new OpenAI({ baseURL: `${llm.url}/v1`, apiKey: 'sk', maxRetries: 0 });
    const call = (department: string) =>
      withAttribution({ department }, () =>
        openai.chat.completions.create({
          model: 'gpt-4.1',
          messages: [{ role: 'user', content: 'a b' }],
          max_tokens: 2,
        }),
      );
    const lastExport = async () => {
      await reader.forceFlush();
      return exporter
        .getMetrics()
        .at(-1)!
        .scopeMetrics.flatMap((s) => s.metrics);
    };
    const points = <T>(exported: MetricData[], name: string) =>
      (exported.find((m) => m.descriptor.name === name)?.dataPoints ?? []) as DataPoint<T>[];
    try {
      await call('search');
      await call('search');
      const first = await lastExport();
      await call('search');
      await call('ads');
      const second = await lastExport();
      const third = await lastExport();

      const requests = (exported: MetricData[]) =>
        Object.fromEntries(
          points<number>(exported, METRIC.requests).map((p) => [p.attributes.department, p.value]),
        );
      expect(metric(first, METRIC.requests).aggregationTemporality).toBe(
        AggregationTemporality.DELTA,
      );
      expect(requests(first)).toEqual({ search: 2 });
      expect(requests(second)).toEqual({ search: 1, ads: 1 });
      // Nothing happened since: no point (an unchanged series is left out, as the SDK does).
      expect(requests(third)).toEqual({});

      const durations = (exported: MetricData[]) =>
        Object.fromEntries(
          points<Histogram>(exported, METRIC.operationDuration).map((p) => [
            p.attributes.department,
            [p.value.count, p.value.buckets.counts.reduce((a, b) => a + b, 0)],
          ]),
        );
      expect(metric(second, METRIC.operationDuration).aggregationTemporality).toBe(
        AggregationTemporality.DELTA,
      );
      expect(durations(first)).toEqual({ search: [2, 2] });
      expect(durations(second)).toEqual({ search: [1, 1], ads: [1, 1] });
      // The second interval starts where the first ended.
      const searchSecond = points<Histogram>(second, METRIC.operationDuration).find(
        (p) => p.attributes.department === 'search',
      )!;
      const searchFirst = points<Histogram>(first, METRIC.operationDuration)[0]!;
      expect(searchSecond.startTime).toEqual(searchFirst.endTime);

      // /metrics stays cumulative whatever the other reader asks for.
      const served = parsePrometheusText(
        await (await fetch(`http://127.0.0.1:${port}/metrics`)).text(),
      );
      expect(sum(served, 'tokenfuse_requests_total', { department: 'search' })).toBe(3);
    } finally {
      await runtime.shutdown();
    }
  }, 60_000);
});
