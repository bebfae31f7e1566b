// What must hold for the host app: the fake server runs on its own for a keyless quickstart,
// webhook deliveries never flood the app's sockets nor keep it alive, and attribution
// headers given as a client's defaultHeaders are read and never reach the provider.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { diag } from '@opentelemetry/api';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startFakeOpenAI } from '../../examples/shared/fake-openai-server.mjs';
import { ConfigError } from '../../src/errors/index.js';
import { resolveConfig, withAttribution } from '../../src/index.js';
import type { BudgetOptions, TokenfuseOptions } from '../../src/types.js';
import { captureDiag } from '../helpers/diag.js';
import { LOCAL_RELAY, useFakeServerHarness } from '../helpers/fake-server-harness.js';
import type { Harness } from '../helpers/harness.js';
import { App, childEnv, freePort } from '../helpers/processes.js';
import { type Sample, select } from '../helpers/prom-text.js';

describe('the fake server on its own (keyless quickstart)', { timeout: 120_000 }, () => {
  it('prints its base URL, answers the real SDK, and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const app = new App(
      ['examples/shared/fake-openai-server.mjs', '--port', String(port)],
      childEnv(),
    );
    try {
      const line = await app.firstLine(60_000);
      const baseURL = `http://127.0.0.1:${port}/v1`;
      expect(line).toBe(
        `Fake OpenAI-compatible server on ${baseURL} (try: OPENAI_BASE_URL=${baseURL} OPENAI_API_KEY=fake node --import tokenfuse/register app.mjs)`,
      );
      const client = new OpenAI({ baseURL, apiKey: 'fake', maxRetries: 0 });
      const reply = await client.chat.completions.create({
        model: 'gpt-4.1',
        messages: [{ role: 'user', content: 'Say hello' }],
      });
      expect(reply.choices[0]?.message.content).toBe('Hello from gpt-4.1 Hello from');
      expect(reply.usage).toMatchObject({ prompt_tokens: 5, completion_tokens: 5 });
      app.child.kill('SIGTERM');
      expect(await app.exited).toEqual({ code: 0, signal: null });
    } finally {
      await app.kill();
    }
  });

  it('refuses a bad --port with a usage line and exit code 2', async () => {
    const app = new App(['examples/shared/fake-openai-server.mjs', '--port', 'abc'], childEnv());
    expect(await app.exited).toEqual({ code: 2, signal: null });
    expect(app.stderr).toBe(
      'fake-openai-server: --port expects an integer 0..65535, got "abc"\n' +
        'usage: node examples/shared/fake-openai-server.mjs [--port 8787] [--host 127.0.0.1] [--chunk-delay-ms 0]\n',
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Webhook delivery
// ---------------------------------------------------------------------------------------------

/** A webhook endpoint that records what it gets, answers as told, and counts its load. */
interface HookServer {
  url: string;
  posts: Array<{ path: string; body: any }>;
  /** The answer to the n-th request (1-based): an HTTP status, or 'hold' (no answer until released). */
  answer: (n: number) => number | 'hold';
  inFlight: number;
  maxInFlight: number;
  maxConnections: number;
  /** Answers every held request with 200. */
  release(): void;
  close(): Promise<void>;
}

async function startHook(answer: HookServer['answer']): Promise<HookServer> {
  const held: Array<() => void> = [];
  let connections = 0;
  const hook: HookServer = {
    url: '',
    posts: [],
    answer,
    inFlight: 0,
    maxInFlight: 0,
    maxConnections: 0,
    release: () => {
      for (const answer of held.splice(0)) answer();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server: Server = createServer((req, res) => {
    hook.inFlight++;
    hook.maxInFlight = Math.max(hook.maxInFlight, hook.inFlight);
    res.on('close', () => hook.inFlight--);
    let text = '';
    req.setEncoding('utf8').on('data', (c: string) => {
      text += c;
    });
    req.on('end', () => {
      hook.posts.push({ path: req.url ?? '', body: JSON.parse(text) });
      const a = hook.answer(hook.posts.length);
      const send = (status: number) => {
        res.statusCode = status;
        res.end('ok');
      };
      if (a === 'hold') held.push(() => send(200));
      else send(a);
    });
  });
  server.on('connection', (socket) => {
    connections++;
    hook.maxConnections = Math.max(hook.maxConnections, connections);
    socket.on('close', () => connections--);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  hook.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return hook;
}

/** Upper bound of a wait on a shared, loaded machine; nothing here asserts a duration. */
const WAIT = { timeout: 60_000 };

/** Monitor budgets of 1 token a minute, firing only at 100%: each call's settlement emits
 * one threshold and one trip event per budget, every minute anew. */
function tinyBudgets(n: number): BudgetOptions[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `b${i}`,
    window: 'minute' as const,
    limit: { tokens: 1 },
    thresholds: [1],
    action: 'monitor' as const,
  }));
}

const WEBHOOK_DROPPED = 'tokenfuse_webhook_dropped_total';
const NO_DROPS = { queue_full: 0, coalesced: 0, timeout: 0, failed: 0, rejected: 0 };
function drops(samples: Sample[]): Record<string, number> {
  return Object.fromEntries(
    select(samples, WEBHOOK_DROPPED).map((s) => [s.labels.reason, s.value]),
  );
}

describe('webhook delivery', { timeout: 120_000 }, () => {
  const { harness, client } = useFakeServerHarness();
  let h: Harness | undefined;
  let hook: HookServer | undefined;
  let openai: OpenAI;
  let events = 0;

  afterEach(async () => {
    vi.useRealTimers();
    diag.disable();
    await hook?.close();
    hook = undefined;
  });

  async function setup(options: TokenfuseOptions): Promise<void> {
    vi.useFakeTimers({ toFake: ['Date'], now: new Date('2026-11-23T10:00:00Z') });
    h = await harness({ providers: [LOCAL_RELAY], ...options });
    openai = client(h) as OpenAI;
    events = 0;
    h.tokenfuse.fuses.onThreshold(() => events++);
    h.tokenfuse.fuses.onTrip(() => events++);
  }

  /** One call in the given minute after 10:00 (4 input + 5 output tokens). */
  async function callInMinute(minute: number): Promise<void> {
    vi.setSystemTime(new Date(Date.UTC(2026, 10, 23, 10, minute)));
    await openai.chat.completions.create({
      model: 'gpt-4.1',
      messages: [{ role: 'user', content: 'x' }],
      max_tokens: 5,
    });
  }

  it('keeps at most `concurrency` requests in flight over 1000 events, and merges waiting ones to the latest state', async () => {
    hook = await startHook(() => 'hold');
    await setup({
      budgets: tinyBudgets(100),
      webhooks: [{ url: `${hook.url}/hook` }],
      webhookDelivery: { concurrency: 4, maxQueue: 1000 },
    });
    for (let minute = 0; minute < 5; minute++) await callInMinute(minute);
    expect(events).toBe(1000);

    // The first four (b0..b3's 10:00 thresholds) are in flight and held; everything else
    // waits, and each later event of a (budget, kind) replaces the waiting one.
    await vi.waitFor(() => expect(hook!.inFlight).toBe(4), WAIT);
    hook.answer = () => 200;
    hook.release();
    // 4 + one per (budget, kind) with its 10:04 state = 204 deliveries; 796 merged away.
    await vi.waitFor(() => expect(hook!.posts).toHaveLength(204), WAIT);
    const summary = (p: { body: any }) => `${p.body.event} ${p.body.budget} ${p.body.at}`;
    expect(hook.posts.slice(0, 4).map(summary)).toEqual(
      [0, 1, 2, 3].map((i) => `budget.threshold b${i} 2026-11-23T10:00:00.000Z`),
    );
    const latest = hook.posts.slice(4).map(summary).sort();
    const expected = [];
    for (let i = 0; i < 100; i++) {
      expected.push(`budget.threshold b${i} 2026-11-23T10:04:00.000Z`);
      expected.push(`fuse.trip b${i} 2026-11-23T10:04:00.000Z`);
    }
    expect(latest).toEqual(expected.sort());
    expect(hook.maxInFlight).toBe(4);
    expect(hook.maxConnections).toBeLessThanOrEqual(4);
    expect(drops(await h!.scrape())).toEqual({ ...NO_DROPS, coalesced: 796 });
  });

  it('retries a 500 with backoff until it is delivered', async () => {
    hook = await startHook((n) => (n <= 2 ? 500 : 200));
    await setup({
      budgets: [
        {
          name: 'ops',
          window: 'hour',
          limit: { tokens: 10 },
          thresholds: [0.5],
          action: 'monitor',
        },
      ],
      webhooks: [{ url: `${hook.url}/hook` }],
    });
    await callInMinute(0); // 9 tokens: 50% of ops, no trip
    expect(events).toBe(1);
    await vi.waitFor(() => expect(hook!.posts).toHaveLength(3), WAIT);
    await vi.waitFor(() => expect(hook!.inFlight).toBe(0), WAIT);
    expect(new Set(hook.posts.map((p) => JSON.stringify(p.body))).size).toBe(1);
    expect(hook.posts[0]!.body.text).toBe(
      'Budget "ops" reached 50% of its hour limit: 9 of 10 tokens.',
    );
    expect(drops(await h!.scrape())).toEqual(NO_DROPS);
  });

  it("gives up after the retries, counts and logs once, without the URL's token", async () => {
    const logs = captureDiag();
    hook = await startHook(() => 503);
    await setup({
      budgets: tinyBudgets(2).map((b) => ({ ...b, thresholds: [0.5] })),
      webhooks: [{ url: `${hook.url}/services/T0/SECRET-PATH?token=SECRET-QUERY` }],
      webhookDelivery: { retries: 1 },
    });
    await callInMinute(0); // 2 thresholds + 2 trips
    expect(events).toBe(4);
    await vi.waitFor(
      async () => expect(drops(await h!.scrape())).toEqual({ ...NO_DROPS, failed: 4 }),
      {
        ...WAIT,
      },
    );
    expect(hook.posts).toHaveLength(8); // 4 messages × (1 attempt + 1 retry)
    const ours = logs.filter((l) => l.includes('webhook'));
    expect(ours).toEqual([
      `tokenfuse: webhook delivery to ${hook.url} dropped (failed): the endpoint answered 503 (2 attempts). ` +
        'Later drops for this reason are only counted in tokenfuse_webhook_dropped_total{reason="failed"}.',
    ]);
    expect(logs.join('\n')).not.toContain('SECRET');
  });

  it('does not retry a 4xx answer (rejected), and times out a hanging endpoint (timeout)', async () => {
    const logs = captureDiag();
    hook = await startHook((n) => (n === 1 ? 404 : 'hold'));
    await setup({
      budgets: [
        { name: 'ops', window: 'hour', limit: { tokens: 1 }, thresholds: [1], action: 'monitor' },
      ],
      webhooks: [{ url: `${hook.url}/hook` }],
      webhookDelivery: { concurrency: 1, retries: 0, timeoutMs: 200 },
    });
    await callInMinute(0); // threshold (answered 404), then trip (never answered)
    await vi.waitFor(
      async () =>
        expect(drops(await h!.scrape())).toEqual({ ...NO_DROPS, rejected: 1, timeout: 1 }),
      WAIT,
    );
    expect(hook.posts.map((p) => p.body.event)).toEqual(['budget.threshold', 'fuse.trip']);
    expect(logs.filter((l) => l.includes('webhook'))).toEqual([
      `tokenfuse: webhook delivery to ${hook.url} dropped (rejected): the endpoint answered 404 (1 attempt). ` +
        'Later drops for this reason are only counted in tokenfuse_webhook_dropped_total{reason="rejected"}.',
      `tokenfuse: webhook delivery to ${hook.url} dropped (timeout): no answer in time (1 attempt). ` +
        'Later drops for this reason are only counted in tokenfuse_webhook_dropped_total{reason="timeout"}.',
    ]);
  });

  it('drops past `maxQueue` and counts every drop exactly', async () => {
    const logs = captureDiag();
    hook = await startHook(() => 'hold');
    await setup({
      budgets: tinyBudgets(5),
      webhooks: [{ url: `${hook.url}/hook` }],
      webhookDelivery: { concurrency: 1, maxQueue: 2 },
    });
    await callInMinute(0); // 5 thresholds, then 5 trips: 1 in flight, 2 waiting, 7 dropped
    expect(events).toBe(10);
    await vi.waitFor(() => expect(hook!.inFlight).toBe(1), WAIT);
    hook.answer = () => 200;
    hook.release();
    await vi.waitFor(() => expect(hook!.posts).toHaveLength(3), WAIT);
    expect(hook.posts.map((p) => `${p.body.event} ${p.body.budget}`)).toEqual([
      'budget.threshold b0',
      'budget.threshold b1',
      'budget.threshold b2',
    ]);
    expect(drops(await h!.scrape())).toEqual({ ...NO_DROPS, queue_full: 7 });
    expect(logs.filter((l) => l.includes('webhook'))).toEqual([
      `tokenfuse: webhook delivery to ${hook.url} dropped (queue_full): 2 deliveries already waiting. ` +
        'Later drops for this reason are only counted in tokenfuse_webhook_dropped_total{reason="queue_full"}.',
    ]);
  });

  it('validates webhookDelivery, naming the field and the value', () => {
    let err: unknown;
    try {
      resolveConfig({ webhookDelivery: { concurrency: 0, retries: -1 } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toBe(
      'invalid tokenfuse configuration in code:\n' +
        '  - webhookDelivery.concurrency: expected a positive integer, got 0 (number)\n' +
        '  - webhookDelivery.retries: expected an integer >= 0, got -1 (number)',
    );
  });
});

describe('an app whose webhook endpoint hangs', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'tokenfuse-hook-'));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('still exits by itself (code 0) while the delivery is in flight', async () => {
    const llm = await startFakeOpenAI();
    const hook = await startHook(() => 'hold');
    const config = join(tmp, 'tokenfuse.config.yaml');
    writeFileSync(
      config,
      'budgets:\n  - name: ops\n    window: hour\n    limit: { tokens: 1 }\n    action: monitor\n' +
        `webhooks:\n  - url: ${hook.url}/hook\n` +
        'webhookDelivery:\n  timeoutMs: 600000\n',
    );
    const app = new App(
      ['--import', 'tokenfuse/register', 'test/fixtures/apps/webhook-app.mjs'],
      childEnv({
        TOKENFUSE_CONFIG: config,
        TOKENFUSE_METRICS_EXPORTER: 'none',
        LLM_BASE_URL: `${llm.url}/v1`,
      }),
    );
    try {
      expect(await app.firstLine(60_000)).toBe('called: 9 tokens');
      // Its own work is done once it is told; our requests are still held by the endpoint.
      await vi.waitFor(() => expect(hook.inFlight).toBeGreaterThan(0), WAIT);
      app.child.kill('SIGUSR2');
      expect(await app.exited).toEqual({ code: 0, signal: null });
      expect(hook.posts.length).toBeGreaterThan(0);
    } finally {
      await app.kill();
      await hook.close();
      await llm.close();
    }
  }, 180_000);
});

// ---------------------------------------------------------------------------------------------
// Attribution headers in a client's defaultHeaders
// ---------------------------------------------------------------------------------------------

describe("attribution headers in a client's defaultHeaders", { timeout: 120_000 }, () => {
  const { llm, harness, client } = useFakeServerHarness();
  let h: Harness;

  const body = {
    model: 'gpt-4.1',
    messages: [{ role: 'user' as const, content: 'x' }],
    max_tokens: 5,
  };
  const tagsOf = (span: { attributes: Record<string, unknown> }) =>
    Object.fromEntries(
      Object.entries(span.attributes).filter(([k]) =>
        /^tokenfuse\.(department|project|environment|user|feature)$/.test(k),
      ),
    );
  const requestLabels = (samples: Sample[]) =>
    select(samples, 'tokenfuse_requests_total').map((s) => [
      s.labels.department,
      s.labels.project,
      s.value,
    ]);

  it('reads them (per call > defaultHeaders > context) and never sends them to the provider', async () => {
    h = await harness({ providers: [LOCAL_RELAY] });
    const defaultHeaders = { 'X-Department': 'search', 'X-Project': 'ranker', 'X-Other': 'keep' };
    const openai = client(h, { defaultHeaders }) as OpenAI;
    await withAttribution(
      { department: 'marketing', project: 'ctx', feature: 'from-context' },
      () => openai.chat.completions.create(body, { headers: { 'x-project': 'per-call' } }),
    );
    await openai.chat.completions.create(body); // the same client again, defaults only

    const sent = llm.requests.map((r) => r.headers);
    expect(sent).toHaveLength(2);
    for (const headers of sent) {
      expect(headers['x-department']).toBeUndefined();
      expect(headers['x-project']).toBeUndefined();
      expect(headers['x-other']).toBe('keep');
      expect(headers.authorization).toBe('Bearer sk');
    }
    const spans = h.spans();
    expect(spans.map(tagsOf)).toEqual([
      {
        'tokenfuse.department': 'search',
        'tokenfuse.project': 'per-call',
        'tokenfuse.feature': 'from-context',
      },
      { 'tokenfuse.department': 'search', 'tokenfuse.project': 'ranker' },
    ]);
    expect(requestLabels(await h.scrape()).sort()).toEqual([
      ['search', 'per-call', 1],
      ['search', 'ranker', 1],
    ]);
    // The client is not changed: its defaults are what the user gave.
    expect((openai as any)._options.defaultHeaders).toBe(defaultHeaders);
    expect(defaultHeaders).toEqual({
      'X-Department': 'search',
      'X-Project': 'ranker',
      'X-Other': 'keep',
    });
  });

  it('handles Headers instances on both sides, and sends them when stripHeaders is false', async () => {
    h = await harness({ providers: [LOCAL_RELAY] });
    const openai = client(h, {
      defaultHeaders: new Headers({ 'x-department': 'search', 'x-user': '' }),
    }) as OpenAI;
    await openai.chat.completions.create(body, {
      headers: new Headers({ 'X-Feature': 'per-call', 'X-Trace': 't1' }),
    });
    expect(llm.requests[0]!.headers).toMatchObject({ 'x-trace': 't1' });
    expect(
      Object.keys(llm.requests[0]!.headers).filter((k) => /^x-(department|user|feature)$/.test(k)),
    ).toEqual([]);
    expect(h.spans().map(tagsOf)).toEqual([
      { 'tokenfuse.department': 'search', 'tokenfuse.feature': 'per-call' },
    ]);
    await h.close();

    llm.reset();
    h = await harness({ providers: [LOCAL_RELAY], attribution: { stripHeaders: false } });
    const sending = client(h, { defaultHeaders: { 'X-Department': 'search' } }) as OpenAI;
    await sending.chat.completions.create(body);
    expect(llm.requests[0]!.headers['x-department']).toBe('search');
    expect(h.spans().map(tagsOf)).toEqual([{ 'tokenfuse.department': 'search' }]);
  });
});
