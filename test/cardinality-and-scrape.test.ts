// Cardinality and scrape (docs/cardinality-and-scrape.md): tokenfuse sizes the SDK's
// per-instrument cardinality limit from its own caps, so 10,000 label sets are served with
// exact sums; a limit set lower is counted (tokenfuse_series_overflow_total{instrument}) and
// said once per instrument; and the fast serializer writes exactly what the OpenTelemetry
// exporter's does. The apps run under `node --import tokenfuse/register` (needs `npm run build`).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { afterAll, describe, expect, it } from 'vitest';
import { type FakeOpenAI, startFakeOpenAI } from '../examples/shared/fake-openai-server.mjs';
import { withAttribution } from '../src/index.js';
import { cardinalityLimits, PER_CALL_INSTRUMENTS } from '../src/metrics/cardinality.js';
import { METRIC } from '../src/metrics/contract.js';
import { prometheusText } from '../src/metrics/prometheus-text.js';
import { start } from '../src/tokenfuse.js';
import { App, childEnv, freePort } from './helpers/processes.js';
import {
  parsePrometheusText,
  type Sample,
  scrapeText,
  select,
  sum,
  withoutCatalogAge,
} from './helpers/prom-text.js';

const require = createRequire(import.meta.url);
const dir = mkdtempSync(join(tmpdir(), 'tokenfuse-cardinality-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the grid app with `config` (YAML) for `calls` calls; returns it once ready, and its /metrics URL. */
async function gridApp(
  server: FakeOpenAI,
  config: string,
  calls: number,
  side: number,
): Promise<{ app: App; url: string }> {
  const file = join(dir, `config-${calls}-${side}.yaml`);
  writeFileSync(file, config);
  const port = await freePort();
  const app = new App(
    ['--import', 'tokenfuse/register', 'test/fixtures/apps/cardinality-app.mjs'],
    childEnv({
      LLM_BASE_URL: `${server.url}/v1`,
      TOKENFUSE_CONFIG: file,
      OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
      OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
      CALLS: String(calls),
      SIDE: String(side),
    }),
  );
  // A busy machine: starting the app and making 10,000 calls takes minutes, not seconds.
  expect(await app.firstLine(calls * 50 + 60_000)).toBe('{"ready":true}');
  return { app, url: `http://127.0.0.1:${port}/metrics` };
}

async function scrape(url: string): Promise<Sample[]> {
  return parsePrometheusText(await scrapeText(url));
}

describe('the SDK cardinality limit', () => {
  it('is sized from metrics.maxSeries for each per-call instrument', () => {
    const limits = cardinalityLimits({ maxSeries: 2000 });
    // 2001 label sets (the kept ones and tokenfuse's own overflow set) times the
    // attribute sets each exports, plus the SDK's overflow slot.
    expect(limits[METRIC.requests]).toBe(2001 * 4 + 1);
    expect(limits[METRIC.tokens]).toBe(2001 * 6 + 1);
    expect(limits[METRIC.cost]).toBe(2002);
    expect(limits[METRIC.tokenUsage]).toBe(2001 * 2 + 1);
    expect(limits[METRIC.operationDuration]).toBe(2001 * 102 + 1);
    expect(cardinalityLimits({ maxSeries: 2000, cardinalityLimit: 50 })[METRIC.tokens]).toBe(50);
  });

  it('serves 10,000 calls over 10,000 label pairs with exact sums on /metrics', async () => {
    const server = await startFakeOpenAI();
    // 100 departments × 100 projects: each label keeps its 100 values, and 10,000 label sets.
    const { app, url } = await gridApp(server, 'metrics:\n  maxSeries: 10000\n', 10_000, 100);
    try {
      const m = await scrape(url);
      const requests = select(m, 'tokenfuse_requests_total');
      expect(requests).toHaveLength(10_000);
      expect(requests.every((s) => s.value === 1 && s.labels.outcome === 'ok')).toBe(true);
      expect(new Set(requests.map((s) => `${s.labels.department}/${s.labels.project}`)).size).toBe(
        10_000,
      );
      expect(sum(m, 'tokenfuse_requests_total', { department: 'dept-7', project: 'proj-42' })).toBe(
        1,
      );
      // Fake server: "a b" is 2 words + 3 per message = 5 input tokens; max_tokens 1 → 1 output.
      expect(sum(m, 'tokenfuse_tokens_total', { type: 'input' })).toBe(50_000);
      expect(sum(m, 'tokenfuse_tokens_total', { type: 'output' })).toBe(10_000);
      expect(sum(m, 'gen_ai_client_operation_duration_count')).toBe(10_000);
      expect(select(m, 'gen_ai_client_operation_duration_count')).toHaveLength(10_000);
      expect(sum(m, 'gen_ai_client_token_usage_sum', { gen_ai_token_type: 'input' })).toBe(50_000);
      expect(m.filter((s) => s.labels.otel_metric_overflow !== undefined)).toEqual([]);
      // Exported from the start, at 0, for each per-call instrument.
      const overflow = select(m, 'tokenfuse_series_overflow_total');
      expect(overflow.map((s) => [s.labels.instrument, s.value]).sort()).toEqual(
        PER_CALL_INSTRUMENTS.map((name) => [name, 0]).sort(),
      );
      expect(select(m, 'tokenfuse_series_dropped_total')).toEqual([]);
    } finally {
      await app.kill();
      await server.close();
    }
  }, 700_000);

  it('counts each instrument folded past a lower limit, and says so once per instrument', async () => {
    const server = await startFakeOpenAI();
    const { app, url } = await gridApp(server, 'metrics:\n  cardinalityLimit: 100\n', 300, 20);
    try {
      const first = await scrape(url);
      // The SDK kept 99 attribute sets and folded the rest into its overflow series.
      expect(select(first, 'tokenfuse_requests_total')).toHaveLength(100);
      expect(
        select(first, 'tokenfuse_requests_total', { otel_metric_overflow: 'true' }),
      ).toHaveLength(1);
      // Counted from the collection that found it: the next scrape shows it.
      const second = await scrape(url);
      const overflow = Object.fromEntries(
        select(second, 'tokenfuse_series_overflow_total').map((s) => [
          s.labels.instrument,
          s.value,
        ]),
      );
      expect(overflow).toEqual({
        [METRIC.tokenUsage]: 1,
        [METRIC.operationDuration]: 1,
        [METRIC.tokens]: 1,
        [METRIC.cost]: 1,
        [METRIC.requests]: 1,
        // No stream, and every call priced: these never had a series to fold.
        [METRIC.timeToFirstChunk]: 0,
        [METRIC.unpriced]: 0,
      });
      const warned = app.stderr.split('\n').filter((l) => l.includes('cardinality limit folded'));
      expect(warned.map((l) => /series of (\S+) into/.exec(l)?.[1]).sort()).toEqual(
        Object.keys(overflow)
          .filter((name) => overflow[name]! > 0)
          .sort(),
      );
    } finally {
      await app.kill();
      await server.close();
    }
  }, 200_000);
});

describe('the /metrics text', () => {
  it('is what the OpenTelemetry exporter writes for the same collection, scrape after scrape', async () => {
    const server = await startFakeOpenAI();
    const port = await freePort();
    const runtime = start({
      config: {
        serviceName: 'serializer-check',
        metrics: { port, host: '127.0.0.1' },
        budgets: [{ name: 'all', window: 'hour', limit: { tokens: 1_000_000 } }],
      },
    })!;
    try {
      const { OpenAI } = require('openai');
      const openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'sk', maxRetries: 0 });
      // Values that need escaping, a failed call (error.type), a stream (time to first chunk).
      for (const department of ['plain', 'quote"d', 'back\\slash', 'new\nline', 'ünï']) {
        await withAttribution({ department }, () =>
          openai.chat.completions.create({
            model: 'gpt-4.1',
            messages: [{ role: 'user', content: 'a b' }],
            max_tokens: 2,
          }),
        );
      }
      server.enqueue({ kind: 'error', status: 500 });
      await openai.chat.completions
        .create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'x' }] })
        .catch(() => undefined);
      const stream = await openai.chat.completions.create({
        model: 'gpt-4.1',
        messages: [{ role: 'user', content: 'x' }],
        max_tokens: 3,
        stream: true,
      });
      for await (const _ of stream);
      const reference = new PrometheusSerializer(undefined, false);
      for (let round = 0; round < 2; round++) {
        const { resourceMetrics } = await runtime.prometheus!.collect();
        const ours = prometheusText(resourceMetrics);
        expect(ours).toBe(reference.serialize(resourceMetrics));
        expect(ours).toContain('gen_ai_client_operation_duration_bucket{');
      }
      const served = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(sum(parsePrometheusText(served), 'tokenfuse_requests_total')).toBe(7);
      // The endpoint reads tokenfuse's own points while it writes them (no copies): the
      // same text as the exporter's serializer on an ordinary collection of the same state.
      const { resourceMetrics } = await runtime.prometheus!.collect();
      expect(withoutCatalogAge(served)).toBe(
        withoutCatalogAge(reference.serialize(resourceMetrics)),
      );
    } finally {
      await runtime.shutdown();
      await server.close();
    }
  }, 60_000);
});
