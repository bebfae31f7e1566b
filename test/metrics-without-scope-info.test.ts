// `metrics.withoutScopeInfo: true` leaves the otel_scope_* labels off every line of /metrics,
// as the OpenTelemetry exporter's option of the same name does, and nothing else changes:
// the text is that exporter's with the option, byte for byte; by default the labels stay.

import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  DataPointType,
  type MetricData,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeOpenAI, startFakeOpenAI } from '../examples/shared/fake-openai-server.mjs';
import { withAttribution } from '../src/index.js';
import { closeMetricsServer, serveMetrics } from '../src/metrics/metrics-server.js';
import { prometheusText } from '../src/metrics/prometheus-text.js';
import type { TokenfuseRuntime } from '../src/runtime.js';
import { start } from '../src/tokenfuse.js';
import { PACKAGE_VERSION } from '../src/version.js';
import { freePort } from './helpers/processes.js';
import { scrapeText, withoutCatalogAge } from './helpers/prom-text.js';

const require = createRequire(import.meta.url);
const withScope = new PrometheusSerializer(undefined, false);
const withoutScope = new PrometheusSerializer(undefined, false, undefined, false, true);

describe('the text without scope labels', () => {
  const time: [number, number] = [1, 0];
  const point = <T>(attributes: Record<string, string>, value: T) => ({
    attributes,
    startTime: time,
    endTime: time,
    value,
  });
  const histogram = (count: number) => ({
    buckets: { boundaries: [0.5, 2], counts: [1, count - 1, 0] },
    count,
    sum: 1.5,
  });
  // Points with and without labels (a line with no label at all has no braces), counters,
  // gauges and histograms, in two scopes (one with a schema URL).
  const collection: ResourceMetrics = {
    resource: resourceFromAttributes({ 'service.name': 'scope-info' }),
    scopeMetrics: [
      {
        scope: { name: 'tokenfuse', version: '1.2.3' },
        metrics: [
          {
            descriptor: { name: 'calls', description: 'calls', unit: '', valueType: 1 },
            aggregationTemporality: AggregationTemporality.CUMULATIVE,
            dataPointType: DataPointType.SUM,
            isMonotonic: true,
            dataPoints: [point({}, 2), point({ team: 'a"b' }, 3)],
          } satisfies MetricData,
          {
            descriptor: { name: 'lat', description: 'latency', unit: 's', valueType: 1 },
            aggregationTemporality: AggregationTemporality.CUMULATIVE,
            dataPointType: DataPointType.HISTOGRAM,
            dataPoints: [point({}, histogram(3)), point({ team: 'ü' }, histogram(1))],
          } satisfies MetricData,
        ],
      },
      {
        scope: { name: 'other', schemaUrl: 'https://example.com/s' },
        metrics: [
          {
            descriptor: { name: 'queue', description: 'queue', unit: '', valueType: 1 },
            aggregationTemporality: AggregationTemporality.CUMULATIVE,
            dataPointType: DataPointType.GAUGE,
            dataPoints: [point({}, 7)],
          } satisfies MetricData,
        ],
      },
    ],
  };

  it('is the exporter text with withoutScopeInfo, and the default text without the option', () => {
    const text = prometheusText(collection, { withoutScopeInfo: true });
    expect(text).toBe(withoutScope.serialize(collection));
    expect(text).not.toContain('otel_scope');
    expect(
      text.split('\n').filter((l) => l && !l.startsWith('#') && !l.startsWith('target_info')),
    ).toEqual([
      'calls_total 2',
      'calls_total{team="a\\"b"} 3',
      'lat_count 3',
      'lat_sum 1.5',
      'lat_bucket{le="0.5"} 1',
      'lat_bucket{le="2"} 3',
      'lat_bucket{le="+Inf"} 3',
      'lat_count{team="ü"} 1',
      'lat_sum{team="ü"} 1.5',
      'lat_bucket{team="ü",le="0.5"} 1',
      'lat_bucket{team="ü",le="2"} 1',
      'lat_bucket{team="ü",le="+Inf"} 1',
      'queue 7',
    ]);
    expect(prometheusText(collection)).toBe(withScope.serialize(collection));
    expect(prometheusText(collection)).toContain(
      'calls_total{otel_scope_name="tokenfuse",otel_scope_version="1.2.3"} 2\n',
    );
  });
});

describe('/metrics with metrics.withoutScopeInfo', () => {
  let llm: FakeOpenAI;
  let runtime: TokenfuseRuntime;
  let withoutUrl: string;
  // The same exporter served a second time with the default text, for the same state.
  let defaultServer: Server;
  let defaultUrl: string;

  beforeAll(async () => {
    llm = await startFakeOpenAI();
    const port = await freePort();
    withoutUrl = `http://127.0.0.1:${port}/metrics`;
    runtime = start({
      config: {
        serviceName: 'without-scope-info',
        metrics: { port, host: '127.0.0.1', withoutScopeInfo: true },
      },
    })!;
    const defaultPort = await freePort();
    defaultUrl = `http://127.0.0.1:${defaultPort}/metrics`;
    defaultServer = serveMetrics(runtime.prometheus!, {
      host: '127.0.0.1',
      port: defaultPort,
      endpoint: '/metrics',
      producer: runtime.metricProducer,
    });
    const { OpenAI } = require('openai');
    const openai = new OpenAI({ baseURL: `${llm.url}/v1`, apiKey: 'sk', maxRetries: 0 });
    await withAttribution({ department: 'search', project: 'ranker' }, () =>
      openai.chat.completions.create({
        model: 'gpt-4.1',
        messages: [{ role: 'user', content: 'a b' }],
        max_tokens: 1,
      }),
    );
  }, 60_000);

  afterAll(async () => {
    if (defaultServer) await closeMetricsServer(defaultServer);
    await runtime?.shutdown();
    await llm?.close();
  });

  it('serves no scope label, and otherwise the same lines as the default text', async () => {
    const without = await scrapeText(withoutUrl);
    const { resourceMetrics } = await runtime.prometheus!.collect();
    expect(withoutCatalogAge(without)).toBe(
      withoutCatalogAge(withoutScope.serialize(resourceMetrics)),
    );
    expect(without).not.toContain('otel_scope_');
    const labels =
      'department="search",project="ranker",environment="unknown",provider="openai_compatible",model="gpt-4.1"';
    expect(without).toContain(`\ntokenfuse_requests_total{${labels},outcome="ok"} 1\n`);
    expect(without).toContain(
      '\ngen_ai_client_token_usage_bucket{gen_ai_operation_name="chat",gen_ai_provider_name="openai_compatible",gen_ai_request_model="gpt-4.1",department="search",project="ranker",environment="unknown",gen_ai_token_type="input",le="1"} 0\n',
    );

    const withLabels = await scrapeText(defaultUrl);
    const scope = `otel_scope_name="tokenfuse",otel_scope_version="${PACKAGE_VERSION}"`;
    expect(withLabels).toContain(`\ntokenfuse_requests_total{${labels},outcome="ok",${scope}} 1\n`);
    // The default text is the lines above with the scope labels in: nothing else differs.
    const dropScope = (text: string) =>
      withoutCatalogAge(text).replace(
        /,?otel_scope_name="[^"]*"(,otel_scope_version="[^"]*")?/g,
        '',
      );
    expect(dropScope(withLabels).replaceAll('{}', '')).toBe(withoutCatalogAge(without));
    expect(Buffer.byteLength(without)).toBeLessThan(Buffer.byteLength(withLabels));
  });
});
