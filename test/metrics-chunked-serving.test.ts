// /metrics is written in byte chunks of 256 KiB with the event loop handed back between them
// (src/metrics/byte-chunks.ts, metrics-server.ts). What a scraper gets must not show it: the
// text is the OpenTelemetry exporter's, byte for byte, however it is cut, whoever else
// scrapes at the same time, and after a scraper that hung up halfway.
import { request } from 'node:http';
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
import { CHUNK_BYTES } from '../src/metrics/byte-chunks.js';
import { collectLazily, MetricsEngine } from '../src/metrics/metrics-engine.js';
import { prometheusChunks, prometheusText } from '../src/metrics/prometheus-text.js';
import type { TokenfuseRuntime } from '../src/runtime.js';
import { start } from '../src/tokenfuse.js';
import { captureDiag } from './helpers/diag.js';
import { freePort } from './helpers/processes.js';
import {
  parsePrometheusText,
  scrapeText,
  select,
  sum,
  withoutCatalogAge,
} from './helpers/prom-text.js';

const require = createRequire(import.meta.url);
const reference = new PrometheusSerializer(undefined, false);

describe('the byte chunks of the /metrics text', () => {
  const time: [number, number] = [1, 0];
  const sumOf = (
    name: string,
    points: Array<[Record<string, string>, number]>,
    isMonotonic = true,
  ): MetricData => ({
    descriptor: { name, description: `${name} help`, unit: '', valueType: 1 },
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.SUM,
    isMonotonic,
    dataPoints: points.map(([attributes, value]) => ({
      attributes,
      startTime: time,
      endTime: time,
      value,
    })),
  });
  // A text of many chunks with what a fast writer gets wrong: values that are no whole
  // numbers, no labels, non-ASCII text across chunk boundaries, a line longer than a chunk.
  const many = Array.from({ length: 24_000 }, (_, i): [Record<string, string>, number] => [
    { department: `dépt-${i}-ü€😀`, quote: 'a"b\\c\nd' },
    i * 37,
  ]);
  const collection: ResourceMetrics = {
    resource: resourceFromAttributes({
      'service.name': 'chunks',
      long: `x€${'y'.repeat(300_000)}`,
    }),
    scopeMetrics: [
      {
        scope: { name: 'tokenfuse', version: '1.2.3' },
        metrics: [
          sumOf('tokenfuse.many', many),
          sumOf(
            'odd.values',
            [
              [{}, -2.5],
              [{ k: 'big' }, 1e21],
              [{ k: 'unsafe' }, 2 ** 53 + 2],
              [{ k: 'nan' }, Number.NaN],
              [{ k: 'inf' }, Number.POSITIVE_INFINITY],
              [{ k: 'tiny' }, 1e-7],
              [{ k: 'zero' }, -0],
            ],
            false,
          ),
          {
            descriptor: { name: 'lat', description: 'latency', unit: 's', valueType: 1 },
            aggregationTemporality: AggregationTemporality.CUMULATIVE,
            dataPointType: DataPointType.HISTOGRAM,
            dataPoints: [
              {
                attributes: {},
                startTime: time,
                endTime: time,
                value: {
                  buckets: { boundaries: [0.5, Number.POSITIVE_INFINITY], counts: [1, 2, 0] },
                  count: 3,
                  sum: 4.25,
                },
              },
              {
                attributes: { route: '/ä' },
                startTime: time,
                endTime: time,
                value: { buckets: { boundaries: [1, 2], counts: [0, 5, 1] }, count: 6 },
              },
            ],
          },
        ],
      },
      {
        scope: { name: 'other', schemaUrl: 'https://example.com/s' },
        metrics: [sumOf('other.count', [[{ a: 'b' }, 3]])],
      },
    ],
  };

  it('join to what the OpenTelemetry exporter writes, each chunk whole UTF-8 and at most CHUNK_BYTES but for a longer line', () => {
    const chunks = [...prometheusChunks(collection)];
    expect(Buffer.concat(chunks).toString('utf8')).toBe(reference.serialize(collection));
    expect(prometheusText(collection)).toBe(reference.serialize(collection));
    expect(chunks.length).toBeGreaterThan(10);
    const decoder = new TextDecoder('utf-8', { fatal: true });
    for (const chunk of chunks) expect(() => decoder.decode(chunk)).not.toThrow();
    // target_info carries the 300,000-character attribute: the one chunk over the size, the
    // target_info family alone.
    const over = chunks.filter((chunk) => chunk.length > CHUNK_BYTES);
    expect(over).toHaveLength(1);
    expect(over[0]!.toString('utf8')).toMatch(
      /^# HELP target_info Target metadata\n# TYPE target_info gauge\ntarget_info\{[^\n]*long="x€y{300000}"[^\n]* 1\n$/,
    );
  });
});

describe("the engine's points, read in place while their text is written", () => {
  // Label values a byte writer gets wrong (escapes, non-ASCII, a number and a boolean), on
  // label sets past each instrument's limit, so both overflow points are written too. The
  // lazy text (cursors over the live aggregation, label bytes kept on the points) must be
  // the exporter's text of the engine's ordinary collection, on the first scrape, which
  // makes the label bytes, and on the next, which reuses them.
  const values = ['plain', 'dépt-€😀', 'a"b\\c\nd', 'plain'];
  const engine = new MetricsEngine(
    { maxSeries: 1, cardinalityLimit: 4 },
    {
      name: 'tokenfuse',
      version: '9.9.9',
    },
  );
  for (const [i, department] of values.entries()) {
    const totals = engine.totalsOf({ department, project: `p${i}`, tier: i, paid: i % 2 === 0 });
    totals.tokens.input += 10 + i;
    totals.tokens.output += i;
    totals.requests.ok! += 1;
    totals.requests.error! += i % 2;
    totals.cost += 0.25 * i;
    totals.costSeen = true;
    const attributes = { 'gen_ai.operation.name': 'chat', department, tier: i };
    engine.histograms.operationDuration.bind(attributes).record(0.03 * (i + 1));
    engine.histograms.tokenUsage.bind({ ...attributes, n: i }).record(300 * i);
  }

  const lazyText = () =>
    prometheusText(collectLazily(engine.producer, () => engine.collectLazy()).resourceMetrics);

  it('is the exporter text of the ordinary collection, scrape after scrape, overflow points last', async () => {
    const expected = reference.serialize((await engine.collect()).resourceMetrics);
    expect(expected).toContain('tokenfuse_tokens_total{otel_metric_overflow="true"');
    expect(expected).toContain(
      'gen_ai_client_operation_duration_count{otel_metric_overflow="true"',
    );
    expect(expected).toContain('department="a\\"b\\\\c\\nd"');
    expect(lazyText()).toBe(expected);
    expect(lazyText()).toBe(expected);
    // Values recorded between two scrapes show in the next: the points are read live.
    engine.histograms.operationDuration
      .bind({ 'gen_ai.operation.name': 'chat', department: 'plain', tier: 0 })
      .record(50);
    const after = reference.serialize((await engine.collect()).resourceMetrics);
    expect(after).not.toBe(expected);
    expect(lazyText()).toBe(after);
  });
});

describe('/metrics served in chunks', () => {
  let llm: FakeOpenAI;
  let runtime: TokenfuseRuntime;
  let url: string;
  let diagMessages: string[];
  const SETS = 300;

  beforeAll(async () => {
    llm = await startFakeOpenAI();
    const port = await freePort();
    url = `http://127.0.0.1:${port}/metrics`;
    runtime = start({
      config: { serviceName: 'chunked-serving', metrics: { port, host: '127.0.0.1' } },
    })!;
    // After start(), which sets its own logger.
    diagMessages = captureDiag();
    const { OpenAI } = require('openai');
    const openai = new OpenAI({ baseURL: `${llm.url}/v1`, apiKey: 'sk', maxRetries: 0 });
    // 300 label sets, about 15 KB of text each: a scrape of some 17 chunks.
    for (let i = 0; i < SETS; i++) {
      await withAttribution(
        { department: `dept-${i % 20}`, project: `proj-${Math.floor(i / 20)}` },
        () =>
          openai.chat.completions.create({
            model: 'gpt-4.1',
            messages: [{ role: 'user', content: 'a b' }],
            max_tokens: 1,
          }),
      );
    }
  }, 120_000);

  afterAll(async () => {
    await runtime?.shutdown();
    await llm?.close();
  });

  async function expected(): Promise<string> {
    const { resourceMetrics } = await runtime.prometheus!.collect();
    return withoutCatalogAge(reference.serialize(resourceMetrics));
  }

  const scrape = () => scrapeText(url);

  it('parses completely and equals the exporter text of the same collection', async () => {
    const text = await scrape();
    expect(Buffer.byteLength(text)).toBeGreaterThan(10 * CHUNK_BYTES);
    expect(withoutCatalogAge(text)).toBe(await expected());
    const samples = parsePrometheusText(text);
    const requests = select(samples, 'tokenfuse_requests_total');
    expect(requests).toHaveLength(SETS);
    expect(requests.every((s) => s.value === 1 && s.labels.outcome === 'ok')).toBe(true);
    // Fake server: "a b" is 2 words + 3 per message = 5 input tokens; max_tokens 1 → 1 output.
    expect(sum(samples, 'tokenfuse_tokens_total', { type: 'input' })).toBe(5 * SETS);
    expect(sum(samples, 'gen_ai_client_operation_duration_count')).toBe(SETS);
    expect(text.endsWith('\n')).toBe(true);
  });

  it('gives concurrent scrapes the same complete text, a slow reader among them', async () => {
    // The slow one reads nothing until the others are done: its chunks wait in the
    // server's socket queue while theirs are written (a chunk reused too early shows here).
    let others: Promise<string[]> | undefined;
    const slow = new Promise<string>((resolve, reject) => {
      const req = request(url, { agent: false }, (res) => {
        res.pause();
        others = Promise.all([1, 2, 3, 4].map(() => scrape()));
        const parts: Buffer[] = [];
        void others.then(() => {
          res.on('data', (chunk: Buffer) => parts.push(chunk));
          res.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
          res.resume();
        }, reject);
      });
      req.on('error', reject);
      req.end();
    });
    const slowText = await slow;
    const want = await expected();
    for (const text of await others!) expect(withoutCatalogAge(text)).toBe(want);
    expect(withoutCatalogAge(slowText)).toBe(want);
  });

  it('serves the next scrapes in full after clients that hang up halfway', async () => {
    // One hangs up on its first chunk, one stops reading and hangs up later: the server
    // is then writing, or waiting for the socket to drain.
    await hangUp((res, req) => res.once('data', () => req.destroy()));
    await hangUp((res, req) => {
      res.pause();
      setTimeout(() => req.destroy(), 200);
    });
    const [text] = await Promise.all([
      scrape(),
      hangUp((res, req) => res.once('data', () => req.destroy())),
    ]);
    expect(withoutCatalogAge(text!)).toBe(await expected());
    expect(withoutCatalogAge(await scrape())).toBe(await expected());
    expect(diagMessages.filter((m) => m.includes('serving /metrics'))).toEqual([]);
  });

  function hangUp(
    onResponse: (
      res: import('node:http').IncomingMessage,
      req: import('node:http').ClientRequest,
    ) => void,
  ): Promise<void> {
    return new Promise((resolve) => {
      const req = request(url, { agent: false }, (res) => {
        expect(res.statusCode).toBe(200);
        onResponse(res, req);
      });
      req.on('error', () => undefined);
      req.on('close', () => resolve());
      req.end();
    });
  }
});
