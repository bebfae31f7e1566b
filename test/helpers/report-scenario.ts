// The chargeback scenario of test/report.test.ts: two replicas of a tokenfuse app (the
// second restarted mid-period) spend for three departments against the fake OpenAI
// server; a real Prometheus (1 s scrapes) scrapes them. The scenario keeps what every
// call used, so the tests can say what the report must show: known usage × calcPrice.
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calcPrice } from '@pydantic/genai-prices';
import { type Browser, chromium } from 'playwright-core';
import { stringify } from 'yaml';
import { type FakeOpenAI, startFakeOpenAI } from '../../examples/shared/fake-openai-server.mjs';
import { usd } from '../../src/cli/report/render-text.js';
import { App, childEnv, freePort, ROOT } from './processes.js';
import { type PrometheusServer, startPrometheus } from './prometheus.js';

export const CLI = join(ROOT, 'dist', 'cli.js');

/** Runs the built `tokenfuse` binary as a user would, with the test's own Node. */
export function tokenfuse(
  args: string[],
  opts: { cwd?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: childEnv(), cwd: opts.cwd ?? ROOT, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? ((err as { code?: number }).code ?? 1) : 0;
        resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
      },
    );
  });
}

export interface Call {
  department: string;
  model: string;
  maxTokens: number;
  cacheKey?: string;
}

type Usage = {
  prompt_tokens: number;
  completion_tokens: number;
  prompt_tokens_details?: { cached_tokens?: number };
};
type Result = { ok: Usage } | { blocked: string } | { error: number };

/** What one department spent, as the apps saw it. */
export interface Spent {
  usd: number;
  input: number;
  cached: number;
  output: number;
  ok: number;
  error: number;
  blocked: number;
}

/** The relay the apps call is priced as OpenAI. */
const PROVIDERS = [{ id: 'local-relay', hosts: ['127.0.0.1'], pricesFrom: 'openai' }];

export class ReportScenario {
  dir = '';
  llm!: FakeOpenAI;
  prometheus!: PrometheusServer;
  ports = { a: 0, b: 0 };
  apps: App[] = [];
  /** Per department, what the apps were answered. */
  spent = new Map<string, Spent>();
  /** Before the first call. */
  startedAt = 0;
  config = '';

  async start(): Promise<void> {
    this.dir = mkdtempSync(join(tmpdir(), 'tokenfuse-report-'));
    this.config = join(this.dir, 'tokenfuse.config.yaml');
    writeFileSync(
      this.config,
      stringify({
        providers: PROVIDERS,
        budgets: [
          // Watches research's month without blocking: the report shows its limit and use.
          {
            name: 'research-month',
            match: { department: 'research' },
            window: 'month',
            limit: { usd: 0.05 },
            action: 'monitor',
          },
          // Lets ops make two calls per process a month, then blocks.
          {
            name: 'ops-month',
            match: { department: 'ops' },
            window: 'month',
            limit: { requests: 2 },
          },
        ],
      }),
    );
    this.llm = await startFakeOpenAI();
    this.ports.a = await freePort();
    this.ports.b = await freePort();
    this.prometheus = await startPrometheus({
      targets: [this.ports.a, this.ports.b].map((p) => `127.0.0.1:${p}`),
      interval: '1s',
    });
    this.startedAt = Date.now();

    const a = await this.app(this.ports.a);
    let b = await this.app(this.ports.b);
    await Promise.all([
      this.calls(a, [
        { department: 'research', model: 'gpt-4.1', maxTokens: 50 },
        { department: 'research', model: 'gpt-4.1', maxTokens: 50, cacheKey: 'k' },
        { department: 'research', model: 'gpt-4.1-mini', maxTokens: 200 },
        { department: 'ops', model: 'gpt-4.1', maxTokens: 10 },
        { department: 'ops', model: 'gpt-4.1', maxTokens: 10 },
        { department: 'ops', model: 'gpt-4.1', maxTokens: 10 },
        { department: 'marketing', model: 'error-500', maxTokens: 10 },
      ]),
      this.calls(b, [
        { department: 'research', model: 'gpt-4.1', maxTokens: 100 },
        { department: 'research', model: 'gpt-4.1', maxTokens: 100 },
        { department: 'marketing', model: 'gpt-4.1-mini', maxTokens: 20 },
        { department: 'marketing', model: 'gpt-4.1-mini', maxTokens: 20, cacheKey: 'm' },
      ]),
    ]);
    await this.scraped(this.ports.a, 7);
    await this.scraped(this.ports.b, 4);
    // B dies and comes back on the same address: its counters start again at 0.
    await b.app.kill();
    b = await this.app(this.ports.b);
    await this.calls(b, [
      { department: 'research', model: 'gpt-4.1', maxTokens: 30 },
      { department: 'marketing', model: 'gpt-4.1-mini', maxTokens: 5 },
    ]);
    await this.scraped(this.ports.b, 2);
  }

  async stop(): Promise<void> {
    await Promise.all(this.apps.map((a) => a.kill()));
    await this.prometheus?.stop();
    await this.llm?.close();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }

  /** The departments' figures and their sum. */
  total(): Spent {
    const t: Spent = { usd: 0, input: 0, cached: 0, output: 0, ok: 0, error: 0, blocked: 0 };
    for (const s of this.spent.values())
      for (const k of Object.keys(t) as Array<keyof Spent>) t[k] += s[k];
    return t;
  }

  private async app(port: number): Promise<{ app: App; control: number }> {
    const app = new App(
      ['--import', 'tokenfuse/register', 'test/fixtures/apps/report-app.mjs'],
      childEnv({
        LLM_BASE_URL: `${this.llm.url}/v1`,
        TOKENFUSE_CONFIG: this.config,
        OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
        OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
      }),
    );
    this.apps.push(app);
    const ready = JSON.parse(await app.firstLine(30_000)) as { control: number };
    return { app, control: ready.control };
  }

  private async calls(app: { control: number }, calls: Call[]): Promise<void> {
    const res = await fetch(`http://127.0.0.1:${app.control}/calls`, {
      method: 'POST',
      body: JSON.stringify(calls),
    });
    const results = (await res.json()) as Result[];
    for (const [i, c] of calls.entries()) this.account(c, results[i]!);
  }

  /** Adds a call's answer to its department's figures, priced by the catalog itself. */
  private account(call: Call, result: Result): void {
    let s = this.spent.get(call.department);
    if (s === undefined) {
      s = { usd: 0, input: 0, cached: 0, output: 0, ok: 0, error: 0, blocked: 0 };
      this.spent.set(call.department, s);
    }
    if ('blocked' in result) s.blocked++;
    else if ('error' in result) s.error++;
    else {
      const u = result.ok;
      const cached = u.prompt_tokens_details?.cached_tokens ?? 0;
      const price = calcPrice(
        {
          input_tokens: u.prompt_tokens,
          cache_read_tokens: cached,
          output_tokens: u.completion_tokens,
        },
        call.model,
        { providerId: 'openai' },
      );
      if (price === null) throw new Error(`catalog has no openai/${call.model}`);
      s.usd += price.total_price;
      s.input += u.prompt_tokens - cached;
      s.cached += cached;
      s.output += u.completion_tokens;
      s.ok++;
    }
  }

  /** Waits until Prometheus has scraped `requests` requests from the process on `port`. */
  private async scraped(port: number, requests: number): Promise<void> {
    const expr = `sum(tokenfuse_requests_total{instance="127.0.0.1:${port}"})`;
    const deadline = Date.now() + 30_000;
    for (;;) {
      const r = await this.prometheus.query(expr);
      if (r.length > 0 && Number(r[0]!.value[1]) === requests) return;
      if (Date.now() > deadline)
        throw new Error(`Prometheus never saw ${requests} requests on ${port}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

/** A department's figures as the table, Markdown and HTML formats show them. */
export const humanCells = (s: Spent) => [
  usd(s.usd),
  String(s.input),
  String(s.cached),
  '0',
  String(s.output),
  String(s.ok),
  String(s.error),
  String(s.blocked),
];

/** Debian's Chromium, headless, with nothing of its own on the network. */
export function launchChromium(): Promise<Browser> {
  const found = spawnSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' });
  const executablePath = found.stdout.trim();
  if (found.status !== 0 || executablePath === '')
    throw new Error('chromium is not installed; install it with: apt-get install chromium');
  return chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
