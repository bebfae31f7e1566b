// The standard OpenTelemetry exporter variables under `tokenfuse/register`, run the way a
// user runs them: an app started with `node --import tokenfuse/register` calls the fake OpenAI
// server with the real `openai` SDK, and exports to a local OTLP receiver that decodes the real
// protobuf (or JSON) payloads with the opentelemetry-proto files, over HTTP and gRPC.
// Needs `npm run build` first (the children resolve `tokenfuse/register` to dist/).
//
// The app (test/fixtures/apps/otlp-app.mjs) makes chat-app.mjs's three gpt-4.1 calls at the
// declared relay `local-relay` (priced as OpenAI): "one two three four five" → 8 input,
// 4 output (platform); "six seven" → 5 / 2 (research, withAttribution); streamed "stream
// please" → 5 / 3 (platform). On SIGUSR2 it shuts tokenfuse down (every reader and span
// processor exports what it holds) and exits, so what arrived by then is all there is.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calcPrice } from '@pydantic/genai-prices';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type FakeOpenAI, startFakeOpenAI } from '../examples/shared/fake-openai-server.mjs';
import { type Attrs, attrs, type Metric, OtlpReceiver } from './helpers/otlp-receiver.js';
import { App, childEnv, freePort, tryConnect } from './helpers/processes.js';
import { parsePrometheusText, select } from './helpers/prom-text.js';

const APP = 'test/fixtures/apps/otlp-app.mjs';
const RELAY = 'providers:\n  - id: local-relay\n    hosts: ["127.0.0.1"]\n    pricesFrom: openai\n';
// The first platform call spends 12 tokens; the platform stream after it is blocked.
const BUDGET =
  'budgets:\n  - name: platform-hourly\n    match: { department: platform }\n    window: hour\n    limit: { tokens: 10 }\n';

/** The catalog's price of one gpt-4.1 call at OpenAI. */
function usd(input: number, output: number): number {
  const price = calcPrice({ input_tokens: input, output_tokens: output }, 'gpt-4.1', {
    providerId: 'openai',
  });
  if (price === null) throw new Error('the catalog has no price for gpt-4.1');
  return price.total_price;
}

const counter = (department: string, extra: Attrs = {}): Attrs => ({
  department,
  project: 'unknown',
  environment: 'unknown',
  provider: 'local-relay',
  model: 'gpt-4.1',
  ...extra,
});
const genAi = (department: string, type: string): Attrs => ({
  'gen_ai.operation.name': 'chat',
  'gen_ai.provider.name': 'local-relay',
  'gen_ai.request.model': 'gpt-4.1',
  department,
  project: 'unknown',
  environment: 'unknown',
  'gen_ai.token.type': type,
});

const byAttrs = <T extends { attributes: Attrs }>(points: T[]): T[] =>
  [...points].sort((a, b) =>
    JSON.stringify(a.attributes).localeCompare(JSON.stringify(b.attributes)),
  );

/** A sum's or gauge's points as { attributes, value }. */
function numbers(metric: Metric | undefined): { attributes: Attrs; value: number }[] {
  const points = metric?.sum?.dataPoints ?? metric?.gauge?.dataPoints ?? [];
  return byAttrs(
    points.map((p) => ({ attributes: attrs(p.attributes), value: p.asDouble ?? p.asInt ?? 0 })),
  );
}

/** A histogram's points as { attributes, count, sum }. */
function histogram(metric: Metric | undefined) {
  return byAttrs(
    (metric?.histogram?.dataPoints ?? []).map((p) => ({
      attributes: attrs(p.attributes),
      count: p.count,
      sum: p.sum,
    })),
  );
}

const EXPECTED_TOKENS = byAttrs([
  { attributes: counter('platform', { type: 'input' }), value: 13 },
  { attributes: counter('platform', { type: 'output' }), value: 7 },
  { attributes: counter('research', { type: 'input' }), value: 5 },
  { attributes: counter('research', { type: 'output' }), value: 2 },
]);
const EXPECTED_REQUESTS = byAttrs([
  { attributes: counter('platform', { outcome: 'ok' }), value: 2 },
  { attributes: counter('research', { outcome: 'ok' }), value: 1 },
]);
const expectedCost = () =>
  byAttrs([
    { attributes: counter('platform'), value: expect.closeTo(usd(8, 4) + usd(5, 3), 12) },
    { attributes: counter('research'), value: expect.closeTo(usd(5, 2), 12) },
  ]);
const EXPECTED_TOKEN_USAGE = byAttrs([
  { attributes: genAi('platform', 'input'), count: 2, sum: 13 },
  { attributes: genAi('platform', 'output'), count: 2, sum: 7 },
  { attributes: genAi('research', 'input'), count: 1, sum: 5 },
  { attributes: genAi('research', 'output'), count: 1, sum: 2 },
]);

let tmp: string;
let relayConfig: string;
let budgetConfig: string;
let server: FakeOpenAI;
let receiver: OtlpReceiver;
const apps: App[] = [];

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'tokenfuse-otlp-'));
  relayConfig = join(tmp, 'relay.yaml');
  budgetConfig = join(tmp, 'budget.yaml');
  writeFileSync(relayConfig, RELAY);
  writeFileSync(budgetConfig, RELAY + BUDGET);
  server = await startFakeOpenAI();
});

afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.kill()));
  await receiver?.close();
});

afterAll(async () => {
  await server.close();
  rmSync(tmp, { recursive: true, force: true });
});

interface Run {
  app: App;
  ready: { ready: boolean; errors: string[] };
  /** The Prometheus endpoint's port (set, served or not). */
  promPort: number;
  /** The startup line. */
  startup: string;
}

/** Starts the app against a fresh receiver and waits for its calls to be done. */
async function run(
  env: Record<string, string>,
  opts: { config?: string; grpc?: boolean } = {},
): Promise<Run> {
  receiver = await OtlpReceiver.start();
  const promPort = await freePort();
  const app = new App(
    ['--import', 'tokenfuse/register', APP],
    childEnv({
      LLM_BASE_URL: `${server.url}/v1`,
      TOKENFUSE_DEPARTMENT: 'platform',
      TOKENFUSE_CONFIG: opts.config ?? relayConfig,
      OTEL_SERVICE_NAME: 'otlp-app',
      OTEL_EXPORTER_PROMETHEUS_PORT: String(promPort),
      OTEL_EXPORTER_OTLP_ENDPOINT: opts.grpc ? receiver.grpcUrl : receiver.httpUrl,
      ...env,
    }),
  );
  apps.push(app);
  const ready = JSON.parse(await app.firstLine());
  const startup = app.stderr.split('\n').find((l) => l.startsWith('tokenfuse 0.')) ?? '';
  return { app, ready, promPort, startup };
}

/** Shuts tokenfuse down in the app (the last export) and waits for it to exit. */
async function flushAndExit(app: App): Promise<void> {
  app.child.kill('SIGUSR2');
  const { code } = await app.exited;
  expect(code, app.stderr).toBe(0);
}

const tokenfuseLines = (stderr: string, needle: string) =>
  stderr.split('\n').filter((l) => l.includes(needle));

describe('OTEL_METRICS_EXPORTER=otlp, OTEL_TRACES_EXPORTER=otlp over http/protobuf (the default protocol)', () => {
  let r: Run;
  beforeAll(async () => {
    r = await run({ OTEL_METRICS_EXPORTER: 'otlp', OTEL_TRACES_EXPORTER: 'otlp' });
    await flushAndExit(r.app);
  });

  it('sends the exact tokens, dollars and requests as OTLP sums, by attribute', () => {
    expect(receiver.errors).toEqual([]);
    expect(receiver.metrics.length).toBeGreaterThan(0);
    expect(receiver.metrics.every((m) => m.transport === 'http/protobuf')).toBe(true);
    const tokens = receiver.lastMetric('tokenfuse.tokens');
    expect(tokens?.unit).toBe('{token}');
    expect(tokens?.sum?.isMonotonic).toBe(true);
    expect(tokens?.sum?.aggregationTemporality).toBe('AGGREGATION_TEMPORALITY_CUMULATIVE');
    expect(numbers(tokens)).toEqual(EXPECTED_TOKENS);
    expect(receiver.lastMetric('tokenfuse.cost.usd')?.unit).toBe('USD');
    expect(numbers(receiver.lastMetric('tokenfuse.cost.usd'))).toEqual(expectedCost());
    expect(numbers(receiver.lastMetric('tokenfuse.requests'))).toEqual(EXPECTED_REQUESTS);
  });

  it('sends gen_ai.client.token.usage as an OTLP histogram with its GenAI attributes', () => {
    expect(histogram(receiver.lastMetric('gen_ai.client.token.usage'))).toEqual(
      EXPECTED_TOKEN_USAGE,
    );
  });

  it('names the service and the tokenfuse scope on the resource and scope', () => {
    const rm = receiver.metrics.at(-1)?.body.resourceMetrics?.[0];
    expect(attrs(rm?.resource?.attributes)['service.name']).toBe('otlp-app');
    expect(rm?.scopeMetrics?.map((s) => s.scope?.name)).toContain('tokenfuse');
  });

  it('sends one span per call with the exact GenAI and tokenfuse attributes', () => {
    const spans = receiver.spans();
    expect(spans.map((s) => s.span.name)).toEqual(['chat gpt-4.1', 'chat gpt-4.1', 'chat gpt-4.1']);
    expect(spans.every((s) => s.resource['service.name'] === 'otlp-app')).toBe(true);
    expect(spans.every((s) => s.span.kind === 'SPAN_KIND_CLIENT')).toBe(true);
    const port = Number(new URL(server.url).port);
    const span = (department: string, maxTokens: number, input: number, output: number) => ({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'local-relay',
      'gen_ai.request.model': 'gpt-4.1',
      'tokenfuse.api': 'chat.completions',
      'tokenfuse.provider': 'local-relay',
      'server.address': '127.0.0.1',
      'server.port': port,
      'gen_ai.request.max_tokens': maxTokens,
      'tokenfuse.department': department,
      'tokenfuse.api_key.fingerprint': expect.stringMatching(/^[0-9a-f]{8}$/),
      'tokenfuse.api_key.id': expect.stringMatching(/^[0-9a-f]{16}$/),
      'gen_ai.response.id': expect.stringMatching(/^chatcmpl-/),
      'gen_ai.response.finish_reasons': ['length'],
      'gen_ai.response.model': 'gpt-4.1',
      'openai.response.service_tier': 'default',
      'gen_ai.usage.input_tokens': input,
      'gen_ai.usage.output_tokens': output,
      'tokenfuse.usage.estimated': false,
      'tokenfuse.cost.usd': expect.closeTo(usd(input, output), 12),
      'tokenfuse.priced': true,
    });
    expect(spans.map((s) => attrs(s.span.attributes))).toEqual([
      span('platform', 4, 8, 4),
      span('research', 2, 5, 2),
      span('platform', 3, 5, 3),
    ]);
  });

  it('serves no /metrics endpoint, and the startup line names where metrics go', async () => {
    expect(await tryConnect(r.promPort)).toBe('ECONNREFUSED');
    expect(r.startup).toContain(
      `; metrics otlp http/protobuf ${receiver.httpUrl}/v1/metrics every 60000 ms`,
    );
  });
});

describe('OTEL_METRICS_EXPORTER=prometheus,otlp', () => {
  it('serves /metrics and sends OTLP, with equal values', async () => {
    const r = await run({ OTEL_METRICS_EXPORTER: 'prometheus,otlp' });
    const res = await fetch(`http://127.0.0.1:${r.promPort}/metrics`);
    const samples = parsePrometheusText(await res.text());
    await flushAndExit(r.app);

    const fromProm = (name: string, drop: string[] = []) =>
      byAttrs(
        select(samples, name).map((s) => {
          const labels: Attrs = { ...s.labels };
          for (const key of ['otel_scope_name', 'otel_scope_version', ...drop]) delete labels[key];
          return { attributes: labels, value: s.value };
        }),
      );
    expect(fromProm('tokenfuse_tokens_total')).toEqual(EXPECTED_TOKENS);
    expect(numbers(receiver.lastMetric('tokenfuse.tokens'))).toEqual(
      fromProm('tokenfuse_tokens_total'),
    );
    expect(numbers(receiver.lastMetric('tokenfuse.cost.usd'))).toEqual(
      fromProm('tokenfuse_cost_usd_total'),
    );
    expect(numbers(receiver.lastMetric('tokenfuse.requests'))).toEqual(
      fromProm('tokenfuse_requests_total'),
    );
    expect(r.startup).toContain(
      `; metrics http://127.0.0.1:${r.promPort}/metrics, otlp http/protobuf ${receiver.httpUrl}/v1/metrics every 60000 ms`,
    );
  });
});

describe('OTEL_EXPORTER_OTLP_PROTOCOL=http/json, with headers and an unknown exporter name', () => {
  let r: Run;
  beforeAll(async () => {
    r = await run({
      OTEL_METRICS_EXPORTER: 'otlp, zipkin',
      OTEL_TRACES_EXPORTER: 'otlp,jaeger',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_HEADERS: 'x-tenant=acme',
    });
    await flushAndExit(r.app);
  });

  it('sends the same exact values as JSON', () => {
    expect(receiver.errors).toEqual([]);
    expect(new Set(receiver.metrics.map((m) => m.transport))).toEqual(new Set(['http/json']));
    expect(numbers(receiver.lastMetric('tokenfuse.tokens'))).toEqual(EXPECTED_TOKENS);
    expect(numbers(receiver.lastMetric('tokenfuse.cost.usd'))).toEqual(expectedCost());
    expect(histogram(receiver.lastMetric('gen_ai.client.token.usage'))).toEqual(
      EXPECTED_TOKEN_USAGE,
    );
    expect(receiver.traces.map((t) => t.transport)).toContain('http/json');
    expect(
      receiver.spans().map((s) => attrs(s.span.attributes)['gen_ai.usage.input_tokens']),
    ).toEqual([8, 5, 5]);
  });

  it('sends OTEL_EXPORTER_OTLP_HEADERS with every request', () => {
    expect(receiver.headers.length).toBeGreaterThan(0);
    expect(receiver.headers.every((h) => h['x-tenant'] === 'acme')).toBe(true);
  });

  it('says once which names it ignores, in which variable, and keeps the others', () => {
    expect(tokenfuseLines(r.app.stderr, '"zipkin"')).toEqual([
      'tokenfuse: OTEL_METRICS_EXPORTER=otlp, zipkin: "zipkin" is not an exporter tokenfuse/register supports (prometheus, otlp, console, none); it is ignored, the others still apply',
    ]);
    expect(tokenfuseLines(r.app.stderr, '"jaeger"')).toEqual([
      'tokenfuse: OTEL_TRACES_EXPORTER=otlp,jaeger: "jaeger" is not an exporter tokenfuse/register supports (otlp, console, none); it is ignored, the others still apply',
    ]);
    expect(r.startup).toContain(`; metrics otlp http/json ${receiver.httpUrl}/v1/metrics`);
  });
});

describe('OTEL_EXPORTER_OTLP_PROTOCOL=grpc', () => {
  it('sends metrics and traces to the gRPC services, with the same exact values', async () => {
    const r = await run(
      {
        OTEL_METRICS_EXPORTER: 'otlp',
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      },
      { grpc: true },
    );
    await flushAndExit(r.app);
    expect(receiver.errors).toEqual([]);
    expect(new Set(receiver.metrics.map((m) => m.transport))).toEqual(new Set(['grpc']));
    expect(numbers(receiver.lastMetric('tokenfuse.tokens'))).toEqual(EXPECTED_TOKENS);
    expect(numbers(receiver.lastMetric('tokenfuse.cost.usd'))).toEqual(expectedCost());
    expect(numbers(receiver.lastMetric('tokenfuse.requests'))).toEqual(EXPECTED_REQUESTS);
    expect(new Set(receiver.traces.map((t) => t.transport))).toEqual(new Set(['grpc']));
    expect(receiver.spans().map((s) => attrs(s.span.attributes)['tokenfuse.department'])).toEqual([
      'platform',
      'research',
      'platform',
    ]);
    expect(r.startup).toContain(`; metrics otlp grpc ${receiver.grpcUrl} every 60000 ms`);
  });
});

describe('OTEL_METRIC_EXPORT_INTERVAL and OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=delta', () => {
  it('exports on the interval, before any shutdown, as deltas that add up to the totals', async () => {
    const r = await run({
      OTEL_METRICS_EXPORTER: 'otlp',
      OTEL_METRIC_EXPORT_INTERVAL: '300',
      OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'delta',
    });
    // The default interval is a minute: exports arriving while the app runs come from the
    // periodic reader on the interval set; wait for one made after the calls' last point.
    await receiver.waitFor('two exports carrying tokens', () =>
      receiver.metricsNamed('tokenfuse.tokens').length >= 1 && receiver.metrics.length >= 2
        ? true
        : undefined,
    );
    await flushAndExit(r.app);
    const exports = receiver.metricsNamed('tokenfuse.tokens');
    expect(
      exports.every((m) => m.sum?.aggregationTemporality === 'AGGREGATION_TEMPORALITY_DELTA'),
    ).toBe(true);
    const totals = new Map<string, number>();
    for (const m of exports)
      for (const p of numbers(m)) {
        const key = JSON.stringify(p.attributes);
        totals.set(key, (totals.get(key) ?? 0) + p.value);
      }
    expect(
      byAttrs([...totals].map(([key, value]) => ({ attributes: JSON.parse(key) as Attrs, value }))),
    ).toEqual(EXPECTED_TOKENS);
    expect(r.startup).toContain('every 300 ms');
  });
});

describe('OTEL_METRICS_EXPORTER=none, OTEL_TRACES_EXPORTER=none', () => {
  it('exports nothing and serves nothing, and the app runs unchanged', async () => {
    const r = await run({ OTEL_METRICS_EXPORTER: 'none', OTEL_TRACES_EXPORTER: 'none' });
    expect(r.ready).toEqual({ ready: true, errors: [] });
    expect(await tryConnect(r.promPort)).toBe('ECONNREFUSED');
    await flushAndExit(r.app);
    expect(receiver.metrics).toEqual([]);
    expect(receiver.traces).toEqual([]);
    expect(r.startup).toContain('; metrics not exported (OTEL_METRICS_EXPORTER=none)');
  });
});

describe('OTEL_SDK_DISABLED=true', () => {
  it('exports and serves nothing, while the budget still blocks', async () => {
    const r = await run(
      {
        OTEL_SDK_DISABLED: 'true',
        OTEL_METRICS_EXPORTER: 'prometheus,otlp',
        OTEL_TRACES_EXPORTER: 'otlp',
      },
      { config: budgetConfig },
    );
    // platform-hourly (10 tokens) admits the first platform call (12 tokens), not the stream;
    // the research call, tagged by withAttribution(), is not the budget's.
    expect(r.ready).toEqual({ ready: true, errors: ['BudgetExceededError'] });
    expect(await tryConnect(r.promPort)).toBe('ECONNREFUSED');
    await flushAndExit(r.app);
    expect(receiver.metrics).toEqual([]);
    expect(receiver.traces).toEqual([]);
    expect(r.startup).toContain(
      '1 budget, 0 policies; ledger memory; metrics and traces not exported (OTEL_SDK_DISABLED=true); budgets and fuses still enforce',
    );
  });

  it("adds nothing to an app's prom-client registry, and says so; the app's own metrics stay", async () => {
    const appPort = await freePort();
    const app = new App(
      ['--import', 'tokenfuse/register', 'test/fixtures/apps/prom-client-app.mjs'],
      childEnv({
        LLM_BASE_URL: `${server.url}/v1`,
        TOKENFUSE_CONFIG: relayConfig,
        APP_PORT: String(appPort),
        OTEL_SDK_DISABLED: 'TRUE',
      }),
    );
    apps.push(app);
    await app.firstLine();
    const res = await fetch(`http://127.0.0.1:${appPort}/metrics`);
    expect(res.status).toBe(200);
    const names = new Set(parsePrometheusText(await res.text()).map((s) => s.name));
    expect(names.has('app_http_requests_total')).toBe(true);
    expect([...names].filter((n) => n.startsWith('tokenfuse_') || n.startsWith('gen_ai_'))).toEqual(
      [],
    );
    expect(tokenfuseLines(app.stderr, 'prom-client registry')).toEqual([
      "tokenfuse: OTEL_SDK_DISABLED=true: tokenfuse's metrics are not added to the prom-client registry",
    ]);
  });
});
