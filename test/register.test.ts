// Zero-code startup, run the way a user runs it: an app with no tokenfuse code, started as
// `node --import tokenfuse/register app.mjs` (ESM) or `node --require tokenfuse/register app.cjs`
// (CJS), calling the local fake OpenAI server over HTTP and scraped on its Prometheus endpoint.
// Needs `npm run build` first: `tokenfuse/register` resolves to dist/ through the package's
// self-reference (the children run with the repo root as their working directory).
//
// Expected numbers follow the fake server's rules (prompt = words + 3 per message; a reply has
// max_tokens words) and gpt-4.1's OpenAI price ($2 per million input tokens, $8 per million
// output tokens):
//   "one two three four five", max_tokens 4  -> 8 input, 4 output  (department platform)
//   "six seven", max_tokens 2, X-Department  -> 5 input, 2 output  (department research)
//   "stream please", max_tokens 3, streamed  -> 5 input, 3 output  (department platform)
// platform: 13 input, 7 output, (13*2 + 7*8)/1e6 = $0.000082
// research:  5 input, 2 output,  (5*2 + 2*8)/1e6 = $0.000026
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type FakeOpenAI, startFakeOpenAI } from '../examples/shared/fake-openai-server.mjs';
import { PACKAGE_VERSION } from '../src/version.js';
import {
  CHAT_APP_READY_LINE,
  chatAppExpected,
  genAiLabels,
  sample,
} from './helpers/chat-app-scenario.js';
import { App, childEnv, freePort, tryConnect } from './helpers/processes.js';
import { parsePrometheusText, type Sample, scrapeText, select } from './helpers/prom-text.js';

const ESM_APP = 'test/fixtures/apps/chat-app.mjs';
const CJS_APP = 'test/fixtures/apps/chat-app.cjs';

const RELAY_CONFIG =
  'providers:\n  - id: local-relay\n    hosts: ["127.0.0.1"]\n    pricesFrom: openai\n';

async function scrape(port: number): Promise<Sample[]> {
  return parsePrometheusText(await scrapeText(`http://127.0.0.1:${port}/metrics`));
}

/** Samples ordered by their labels, so exporter order does not matter. */
function byLabels(samples: Sample[]): Sample[] {
  return [...samples].sort((a, b) =>
    JSON.stringify(Object.entries(a.labels).sort()).localeCompare(
      JSON.stringify(Object.entries(b.labels).sort()),
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// Expected samples, as the OpenTelemetry Prometheus exporter writes them
// ---------------------------------------------------------------------------------------------

const SCOPE = { otel_scope_name: 'tokenfuse', otel_scope_version: PACKAGE_VERSION };
const expected = chatAppExpected(SCOPE);
const genAi = (department: string, extra: Record<string, string> = {}) =>
  genAiLabels(department, { ...extra, ...SCOPE });

// ---------------------------------------------------------------------------------------------

let tmp: string;
let configPath: string;
const apps: App[] = [];
const servers: FakeOpenAI[] = [];

function startApp(args: string[], env: Record<string, string>): App {
  const app = new App(args, childEnv(env));
  apps.push(app);
  return app;
}

async function fakeServer(): Promise<FakeOpenAI> {
  const server = await startFakeOpenAI();
  servers.push(server);
  return server;
}

async function stopAll(): Promise<void> {
  await Promise.all(apps.splice(0).map((app) => app.kill()));
  await Promise.all(servers.splice(0).map((server) => server.close()));
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'tokenfuse-register-'));
  configPath = join(tmp, 'tokenfuse.config.yaml');
  writeFileSync(configPath, RELAY_CONFIG);
});

afterAll(async () => {
  await stopAll();
  rmSync(tmp, { recursive: true, force: true });
});

describe.each([
  {
    variant: 'ESM, node --import tokenfuse/register',
    args: ['--import', 'tokenfuse/register'],
    app: ESM_APP,
  },
  {
    variant: 'CJS, node --require tokenfuse/register',
    args: ['--require', 'tokenfuse/register'],
    app: CJS_APP,
  },
])('$variant', ({ args, app: appFile }) => {
  let server: FakeOpenAI;
  let app: App;
  let port: number;
  let readyLine: string;
  let samples: Sample[];

  beforeAll(async () => {
    server = await fakeServer();
    port = await freePort();
    app = startApp([...args, appFile], {
      LLM_BASE_URL: `${server.url}/v1`,
      OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
      TOKENFUSE_DEPARTMENT: 'platform',
      TOKENFUSE_CONFIG: configPath,
    });
    readyLine = await app.firstLine();
    samples = await scrape(port);
  });

  afterAll(async () => {
    await stopAll();
  });

  it('runs the app unchanged, the usage chunk tokenfuse asked for hidden from it', () => {
    expect(readyLine).toBe(CHAT_APP_READY_LINE);
  });

  it('counts requests by department, provider, model and outcome', () => {
    expect(byLabels(select(samples, 'tokenfuse_requests_total'))).toEqual(
      byLabels(expected.requests),
    );
  });

  it('counts tokens by type', () => {
    expect(byLabels(select(samples, 'tokenfuse_tokens_total'))).toEqual(byLabels(expected.tokens));
  });

  it('prices the declared provider like OpenAI', () => {
    expect(byLabels(select(samples, 'tokenfuse_cost_usd_total'))).toEqual(byLabels(expected.cost));
  });

  it('records the GenAI semantic-convention token usage histogram', () => {
    const usage = (dept: string, type: string) => genAi(dept, { gen_ai_token_type: type });
    expect(byLabels(select(samples, 'gen_ai_client_token_usage_sum'))).toEqual(
      byLabels(expected.tokenUsageSum),
    );
    expect(byLabels(select(samples, 'gen_ai_client_token_usage_count'))).toEqual(
      byLabels(expected.tokenUsageCount),
    );
    // platform input was 8 and 5 tokens, output 4 and 3: all above le=4 / within le=4.
    const bucket = (labels: Record<string, string>, le: string) =>
      select(samples, 'gen_ai_client_token_usage_bucket', { ...labels, le }).map((s) => s.value);
    expect(bucket(usage('platform', 'input'), '4')).toEqual([0]);
    expect(bucket(usage('platform', 'input'), '16')).toEqual([2]);
    expect(bucket(usage('platform', 'output'), '1')).toEqual([0]);
    expect(bucket(usage('platform', 'output'), '4')).toEqual([2]);
  });

  it('records operation durations, and time to first chunk for the stream', () => {
    expect(byLabels(select(samples, 'gen_ai_client_operation_duration_count'))).toEqual(
      byLabels([
        sample('gen_ai_client_operation_duration_count', genAi('platform'), 2),
        sample('gen_ai_client_operation_duration_count', genAi('research'), 1),
      ]),
    );
    expect(select(samples, 'gen_ai_client_operation_time_to_first_chunk_count')).toEqual([
      sample('gen_ai_client_operation_time_to_first_chunk_count', genAi('platform'), 1),
    ]);
  });

  it('asks the server for stream usage and strips the attribution header', () => {
    expect(server.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /v1/chat/completions',
      'POST /v1/chat/completions',
      'POST /v1/chat/completions',
    ]);
    const [first, second, streamed] = server.requests;
    expect(first!.body.stream_options).toBeUndefined();
    expect(second!.body.stream_options).toBeUndefined();
    expect(streamed!.body.stream).toBe(true);
    expect(streamed!.body.stream_options).toEqual({ include_usage: true });
    for (const request of server.requests)
      expect(request.headers).not.toHaveProperty('x-department');
  });

  it('writes only its startup line to stderr while running and being scraped', async () => {
    await scrape(port);
    expect(app.stderr).toBe(
      `tokenfuse ${PACKAGE_VERSION} started: config ${configPath}; 0 budgets, 0 policies; ` +
        `ledger memory; metrics http://127.0.0.1:${port}/metrics\n`,
    );
  });
});

describe('startup errors and the kill switch', () => {
  afterEach(async () => {
    await stopAll();
  });

  it.each([
    { flag: '--import', appFile: ESM_APP },
    { flag: '--require', appFile: CJS_APP },
  ])(
    'a config file with an unknown field stops `node $flag tokenfuse/register` before the app runs',
    async ({ flag, appFile }) => {
      const server = await fakeServer();
      const badConfig = join(tmp, `typo${flag}.yaml`);
      writeFileSync(badConfig, 'metrics:\n  prot: 9464\n');
      const port = await freePort();
      const app = startApp([flag, 'tokenfuse/register', appFile], {
        LLM_BASE_URL: `${server.url}/v1`,
        OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
        TOKENFUSE_CONFIG: badConfig,
      });
      const exit = await app.exited;

      expect(exit).toEqual({ code: 78, signal: null });
      expect(app.stderr).toBe(
        `ConfigError: invalid tokenfuse configuration in ${badConfig}:\n` +
          "  - metrics (line 2): unknown field 'prot'; did you mean 'port'?\n" +
          'tokenfuse: the app was not started (exit code 78); fix the configuration, ' +
          'or set TOKENFUSE_DISABLED=true to run the app without tokenfuse\n',
      );
      expect(app.stdout).toBe('');
      expect(server.requests).toEqual([]);
    },
  );

  it('TOKENFUSE_DISABLED=true runs the app untouched and serves no metrics', async () => {
    const server = await fakeServer();
    const port = await freePort();
    const app = startApp(['--import', 'tokenfuse/register', ESM_APP], {
      LLM_BASE_URL: `${server.url}/v1`,
      OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
      TOKENFUSE_DEPARTMENT: 'platform',
      TOKENFUSE_CONFIG: configPath,
      TOKENFUSE_DISABLED: 'true',
    });

    expect(await app.firstLine()).toBe(CHAT_APP_READY_LINE);
    expect(await tryConnect(port)).toBe('ECONNREFUSED');
    // Untouched: the header reaches the server and the stream request is sent as written.
    expect(server.requests).toHaveLength(3);
    expect(server.requests[1]!.headers['x-department']).toBe('research');
    expect(server.requests[2]!.body.stream).toBe(true);
    expect(server.requests[2]!.body).not.toHaveProperty('stream_options');
    expect(app.stderr).toBe(
      'tokenfuse: disabled by TOKENFUSE_DISABLED; your app runs uninstrumented\n',
    );
  });
});
