// Restoring budget spend from Prometheus (`ledger.restore`), end to end: fixture apps run
// as a user runs them (`node --import tokenfuse/register`, a config file, the in-memory
// ledger) against the local fake OpenAI server, and a real Prometheus (1 s scrapes) scrapes
// them. Needs `npm run build` first, and Prometheus installed (the suite fails, it does not
// skip, without it).
//
// Token arithmetic (fake server rules): a one-word user message is 1 + 3 = 4 prompt tokens
// and the reply has exactly max_tokens words, so a call with content 'x' and max_tokens N
// uses 4 + N tokens; gpt-4.1 (priced as openai's) costs 4 × input + N × output price.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type FakeOpenAI, startFakeOpenAI } from '../examples/shared/fake-openai-server.mjs';
import { normalizeBudget } from '../src/budgets/budget.js';
import { calendarWindow } from '../src/budgets/window.js';
import { resolveConfig } from '../src/config/resolved-config.js';
import { FuseBoard } from '../src/fuses/fuse-board.js';
import { MemoryFuseStore } from '../src/fuses/stores/memory.js';
import {
  type BudgetRestore,
  ConfigError,
  createTokenfuse,
  type FuseSnapshot,
} from '../src/index.js';
import { PriceBook } from '../src/pricing/price-book.js';
import {
  type FleetSpend,
  PrometheusRestorer,
  RestoreError,
  type SpendSource,
} from '../src/restore/prometheus-restore.js';
import { enableRestore } from '../src/restore/scheduler.js';
import {
  budgetSelector,
  chunking,
  counterSpend,
  globToPromRegex,
  MAX_CHUNKS,
} from '../src/restore/spend-query.js';
import type { BudgetOptions, TokenfuseOptions } from '../src/types.js';
import { App, childEnv, freePort } from './helpers/processes.js';
import { parsePrometheusText, sum } from './helpers/prom-text.js';
import { type PrometheusServer, requireBinary, startPrometheus } from './helpers/prometheus.js';

const PROVIDERS = [{ id: 'local-relay', hosts: ['127.0.0.1'], pricesFrom: 'openai' }];
const prices = new PriceBook({ providers: PROVIDERS });
/** Tokens and dollars of one call with max_tokens `n`. */
const callTokens = (n: number) => 4 + n;
const callUsd = (n: number) =>
  prices.price('local-relay', 'gpt-4.1', {
    input: 4,
    cacheRead: 0,
    cacheWrite: 0,
    output: n,
    reasoning: 0,
  }).usd;
const totals = (ns: number[]) => ({
  tokens: ns.reduce((a, n) => a + callTokens(n), 0),
  usd: ns.reduce((a, n) => a + callUsd(n), 0),
  requests: ns.length,
});

type CallResult =
  | { ok: number }
  | { blocked: { name: string; budget: string; reason: string; unit: string; spent: number } }
  | { error: string };
interface Ready {
  ready: true;
  control: number;
  startup: CallResult[];
  startupMs: number;
  fuses: FuseSnapshot[];
}

let dir: string;
let llm: FakeOpenAI;
let prometheus: PrometheusServer;
/** Metrics ports Prometheus scrapes (the apps are started on them later). */
const ports = { a: 0, b: 0, r: 0, f: 0 };
const apps: App[] = [];

beforeAll(async () => {
  requireBinary('prometheus');
  dir = mkdtempSync(join(tmpdir(), 'tokenfuse-restore-'));
  llm = await startFakeOpenAI();
  ports.a = await freePort();
  ports.b = await freePort();
  ports.r = await freePort();
  ports.f = await freePort();
  prometheus = await startPrometheus({
    targets: [ports.a, ports.b, ports.r, ports.f].map((p) => `127.0.0.1:${p}`),
    interval: '1s',
  });
}, 60_000);

afterAll(async () => {
  await Promise.all(apps.map((a) => a.kill()));
  await prometheus?.stop();
  await llm?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

let configs = 0;
function writeConfig(options: TokenfuseOptions): string {
  const path = join(dir, `restore-${++configs}.yaml`);
  writeFileSync(path, stringify({ providers: PROVIDERS, ...options }));
  return path;
}

async function startApp(opts: {
  config: string;
  metricsPort?: number;
  startup?: string;
  env?: Record<string, string>;
}): Promise<{ app: App; ready: Ready }> {
  const app = new App(
    ['--import', 'tokenfuse/register', 'test/fixtures/apps/restore-app.mjs'],
    childEnv({
      LLM_BASE_URL: `${llm.url}/v1`,
      TOKENFUSE_CONFIG: opts.config,
      OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
      OTEL_EXPORTER_PROMETHEUS_PORT: String(opts.metricsPort ?? (await freePort())),
      STARTUP_CALLS: opts.startup ?? '',
      ...opts.env,
    }),
  );
  apps.push(app);
  const line = await app.firstLine(30_000);
  return { app, ready: JSON.parse(line) as Ready };
}

async function control<T>(ready: Ready, method: 'GET' | 'POST', path: string, body?: unknown) {
  const res = await fetch(`http://127.0.0.1:${ready.control}${path}`, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return (await res.json()) as T;
}

/** Polls `read` until `done` holds (or fails with the last value seen). */
async function waitFor<T>(
  what: string,
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!done(value)) {
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 250));
    value = await read();
  }
  return value;
}

/** The value of a PromQL expression that yields one sample, or undefined. */
async function promValue(expr: string): Promise<number | undefined> {
  const result = await prometheus.query(expr);
  return result.length === 0 ? undefined : Number(result[0]!.value[1]);
}

/**
 * The tests count spend in the current hour: too close to the end of one, wait for the
 * next (the month ends on an hour too).
 */
async function awayFromHourEnd(marginMs = 90_000): Promise<void> {
  const now = Date.now();
  const end = calendarWindow({ kind: 'hour', timeZone: 'UTC' }, now).end;
  if (end - now < marginMs) await new Promise((r) => setTimeout(r, end - now + 1000));
}

const byName = <T extends { budget: string }>(list: T[], name: string): T =>
  list.find((f) => f.budget === name)!;

describe('a restarted process restores the fleet’s spend', () => {
  it('reports the exact fleet total per unit and blocks its first call when the monthly limit is spent', async () => {
    await awayFromHourEnd();
    const budgets: BudgetOptions[] = [
      { name: 'x-monthly', match: { department: 'x' }, window: 'month', limit: { usd: 0.0025 } },
      { name: 'x-hourly', match: { department: 'x' }, window: 'hour', limit: { tokens: 1000 } },
      {
        name: 'x-rolling',
        match: { department: 'x', model: 'GPT-4.1*' },
        window: { rolling: '30m' },
        limit: { requests: 100 },
      },
    ];
    const plain = writeConfig({ budgets });
    const restoring = writeConfig({
      budgets,
      ledger: { restore: { prometheus: prometheus.url, intervalSeconds: 1, timeoutMs: 5000 } },
    });

    // Two processes of the fleet spend for department x; each stays under the monthly
    // limit on its own ($0.001224 and $0.001616 of $0.0025), together they are over it.
    const [a, b] = await Promise.all([
      startApp({ config: plain, metricsPort: ports.a, startup: 'x:50,x:50,x:50' }),
      startApp({ config: plain, metricsPort: ports.b, startup: 'x:100,x:100' }),
    ]);
    expect(a.ready.startup).toEqual([{ ok: 54 }, { ok: 54 }, { ok: 54 }]);
    expect(b.ready.startup).toEqual([{ ok: 104 }, { ok: 104 }]);
    const fleet = totals([50, 50, 50, 100, 100]);
    expect(fleet.tokens).toBe(370);
    expect(fleet.usd).toBeGreaterThan(0.0025);
    expect(totals([50, 50, 50]).usd).toBeLessThan(0.0025);
    expect(totals([100, 100]).usd).toBeLessThan(0.0025);

    // Prometheus has scraped both processes' final figures.
    await waitFor(
      'both processes scraped',
      async () => [
        await promValue('sum(tokenfuse_tokens_total{department="x"})'),
        await promValue('sum(tokenfuse_requests_total{department="x"})'),
      ],
      ([tokens, requests]) => tokens === 370 && requests === 5,
    );

    // B dies, and comes back (same address) with ledger.restore. Its very first call,
    // made at startup, waits for the restore, and is blocked before it is sent.
    await b.app.kill();
    const sent = llm.requests.length;
    expect(sent).toBe(5);
    const b2 = await startApp({ config: restoring, metricsPort: ports.b, startup: 'x:10' });
    expect(b2.ready.startup).toEqual([
      {
        blocked: {
          name: 'BudgetExceededError',
          code: 'budget_exceeded',
          budget: 'x-monthly',
          reason: 'limit_reached',
          unit: 'usd',
          spent: expect.closeTo(fleet.usd, 12),
          limit: 0.0025,
        },
      },
    ]);
    expect(llm.requests.length).toBe(sent);

    const exact = { tokens: 370, usd: expect.closeTo(fleet.usd, 12), requests: 5 };
    for (const name of ['x-monthly', 'x-hourly', 'x-rolling']) {
      const fuse = byName(b2.ready.fuses, name);
      expect(fuse.spent, name).toEqual(exact);
      expect(fuse.state, name).toBe(name === 'x-monthly' ? 'open' : 'closed');
    }

    // fuses.restore() from code: per budget what the fleet spent, what this process had,
    // and the result. Restoring again changes nothing: the fleet figure includes what this
    // process has already counted, so spent is the max of the two, never their sum.
    const restored = await control<BudgetRestore[]>(b2.ready, 'POST', '/restore');
    expect(restored.map((r) => r.budget)).toEqual(['x-monthly', 'x-hourly', 'x-rolling']);
    for (const r of restored) {
      expect(r).toMatchObject({ fleet: exact, local: exact, spent: exact });
      expect(r.error).toBeUndefined();
    }
    expect(byName(restored, 'x-monthly')).toMatchObject({ window: 'month', state: 'open' });
    expect(byName(restored, 'x-rolling').window).toBe('rolling_30m');

    // intervalSeconds: 1 — B also sees what the rest of the fleet spends while it runs.
    expect(await control(a.ready, 'POST', '/calls', [{ department: 'x', maxTokens: 20 }])).toEqual([
      { ok: 24 },
    ]);
    const after = totals([50, 50, 50, 100, 100, 20]);
    const fuses = await waitFor(
      'the periodic restore to pick up A’s new call',
      () => control<FuseSnapshot[]>(b2.ready, 'GET', '/fuses'),
      (list) => byName(list, 'x-hourly').spent.tokens === 394,
    );
    expect(byName(fuses, 'x-hourly').spent).toEqual({
      tokens: 394,
      usd: expect.closeTo(after.usd, 12),
      requests: 6,
    });
    expect(b2.app.stderr).not.toMatch(/cannot restore/i);
  }, 120_000);

  it('counts spend from before and after a counter reset (a process restarted within the window)', async () => {
    await awayFromHourEnd();
    const budgets: BudgetOptions[] = [
      { name: 'y-monthly', match: { department: 'y' }, window: 'month', limit: { usd: 1 } },
      { name: 'y-hourly', match: { department: 'y' }, window: 'hour', limit: { tokens: 10_000 } },
    ];
    const plain = writeConfig({ budgets });

    // One process spends, is scraped, dies; a new one on the same address (the same
    // series) starts again from 0 and spends less than the first had shown.
    const r1 = await startApp({ config: plain, metricsPort: ports.r, startup: 'y:50,y:50,y:50' });
    expect(r1.ready.startup).toEqual([{ ok: 54 }, { ok: 54 }, { ok: 54 }]);
    await waitFor(
      'the first process scraped',
      () => promValue('sum(tokenfuse_tokens_total{department="y"})'),
      (v) => v === 162,
    );
    await r1.app.kill();
    const r2 = await startApp({ config: plain, metricsPort: ports.r, startup: 'y:20' });
    expect(r2.ready.startup).toEqual([{ ok: 24 }]);
    await waitFor(
      'the second process scraped',
      async () => [
        await promValue('sum(tokenfuse_tokens_total{department="y"})'),
        await promValue('sum(resets(tokenfuse_tokens_total{department="y"}[10m]))'),
      ],
      ([tokens, resets]) => tokens === 24 && (resets ?? 0) >= 1,
    );

    // A third process restores: both lives of the series count.
    const c = await startApp({
      config: writeConfig({
        budgets,
        ledger: { restore: { prometheus: prometheus.url } },
      }),
    });
    const expected = totals([50, 50, 50, 20]);
    expect(expected.tokens).toBe(186);
    const exact = { tokens: 186, usd: expect.closeTo(expected.usd, 12), requests: 4 };
    // (C makes no call, so nothing waited for its startup restore: this joins or repeats it.)
    const restored = await control<BudgetRestore[]>(c.ready, 'POST', '/restore');
    for (const name of ['y-monthly', 'y-hourly']) {
      expect(byName(restored, name).fleet, name).toEqual(exact);
      expect(byName(restored, name).spent, name).toEqual(exact);
    }
    const fuses = await control<FuseSnapshot[]>(c.ready, 'GET', '/fuses');
    expect(byName(fuses, 'y-hourly').spent).toEqual(exact);
    expect(byName(fuses, 'y-monthly').spent).toEqual(exact);
  }, 120_000);
});

describe('exact, however the window is cut', () => {
  it('sums a counter through resets, a scrape gap and a new series, for any chunking', async () => {
    // A hand-driven exporter on a scraped address: each value is held for 2.5 s (two
    // scrapes or more, so Prometheus sees them all), with a reset, and a gap where the
    // target fails (its series go stale) and comes back lower (a new process).
    const GAP = -1;
    const input = [5, 12, 20, 3, 9, GAP, 4, 15];
    const output = [10, 20, 30, 40, 50, GAP, 60, 70];
    let step = -1;
    const exporter: Server = createServer((_req, res) => {
      if (step < 0 || input[step] === GAP) {
        res.writeHead(503).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(
        [
          '# TYPE tokenfuse_tokens_total counter',
          `tokenfuse_tokens_total{department="z",type="input"} ${input[step]}`,
          `tokenfuse_tokens_total{department="z",type="output"} ${output[step]}`,
          '',
        ].join('\n'),
      );
    });
    await new Promise<void>((r) => exporter.listen(ports.f, '127.0.0.1', r));
    try {
      for (step = 0; step < input.length; step++) await new Promise((r) => setTimeout(r, 2500));
      step = input.length - 1;
      await waitFor(
        'the last values scraped',
        () => promValue('sum(tokenfuse_tokens_total{department="z"})'),
        (v) => v === 85,
      );
      // 5 (born) + 7 + 8 + 3 (reset) + 6 + 4 (back lower: new) + 11; and 70 (born, then up).
      const expected = 44 + 70;
      const budget = normalizeBudget({
        name: 'z',
        match: { department: 'z' },
        window: { rolling: '5m' },
        limit: { tokens: 1000 },
      });
      const cuts = [
        {}, // the default: one chunk here
        { minChunkMs: 700, maxChunks: 1000 }, // most chunks hold one sample or none
        { minChunkMs: 1700, maxChunks: 1000 },
        { minChunkMs: 3100, maxChunks: 1000 }, // resets inside chunks: raw samples
      ];
      const now = Date.now();
      const results = await Promise.all(
        cuts.map((cut) =>
          new PrometheusRestorer(prometheus.url, cut).fleetSpend(
            budget,
            now,
            AbortSignal.timeout(20_000),
          ),
        ),
      );
      expect(results.map((r) => r.amounts)).toEqual(
        cuts.map(() => ({ tokens: expected, usd: 0, requests: 0 })),
      );
      // The timeline adds up to the same, chunk by chunk.
      for (const r of results)
        expect(r.timeline.reduce((a, c) => a + c.amounts.tokens, 0)).toBe(expected);
    } finally {
      await new Promise((r) => exporter.close(r));
    }
  }, 90_000);
});

describe('when Prometheus cannot help', () => {
  it('unreachable: the app starts and serves calls; the failure is counted and logged', async () => {
    const closed = await freePort();
    const metricsPort = await freePort();
    const url = `http://127.0.0.1:${closed}`;
    const { app, ready } = await startApp({
      config: writeConfig({
        budgets: [
          { name: 'u-monthly', match: { department: 'u' }, window: 'month', limit: { usd: 1 } },
          { name: 'u-hourly', match: { department: 'u' }, window: 'hour', limit: { tokens: 1e6 } },
        ],
        ledger: { restore: { prometheus: url } },
      }),
      metricsPort,
      startup: 'u:10',
    });
    expect(ready.startup).toEqual([{ ok: 14 }]);
    expect(byName(ready.fuses, 'u-hourly').spent.tokens).toBe(14);
    expect(app.stderr).toContain(`cannot restore budget spend from Prometheus at ${url}`);
    expect(app.stderr).toMatch(/budget "u-monthly" \(connection: cannot reach Prometheus/);
    expect(app.stderr).toMatch(/budget "u-hourly" \(connection: /);

    const metrics = parsePrometheusText(
      await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text(),
    );
    const errors = (reason: string) =>
      sum(metrics, 'tokenfuse_ledger_errors_total', { operation: 'restore', reason });
    expect([errors('connection'), errors('timeout'), errors('response')]).toEqual([2, 0, 0]);

    // From code: per budget the error, and its own figures kept; no rejection.
    const restored = await control<BudgetRestore[]>(ready, 'POST', '/restore');
    expect(byName(restored, 'u-hourly').fleet).toBeUndefined();
    expect(byName(restored, 'u-hourly')).toMatchObject({
      local: { tokens: 14 },
      spent: { tokens: 14 },
      error: { reason: 'connection' },
    });
    expect(await control(ready, 'POST', '/calls', [{ department: 'u', maxTokens: 1 }])).toEqual([
      { ok: 5 },
    ]);
    expect(app.child.exitCode).toBeNull();
  }, 60_000);

  it('silent: calls wait for the first restore at most timeoutMs, then go ahead', async () => {
    // A Prometheus that accepts the query and never answers. What is asserted is the
    // order of events, not their durations (those depend on the host's load): the
    // restore asked exactly once, hung up on its own, and only then was the call sent.
    const sentBefore = llm.requests.length;
    const asked: number[] = [];
    const hungUp: number[] = [];
    const sockets = new Set<Socket>();
    const silent: Server = createServer((req) => {
      // The call must not have been sent while the restore was still waiting.
      asked.push(llm.requests.length - sentBefore);
      req.resume();
      req.socket.once('close', () => hungUp.push(llm.requests.length - sentBefore));
    });
    silent.on('connection', (socket) => sockets.add(socket));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    const metricsPort = await freePort();
    try {
      const { app, ready } = await startApp({
        config: writeConfig({
          budgets: [
            {
              name: 's-hourly',
              match: { department: 's' },
              window: 'hour',
              limit: { tokens: 1e6 },
            },
          ],
          ledger: { restore: { prometheus: url, timeoutMs: 800 } },
        }),
        metricsPort,
        startup: 's:10',
      });
      // The call went ahead once the restore gave up, with only its own spend.
      expect(ready.startup).toEqual([{ ok: 14 }]);
      expect(byName(ready.fuses, 's-hourly').spent).toMatchObject({ tokens: 14, requests: 1 });
      expect(llm.requests.length - sentBefore).toBe(1);
      // One budget, one query: asked once, and the app (not this server) hung up, before
      // the call reached the LLM.
      expect(asked).toEqual([0]);
      expect(hungUp).toEqual([0]);
      expect(app.stderr).toContain(
        `cannot restore budget spend from Prometheus at ${url}: budget "s-hourly" (timeout: no answer from Prometheus in time)`,
      );
      const metrics = parsePrometheusText(
        await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text(),
      );
      const errors = (reason: string) =>
        sum(metrics, 'tokenfuse_ledger_errors_total', { operation: 'restore', reason });
      expect([errors('timeout'), errors('connection'), errors('response')]).toEqual([1, 0, 0]);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((r) => silent.close(r));
    }
  }, 60_000);

  it('a process too busy to read the answer in time is not a silent Prometheus', async () => {
    // The first restore starts while the app loads its modules on the same thread (or
    // the host starves it of CPU). Here the thread is blocked, for four times the bound,
    // right after the restore began: the request cannot even be sent until it is free.
    // The bound counts only time the process could have read the answer.
    const asked: string[] = [];
    const prom: Server = createServer((req, res) => {
      asked.push(req.url ?? '');
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'success', data: { resultType: 'matrix', result: [] } }));
    });
    await new Promise<void>((r) => prom.listen(0, '127.0.0.1', r));
    const budget = normalizeBudget({ name: 'busy', window: 'hour', limit: { tokens: 10 } });
    const board = new FuseBoard({ budgets: [budget], policies: [], prices });
    try {
      const url = `http://127.0.0.1:${(prom.address() as AddressInfo).port}`;
      enableRestore(board, new PrometheusRestorer(url), { intervalSeconds: 0, timeoutMs: 500 });
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2000);
      // Joins the restore enableRestore() started.
      const [r] = await board.restore();
      expect(r).toMatchObject({ budget: 'busy', fleet: { tokens: 0, usd: 0, requests: 0 } });
      expect(r!.error).toBeUndefined();
      expect(asked).toEqual(['/api/v1/query_range']);
      expect([...board.ledgerErrors()]).toEqual([]);
    } finally {
      await board.close();
      await new Promise((r) => prom.close(r));
    }
  });

  it('a bad answer (not the Prometheus API) is a `response` failure', async () => {
    const notProm: Server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>login</html>');
    });
    await new Promise<void>((r) => notProm.listen(0, '127.0.0.1', r));
    try {
      const h = createTokenfuse({
        budgets: [{ name: 'h', window: 'hour', limit: { tokens: 10 } }],
        ledger: {
          restore: { prometheus: `http://127.0.0.1:${(notProm.address() as AddressInfo).port}` },
        },
      });
      const [r] = await h.fuses.restore();
      expect(r).toMatchObject({ budget: 'h', fleet: undefined, error: { reason: 'response' } });
      expect(r!.error!.message).toMatch(/not a Prometheus API answer/);
      expect(h.fuses.ledgerErrors().get('restore:response')).toBeGreaterThanOrEqual(1);
      await h.fuses.close();
    } finally {
      await new Promise((r) => notProm.close(r));
    }
  });
});

describe('configuration', () => {
  const restore = { prometheus: 'http://prometheus:9090/' };

  it('resolves the defaults (a trailing slash dropped)', () => {
    expect(resolveConfig({ ledger: { restore } }, { env: {} }).ledger.restore).toEqual({
      prometheus: 'http://prometheus:9090',
      intervalSeconds: 0,
      timeoutMs: 5000,
    });
    expect(resolveConfig({}, { env: {} }).ledger.restore).toBeUndefined();
    expect(
      resolveConfig(
        { ledger: { restore: { ...restore, intervalSeconds: 60, timeoutMs: 200 } } },
        { env: { TOKENFUSE_RESTORE_PROMETHEUS: 'https://prom.internal/api-prefix' } },
      ).ledger.restore,
    ).toEqual({
      prometheus: 'https://prom.internal/api-prefix',
      intervalSeconds: 60,
      timeoutMs: 200,
    });
    // The environment variable alone turns it on.
    expect(
      resolveConfig({}, { env: { TOKENFUSE_RESTORE_PROMETHEUS: 'http://p:9090' } }).ledger.restore,
    ).toEqual({ prometheus: 'http://p:9090', intervalSeconds: 0, timeoutMs: 5000 });
  });

  it('with store: redis is a ConfigError naming both fields', () => {
    const redis = { store: 'redis' as const, url: 'redis://127.0.0.1:6379' };
    expect(() => resolveConfig({ ledger: { ...redis, restore } }, { env: {} })).toThrow(
      ConfigError,
    );
    expect(() => resolveConfig({ ledger: { ...redis, restore } }, { env: {} })).toThrow(
      "invalid tokenfuse configuration in code:\n  - ledger.restore: cannot be combined with ledger.store 'redis' (Redis already keeps budget spend across restarts); remove ledger.restore or use ledger.store 'memory'",
    );
    expect(() =>
      resolveConfig({ ledger: redis }, { env: { TOKENFUSE_RESTORE_PROMETHEUS: 'http://p:9090' } }),
    ).toThrow(
      /ledger\.restore: cannot be combined with ledger\.store 'redis'.*TOKENFUSE_RESTORE_PROMETHEUS/,
    );
  });

  it('a bad URL is a clear error, from the file or the environment', () => {
    expect(() =>
      resolveConfig({ ledger: { restore: { prometheus: 'prometheus:9090' } } }, { env: {} }),
    ).toThrow(
      'invalid tokenfuse configuration in code:\n  - ledger.restore.prometheus: expected an http:// or https:// URL of the Prometheus API, got "prometheus:9090" (string)',
    );
    // Credentials are never echoed.
    expect(() =>
      resolveConfig({ ledger: { restore: { prometheus: 'ftp://u:secret@p' } } }, { env: {} }),
    ).toThrow(
      /ledger\.restore\.prometheus: expected an http:\/\/ or https:\/\/ URL of the Prometheus API, got a string that is not one$/,
    );
    expect(() =>
      resolveConfig({}, { env: { TOKENFUSE_RESTORE_PROMETHEUS: 'localhost:9090' } }),
    ).toThrow(
      'invalid tokenfuse configuration in environment variable TOKENFUSE_RESTORE_PROMETHEUS:\n  - ledger.restore.prometheus: expected an http:// or https:// URL of the Prometheus API, got "localhost:9090" (string)',
    );
    expect(() => resolveConfig({ ledger: { restore: {} as never } }, { env: {} })).toThrow(
      'ledger.restore.prometheus: missing (expected an http:// or https:// URL of the Prometheus API)',
    );
    expect(() =>
      resolveConfig({ ledger: { restore: { ...restore, intervalSeconds: -1 } } }, { env: {} }),
    ).toThrow('ledger.restore.intervalSeconds: expected an integer >= 0, got -1 (number)');
    expect(() =>
      resolveConfig({ ledger: { restore: { ...restore, timeotMs: 5 } as never } }, { env: {} }),
    ).toThrow("ledger.restore: unknown field 'timeotMs'; did you mean 'timeoutMs'?");
  });

  it('a budget matching on a label the metrics leave out cannot be restored', () => {
    expect(() =>
      resolveConfig(
        {
          metrics: { labels: ['department', 'model'] },
          budgets: [
            {
              name: 'p',
              match: { department: 'x', project: 'p' },
              window: 'day',
              limit: { usd: 1 },
            },
          ],
          ledger: { restore },
        },
        { env: {} },
      ),
    ).toThrow(
      "budgets[0].match.project: ledger.restore reads spend by the metric label 'project', which metrics.labels leaves out; add 'project' to metrics.labels or turn ledger.restore off",
    );
  });

  it('fuses.restore() without ledger.restore rejects, naming the option', async () => {
    const t = createTokenfuse({ budgets: [{ name: 'h', window: 'hour', limit: { tokens: 1 } }] });
    await expect(t.fuses.restore()).rejects.toThrow(/needs ledger\.restore/);
    expect(t.fuses.restores).toBe(false);
  });
});

describe('the arithmetic', () => {
  it('a counter’s spend: deltas, a reset’s new value whole, a series born among the samples from 0', () => {
    expect(counterSpend(10, [15, 20, 26])).toBe(16);
    expect(counterSpend(undefined, [7, 9])).toBe(9);
    expect(counterSpend(40, [45, 3, 8])).toBe(5 + 3 + 5);
    expect(counterSpend(40, [2, 1, 6])).toBe(2 + 1 + 5);
    expect(counterSpend(5, [])).toBe(0);
  });

  it('chunks a window into at most MAX_CHUNKS steps of whole milliseconds, ending at now or just after', () => {
    expect(chunking(1000, 1000)).toEqual({ count: 0, stepMs: 0 });
    expect(chunking(0, 30_000)).toEqual({ count: 1, stepMs: 30_000 });
    expect(chunking(0, 3_600_000)).toEqual({ count: 4, stepMs: 900_000 });
    expect(chunking(0, 86_400_000)).toEqual({ count: 96, stepMs: 900_000 });
    expect(chunking(0, 10_000, { minChunkMs: 700 })).toEqual({ count: 15, stepMs: 667 });
    const month = chunking(0, 31 * 86_400_000 - 7);
    expect(month.count).toBe(MAX_CHUNKS);
    const overshoot = month.count * month.stepMs - (31 * 86_400_000 - 7);
    expect(overshoot).toBeGreaterThanOrEqual(0);
    expect(overshoot).toBeLessThan(MAX_CHUNKS);
  });

  it('turns a budget match into label matchers, the model glob into an anchored, case-insensitive regex', () => {
    const b = normalizeBudget({
      name: 'b',
      match: { department: 'a "quoted" \\ dept', provider: 'openai', model: 'gpt-4.1*' },
      window: 'day',
      limit: { usd: 1 },
    });
    expect(globToPromRegex('gpt-4.1*')).toBe('(?i)gpt-4\\.1.*');
    expect(budgetSelector(b, 'usd')).toBe(
      'tokenfuse_cost_usd_total{department="a \\"quoted\\" \\\\ dept",provider="openai",model=~"(?i)gpt-4\\\\.1.*"}',
    );
    expect(
      budgetSelector(
        normalizeBudget({ name: 'all', window: 'day', limit: { usd: 1 } }),
        'requests',
      ),
    ).toBe('tokenfuse_requests_total{outcome!="blocked"}');
    expect(
      budgetSelector(normalizeBudget({ name: 'all', window: 'day', limit: { usd: 1 } }), 'tokens'),
    ).toBe('tokenfuse_tokens_total');
  });

  it('the model regex means, in Prometheus, what the budget’s glob means', async () => {
    const regex = globToPromRegex('GPT-4.1*');
    // label_replace anchors its regex as label matchers do, with the same engine (RE2).
    const matches = async (model: string) => {
      const [r] = await prometheus.query(
        `label_replace(label_replace(vector(1), "model", ${JSON.stringify(model)}, "", ""), "hit", "yes", "model", ${JSON.stringify(regex)})`,
      );
      return r?.metric.hit === 'yes';
    };
    const models = [
      'gpt-4.1',
      'GPT-4.1-mini',
      'gpt-4.1-2025-04-14',
      'gpt-4x1',
      'xgpt-4.1',
      'gpt-4',
    ];
    const hits = await Promise.all(models.map(matches));
    expect(Object.fromEntries(models.map((m, i) => [m, hits[i]]))).toEqual({
      'gpt-4.1': true,
      'GPT-4.1-mini': true,
      'gpt-4.1-2025-04-14': true,
      'gpt-4x1': false,
      'xgpt-4.1': false,
      'gpt-4': false,
    });
    const budget = normalizeBudget({
      name: 'g',
      match: { model: 'GPT-4.1*' },
      window: 'day',
      limit: { usd: 1 },
    });
    expect(models.map((m) => budget.match.model!.test(m))).toEqual(hits);
  });

  it('spreads a rolling window’s restored spend over its buckets the way the fleet spent it', () => {
    let now = Date.UTC(2026, 10, 23, 10, 0, 0);
    const budget = normalizeBudget({
      name: 'r',
      window: { rolling: '30m' },
      limit: { requests: 10 },
    });
    const store = new MemoryFuseStore();
    const fleet = { tokens: 0, usd: 0, requests: 6 };
    const r = store.raise(budget, now, now - 30 * 60_000, fleet, [
      { at: now - 25 * 60_000, amounts: { tokens: 0, usd: 0, requests: 4 } },
      { at: now - 5 * 60_000, amounts: { tokens: 0, usd: 0, requests: 2 } },
    ]);
    expect(r.added).toEqual(fleet);
    expect(store.peek([budget], now).states[0]!.spent.requests).toBe(6);
    now += 6 * 60_000; // the first chunk's spend has left the window
    expect(store.peek([budget], now).states[0]!.spent.requests).toBe(2);
    // Raising again to what is already there adds nothing.
    expect(
      store.raise(budget, now, now - 30 * 60_000, { tokens: 0, usd: 0, requests: 2 }).added,
    ).toEqual({
      tokens: 0,
      usd: 0,
      requests: 0,
    });
  });

  it('opens an exhausted fuse at once, emits the trip, and marks thresholds crossed without firing them', async () => {
    const budget = normalizeBudget({ name: 'm', window: 'month', limit: { usd: 1 } });
    const board = new FuseBoard({ budgets: [budget], policies: [], prices });
    const events: string[] = [];
    board.onTrip((e) => events.push(`trip ${e.unit} ${e.spent}`));
    board.onThreshold((e) => events.push(`threshold ${e.threshold}`));
    const source: SpendSource = {
      location: 'test',
      async fleetSpend(b, now): Promise<FleetSpend> {
        const windowStart = calendarWindow(b.window as never, now).start;
        return {
          windowStart,
          until: now,
          amounts: { tokens: 5, usd: 1.5, requests: 2 },
          timeline: [],
          resets: 0,
        };
      },
    };
    enableRestore(board, source, { intervalSeconds: 0, timeoutMs: 1000 });
    const [r] = await board.restore();
    expect(r).toMatchObject({ state: 'open', spent: { usd: 1.5, requests: 2 }, local: { usd: 0 } });
    expect(events).toEqual(['trip usd 1.5']);
    await board.close();
  });

  it('thresholds the restored spend has passed do not fire later; the next ones do', () => {
    const now = Date.UTC(2026, 10, 23, 10, 0, 0);
    const budget = normalizeBudget({ name: 't', window: 'day', limit: { tokens: 100 } });
    const store = new MemoryFuseStore();
    const dayStart = calendarWindow(budget.window, now).start;
    store.raise(budget, now, dayStart, { tokens: 80, usd: 0, requests: 3 });
    const call = (tokens: number) => {
      const amounts = { tokens, usd: 0, requests: 1 };
      const admitted = store.admit({ now, entries: [{ budget, amounts }] });
      if (admitted.kind !== 'decided' || !admitted.admitted) throw new Error('not admitted');
      return store.settle({ now, budgets: [budget], ticket: admitted.ticket, actual: amounts })
        .crossed[0];
    };
    expect(call(5)).toEqual([]); // 85%: 50% and 75% were passed before the restore
    expect(call(7)).toEqual([0.9]);
  });

  it('a failing source is reported per budget and counted, never thrown', async () => {
    const budget = normalizeBudget({ name: 'f', window: 'day', limit: { usd: 1 } });
    const board = new FuseBoard({ budgets: [budget], policies: [], prices });
    enableRestore(
      board,
      {
        location: 'http://nowhere',
        fleetSpend: async () => {
          throw new RestoreError('timeout', 'no answer from Prometheus in time');
        },
      },
      { intervalSeconds: 0, timeoutMs: 100 },
    );
    // The first call joins the restore enableRestore() started; the second is another.
    await board.restore();
    const [r] = await board.restore();
    expect(r).toMatchObject({ budget: 'f', error: { reason: 'timeout' }, fleet: undefined });
    expect(board.ledgerErrors().get('restore:timeout')).toBe(2);
    await board.close();
  });
});
