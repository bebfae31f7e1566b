// tokenfuse's metrics on an app's existing prom-client /metrics endpoint: the app
// (test/fixtures/apps/prom-client-app.mjs) runs under `node --import tokenfuse/register` with
// TOKENFUSE_METRICS_EXPORTER=none and calls `registerTokenfuseMetrics(client.register)`.
// Its /metrics must show the same samples, under the same names and labels, as the
// OpenTelemetry Prometheus exporter shows for the same calls (checked against a reference run of
// test/fixtures/apps/chat-app.mjs with the exporter on), minus the exporter's otel_scope_* labels.
// Needs `npm run build` first.
//
// Calls (fake server rules: prompt = words + 3 per message, a reply has max_tokens words):
//   "one two three four five", max_tokens 4  -> 8 input, 4 output  (department platform)
//   "six seven", max_tokens 2, X-Department  -> 5 input, 2 output  (department research)
//   "stream please", max_tokens 3, streamed  -> 5 input, 3 output  (department platform)
// gpt-4.1 at $2 / $8 per million input / output tokens: platform $0.000082, research $0.000026.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeOpenAI, startFakeOpenAI } from '../examples/shared/fake-openai-server.mjs';
import { PACKAGE_VERSION } from '../src/version.js';
import {
  CHAT_APP_READY_LINE,
  chatAppExpected,
  genAiLabels,
  sample,
} from './helpers/chat-app-scenario.js';
import { App, childEnv, freePort, ROOT, tryConnect } from './helpers/processes.js';
import { parsePrometheusText, type Sample, select } from './helpers/prom-text.js';

const apps: App[] = [];
const servers: FakeOpenAI[] = [];

/** Starts `node <args>` from the repo root; resolves with the app and its first stdout line. */
async function startApp(
  args: string[],
  env: Record<string, string>,
): Promise<{ app: App; line: string }> {
  const started = new App(args, childEnv(env));
  apps.push(started);
  return { app: started, line: await started.firstLine() };
}

async function getMetrics(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

/** `# TYPE` lines as name → type. */
function typesOf(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) out[m[1]!] = m[2]!;
  return out;
}

/** Samples without the exporter's otel_scope_* labels, in a stable order. */
function normalised(samples: Sample[]): Sample[] {
  return samples
    .map((s) => {
      const labels = Object.fromEntries(
        Object.entries(s.labels).filter(([k]) => !k.startsWith('otel_scope_')),
      );
      return { name: s.name, labels, value: s.value };
    })
    .sort((a, b) => key(a).localeCompare(key(b)));
}

function key(s: Sample): string {
  return `${s.name}${JSON.stringify(Object.entries(s.labels).sort())}`;
}

const expected = chatAppExpected();
/** Labels of gen_ai_client_token_usage samples on the app's registry. */
const usage = (department: string, type: string, extra: Record<string, string> = {}) =>
  genAiLabels(department, { gen_ai_token_type: type, ...extra });

let tmp: string;
let appPort: number;
let exporterPort: number;
let app: App;
let ready: string;
let appText: string;
let appSamples: Sample[];
let referenceText: string;
let referenceSamples: Sample[];

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'tokenfuse-prom-client-'));
  const configPath = join(tmp, 'tokenfuse.config.yaml');
  writeFileSync(
    configPath,
    'providers:\n  - id: local-relay\n    hosts: ["127.0.0.1"]\n    pricesFrom: openai\n',
  );
  const appServer = await startFakeOpenAI();
  const referenceServer = await startFakeOpenAI();
  servers.push(appServer, referenceServer);
  appPort = await freePort();
  exporterPort = await freePort();
  const referencePort = await freePort();

  const [started, reference] = await Promise.all([
    startApp(['--import', 'tokenfuse/register', 'test/fixtures/apps/prom-client-app.mjs'], {
      LLM_BASE_URL: `${appServer.url}/v1`,
      APP_PORT: String(appPort),
      OTEL_EXPORTER_PROMETHEUS_PORT: String(exporterPort),
      TOKENFUSE_METRICS_EXPORTER: 'none',
      TOKENFUSE_DEPARTMENT: 'platform',
      TOKENFUSE_CONFIG: configPath,
    }),
    startApp(['--import', 'tokenfuse/register', 'test/fixtures/apps/chat-app.mjs'], {
      LLM_BASE_URL: `${referenceServer.url}/v1`,
      OTEL_EXPORTER_PROMETHEUS_PORT: String(referencePort),
      TOKENFUSE_DEPARTMENT: 'platform',
      TOKENFUSE_CONFIG: configPath,
    }),
  ]);
  app = started.app;
  ready = started.line;
  expect(reference.line).toBe(CHAT_APP_READY_LINE);
  appText = await getMetrics(appPort);
  appSamples = parsePrometheusText(appText);
  referenceText = await getMetrics(referencePort);
  referenceSamples = parsePrometheusText(referenceText);
});

afterAll(async () => {
  await Promise.all(apps.splice(0).map((running) => running.kill()));
  await Promise.all(servers.splice(0).map((server) => server.close()));
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe("an app's own prom-client /metrics", () => {
  it('runs the app, the usage chunk tokenfuse asked for hidden from it', () => {
    expect(ready).toBe(CHAT_APP_READY_LINE);
  });

  it("still has the app's own metric", () => {
    expect(select(appSamples, 'app_http_requests_total')).toEqual([
      sample('app_http_requests_total', { route: '/checkout' }, 3),
    ]);
    expect(typesOf(appText).app_http_requests_total).toBe('counter');
  });

  it('has tokenfuse_requests_total', () => {
    expect(normalised(select(appSamples, 'tokenfuse_requests_total'))).toEqual(
      normalised(expected.requests),
    );
  });

  it('has tokenfuse_tokens_total', () => {
    expect(normalised(select(appSamples, 'tokenfuse_tokens_total'))).toEqual(
      normalised(expected.tokens),
    );
  });

  it('has tokenfuse_cost_usd_total', () => {
    expect(normalised(select(appSamples, 'tokenfuse_cost_usd_total'))).toEqual(
      normalised(expected.cost),
    );
  });

  it('has the gen_ai_client_token_usage histogram', () => {
    const bucket = (dept: string, type: string, le: string) =>
      select(appSamples, 'gen_ai_client_token_usage_bucket', usage(dept, type, { le })).map(
        (s) => s.value,
      );
    // platform input 8 and 5 tokens: none <= 4, both <= 16; output 4 and 3: both <= 4.
    expect(bucket('platform', 'input', '4')).toEqual([0]);
    expect(bucket('platform', 'input', '16')).toEqual([2]);
    expect(bucket('platform', 'input', '+Inf')).toEqual([2]);
    expect(bucket('platform', 'output', '1')).toEqual([0]);
    expect(bucket('platform', 'output', '4')).toEqual([2]);
    // research input 5 tokens, output 2.
    expect(bucket('research', 'input', '4')).toEqual([0]);
    expect(bucket('research', 'input', '16')).toEqual([1]);
    expect(bucket('research', 'output', '1')).toEqual([0]);
    expect(bucket('research', 'output', '4')).toEqual([1]);
    expect(normalised(select(appSamples, 'gen_ai_client_token_usage_sum'))).toEqual(
      normalised(expected.tokenUsageSum),
    );
    expect(normalised(select(appSamples, 'gen_ai_client_token_usage_count'))).toEqual(
      normalised(expected.tokenUsageCount),
    );
  });

  it('has the same samples as the OpenTelemetry Prometheus exporter (bar otel_scope_*)', () => {
    // Everything but timings, whose values differ between runs; their counts do not.
    const deterministic = (samples: Sample[]) =>
      normalised(
        samples.filter(
          (s) =>
            // The catalog's age is a clock reading, different at each scrape.
            (/^(tokenfuse_|gen_ai_client_token_usage_)/.test(s.name) &&
              s.name !== 'tokenfuse_price_catalog_age_seconds') ||
            /^gen_ai_client_operation_(duration|time_to_first_chunk)_count$/.test(s.name),
        ),
      );
    const fromApp = deterministic(appSamples);
    expect(fromApp.length).toBeGreaterThan(0);
    expect(fromApp).toEqual(deterministic(referenceSamples));
    // Timing histograms: same series (names and labels, buckets included).
    const timingSeries = (samples: Sample[]) =>
      normalised(samples.filter((s) => /^gen_ai_client_operation_/.test(s.name))).map(key);
    expect(timingSeries(appSamples)).toEqual(timingSeries(referenceSamples));
  });

  it("declares each tokenfuse metric with the exporter's type", () => {
    const tokenfuseTypes = (text: string) =>
      Object.fromEntries(
        Object.entries(typesOf(text)).filter(([name]) => /^(tokenfuse_|gen_ai_)/.test(name)),
      );
    const expected = {
      gen_ai_client_token_usage: 'histogram',
      gen_ai_client_operation_duration: 'histogram',
      gen_ai_client_operation_time_to_first_chunk: 'histogram',
      tokenfuse_tokens_total: 'counter',
      tokenfuse_cost_usd_total: 'counter',
      tokenfuse_requests_total: 'counter',
      tokenfuse_price_catalog_age_seconds: 'gauge',
      tokenfuse_price_catalog_errors_total: 'counter',
      tokenfuse_estimate_bounded_total: 'counter',
      tokenfuse_internal_errors_total: 'counter',
      tokenfuse_instrumentation_info: 'gauge',
      tokenfuse_series_overflow_total: 'counter',
      tokenfuse_instrumentation_replaced: 'gauge',
    };
    expect(tokenfuseTypes(referenceText)).toEqual(expected);
    // The bridge may list a metric before its first sample; it must still have its real type.
    const listedBeforeFirstSample = [
      'tokenfuse_unpriced_total',
      'tokenfuse_usage_invalid_total',
      'tokenfuse_series_dropped_total',
    ].filter((name) => name in typesOf(appText));
    expect(tokenfuseTypes(appText)).toEqual({
      ...expected,
      ...Object.fromEntries(listedBeforeFirstSample.map((name) => [name, 'counter'])),
      // Only calls whose provider reported its own cost feed these.
      tokenfuse_cost_provider_usd_total: 'counter',
      tokenfuse_cost_provider_catalog_usd_total: 'counter',
      // Only calls or batch results priced on a fallback feed it.
      tokenfuse_pricing_issues_total: 'counter',
    });
  });

  it('serves nothing on the Prometheus exporter port', async () => {
    expect(await tryConnect(exporterPort)).toBe('ECONNREFUSED');
  });

  it('writes only its startup line to stderr while running and being scraped', async () => {
    await getMetrics(appPort);
    expect(app.stderr).toBe(
      `tokenfuse ${PACKAGE_VERSION} started: config ${join(tmp, 'tokenfuse.config.yaml')}; ` +
        '0 budgets, 0 policies; ledger memory; metrics not served (metrics.exporter none)\n',
    );
  });
});

describe('prom-client and the Prometheus endpoint together', () => {
  it('serves the same tokenfuse samples on both, the bridge reading through the exporter', async () => {
    const server = await startFakeOpenAI();
    servers.push(server);
    const bothAppPort = await freePort();
    const bothExporterPort = await freePort();
    const { line } = await startApp(
      ['--import', 'tokenfuse/register', 'test/fixtures/apps/prom-client-app.mjs'],
      {
        LLM_BASE_URL: `${server.url}/v1`,
        APP_PORT: String(bothAppPort),
        OTEL_EXPORTER_PROMETHEUS_PORT: String(bothExporterPort),
        TOKENFUSE_DEPARTMENT: 'platform',
        TOKENFUSE_CONFIG: join(tmp, 'tokenfuse.config.yaml'),
      },
    );
    expect(line).toBe(ready);
    const ours = (samples: Sample[]) =>
      normalised(samples).filter((x) =>
        /^tokenfuse_(requests|tokens|cost_usd)_total$/.test(x.name),
      );
    const viaBridge = ours(parsePrometheusText(await getMetrics(bothAppPort)));
    const viaExporter = ours(parsePrometheusText(await getMetrics(bothExporterPort)));
    expect(viaBridge.length).toBeGreaterThan(0);
    expect(viaBridge).toEqual(viaExporter);
  });
});

describe('registerTokenfuseMetrics without tokenfuse running', () => {
  it('throws a NotRunningError telling how to start tokenfuse', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "import client from 'prom-client';" +
          "import { registerTokenfuseMetrics } from 'tokenfuse';" +
          'try { registerTokenfuseMetrics(client.register); console.log("no error"); }' +
          'catch (err) { console.log(JSON.stringify({ isError: err instanceof Error, name: err.name, code: err.code, message: err.message })); }',
      ],
      { cwd: ROOT, env: childEnv({}), timeout: 30_000 },
    );
    expect(JSON.parse(stdout)).toEqual({
      isError: true,
      name: 'NotRunningError',
      code: 'not_running',
      message:
        'registerTokenfuseMetrics(): tokenfuse is not running: start the app with ' +
        '`node --import tokenfuse/register app.mjs` (ESM) or `node --require tokenfuse/register app.cjs` ' +
        '(CommonJS), or call start() first; with your own NodeSDK, add a PromClientBridge to it instead',
    });
  });
});
