// `tokenfuse fuses …` as an operator runs it: the BUILT binary (dist/cli.js, so
// `npm run build` first) as a child process, against a real redis-server holding
// state that a real tokenfuse app made through the real openai SDK and the fake
// server; and against a running app's admin endpoint.
//
// Token arithmetic (fake server): a call with content 'x' and max_tokens N uses 4 + N tokens.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { calcPrice } from '@pydantic/genai-prices';
import type OpenAIType from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type FakeOpenAI, startFakeOpenAI } from '../examples/shared/fake-openai-server.mjs';
import {
  type BudgetExceededError,
  ConfigError,
  resolveConfig,
  type StateChangeEvent,
  withAttribution,
} from '../src/index.js';
import type { BudgetOptions } from '../src/types.js';
import { rejection, x } from './helpers/budget-calls.js';
import { createHarness, type Harness } from './helpers/harness.js';
import { childEnv, freePort } from './helpers/processes.js';
import { sum } from './helpers/prom-text.js';
import { useRedisServer } from './helpers/redis.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli.js');

/** Runs the built `tokenfuse` binary as a user would, with the test's own Node. */
function tokenfuse(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: childEnv(env) }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: number }).code ?? 1) : 0;
      resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
    });
  });
}

/** The catalog's price of an OpenAI chat call of `prompt` + `output` tokens. */
function catalogUsd(prompt: number, output: number): number {
  const price = calcPrice({ input_tokens: prompt, output_tokens: output }, 'gpt-4.1', {
    providerId: 'openai',
  });
  if (price === null) throw new Error('the catalog has no price for gpt-4.1');
  return price.total_price;
}

/** A table's rows, cut into cells (columns are two or more spaces apart). */
const cells = (table: string) =>
  table
    .trimEnd()
    .split('\n')
    .map((line) => line.split(/ {2,}/));

const BUDGETS: BudgetOptions[] = [
  {
    name: 'marketing-monthly',
    match: { department: 'marketing' },
    window: 'month',
    limit: { tokens: 30, usd: 1 },
  },
  { name: 'all-daily', window: 'day', limit: { requests: 100 } },
];

const redis = useRedisServer();
let llm: FakeOpenAI;
let dir: string;
let h: Harness | undefined;
let openai: OpenAIType;
let prefixes = 0;
let prefix = '';
let configFile = '';

beforeAll(async () => {
  llm = await startFakeOpenAI();
  dir = mkdtempSync(join(tmpdir(), 'tokenfuse-cli-fuses-'));
});
afterAll(async () => {
  await llm?.close();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(async () => {
  if (h) {
    await h.tokenfuse.fuses.close();
    await h.close();
  }
  h = undefined;
  llm.reset();
});

const marketing = <T>(fn: () => Promise<T>) => withAttribution({ department: 'marketing' }, fn);

/**
 * An app on the Redis ledger (a key prefix of its own) that spent the marketing budget
 * to its 30-token limit in two calls, and the config file the operator's CLI reads.
 */
async function spentApp(): Promise<void> {
  prefix = `tf-cli-${process.pid}-${++prefixes}:`;
  const ledger = { store: 'redis' as const, url: redis.url, keyPrefix: prefix, timeoutMs: 1000 };
  h = await createHarness({
    providers: [{ id: 'local-relay', hosts: ['127.0.0.1'], pricesFrom: 'openai' }],
    budgets: BUDGETS,
    ledger,
  });
  openai = new h.OpenAI({ baseURL: `${llm.url}/v1`, apiKey: 'sk', maxRetries: 0 });
  await marketing(() => openai.chat.completions.create(x(10))); // 14 tokens
  await marketing(() => openai.chat.completions.create(x(12))); // 30: the fuse opens
  configFile = join(dir, `${prefixes}.yaml`);
  // The operator's file: the same budgets and ledger, without the Redis URL (--redis gives it).
  writeFileSync(
    configFile,
    JSON.stringify({ budgets: BUDGETS, ledger: { store: 'redis', keyPrefix: prefix } }),
  );
}

const spentUsd = () => catalogUsd(4, 10) + catalogUsd(4, 12);
const dollars = (n: number) => `$${n.toFixed(6).replace(/\.?0+$/, '')}`;

describe('tokenfuse fuses against the Redis ledger', () => {
  it('lists every budget with its window, spent/limit, utilization, state and reservations', async () => {
    await spentApp();
    const run = await tokenfuse(['fuses', 'list', '--redis', redis.url, '--config', configFile]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const usd = dollars(spentUsd());
    expect(cells(run.stdout)).toEqual([
      ['BUDGET', 'WINDOW', 'STATE', 'TOKENS', 'USD', 'REQUESTS', 'UTILIZATION', 'RESERVED'],
      [
        'marketing-monthly',
        'month',
        'open',
        '30/30',
        `${usd}/$1`,
        '2',
        '100.0%',
        '0 tok, $0, 0 req',
      ],
      ['all-daily', 'day', 'closed', '30', usd, '2/100', '2.0%', '0 tok, $0, 0 req'],
    ]);

    const json = await tokenfuse(['fuses', 'list', '--json', '--config', configFile], {
      TOKENFUSE_LEDGER_URL: redis.url,
    });
    expect(json.code).toBe(0);
    const [m, all] = JSON.parse(json.stdout);
    expect(m).toMatchObject({
      budget: 'marketing-monthly',
      window: 'month',
      state: 'open',
      isolated: false,
      limit: { tokens: 30, usd: 1 },
      raised: { tokens: 0, usd: 0, requests: 0 },
      spent: { tokens: 30, requests: 2 },
      reserved: { tokens: 0, usd: 0, requests: 0 },
      utilization: 1,
      trips: 1,
      match: { department: 'marketing' },
    });
    expect(m.spent.usd).toBeCloseTo(spentUsd(), 12);
    expect(all).toMatchObject({ budget: 'all-daily', state: 'closed', utilization: 0.02 });
  });

  it('shows one budget in full', async () => {
    await spentApp();
    const run = await tokenfuse([
      'fuses',
      'show',
      'marketing-monthly',
      '--redis',
      redis.url,
      '--config',
      configFile,
    ]);
    expect(run.code).toBe(0);
    const fields = Object.fromEntries(
      run.stdout
        .trimEnd()
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]),
    );
    const now = new Date();
    const monthStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
    expect(fields).toEqual({
      budget: 'marketing-monthly',
      state: 'open',
      action: 'block',
      window: 'month',
      'window start': monthStart.toISOString(),
      'window end': new Date(
        Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1),
      ).toISOString(),
      tokens: '30/30',
      usd: `${dollars(spentUsd())}/$1`,
      requests: '2',
      utilization: '100.0%',
      reserved: '0 tok, $0, 0 req',
      raised: 'no',
      trips: '1',
      match: '{"department":"marketing"}',
    });
  });

  it('raises a budget for the rest of the window and resets its fuse: the app calls again, and the journal says who and why', async () => {
    await spentApp();
    const events: StateChangeEvent[] = [];
    h!.tokenfuse.fuses.onStateChange((e) => events.push(e));
    const target = ['--redis', redis.url, '--config', configFile];
    const note = ['--by', 'alice', '--reason', 'incident 42'];
    const raised = await tokenfuse([
      'fuses',
      'raise',
      'marketing-monthly',
      '--tokens',
      '100',
      ...note,
      ...target,
    ]);
    expect(raised.stderr).toBe('');
    expect(raised.code).toBe(0);
    expect(raised.stdout.split('\n')[0]).toBe(
      'raise "marketing-monthly": done; the fuse is now open',
    );
    expect(cells(raised.stdout.split('\n').slice(1).join('\n'))[1]!.slice(0, 4)).toEqual([
      'marketing-monthly',
      'month',
      'open',
      '30/130',
    ]);

    const reset = await tokenfuse([
      'fuses',
      'reset',
      'marketing-monthly',
      '--json',
      ...note,
      ...target,
    ]);
    expect(reset.code).toBe(0);
    const out = JSON.parse(reset.stdout);
    expect(out).toMatchObject({
      action: 'reset',
      by: 'alice',
      reason: 'incident 42',
      fuse: { state: 'closed', limit: { tokens: 130, usd: 1 }, raised: { tokens: 100 } },
    });

    // The app reads the journal at its next metrics collection: the CLI's actions are its
    // manual events too, with who and why, and counted.
    const m = await h!.scrape();
    const who = { cause: 'manual', by: 'alice', reason: 'incident 42', at: expect.any(Date) };
    // (The app's own trip may be reported after the subscription: its settlement is async.)
    expect(events.filter((e) => e.cause === 'manual')).toEqual([
      { budget: 'marketing-monthly', from: 'open', to: 'open', action: 'raise', ...who },
      { budget: 'marketing-monthly', from: 'open', to: 'closed', action: 'reset', ...who },
    ]);
    expect(sum(m, 'tokenfuse_manual_actions_total', { action: 'raise' })).toBe(1);
    expect(sum(m, 'tokenfuse_manual_actions_total', { action: 'reset' })).toBe(1);
    expect(sum(m, 'tokenfuse_fuse_state', { budget: 'marketing-monthly' })).toBe(0);

    // The app, on the same ledger, admits again against the raised limit.
    await marketing(() => openai.chat.completions.create(x(1)));
    expect(llm.requests).toHaveLength(3);
    const fuse = await h!.tokenfuse.fuses.read('marketing-monthly');
    expect([fuse.state, fuse.limit.tokens, fuse.spent.tokens]).toEqual(['closed', 130, 35]);

    const journal = await redis.client().xrange(`${prefix}manual`, '-', '+');
    expect(
      journal.map(([, fields]) => {
        const f = Object.fromEntries(
          fields.flatMap((v, i, a) => (i % 2 === 0 ? [[v, a[i + 1]]] : [])),
        );
        return [f.action, f.budget, f.by, f.reason, f.from, f.to];
      }),
    ).toEqual([
      ['raise', 'marketing-monthly', 'alice', 'incident 42', 'open', 'open'],
      ['reset', 'marketing-monthly', 'alice', 'incident 42', 'open', 'closed'],
    ]);
  });

  it('isolates a budget: the app is blocked with reason isolated, nothing is sent', async () => {
    await spentApp();
    const run = await tokenfuse([
      'fuses',
      'isolate',
      'all-daily',
      '--redis',
      redis.url,
      '--config',
      configFile,
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout.split('\n')[0]).toBe(
      'isolate "all-daily": done; the fuse is now open (isolated)',
    );
    const err = (await rejection(openai.chat.completions.create(x(1)))) as BudgetExceededError;
    expect([err.budget, err.reason]).toEqual(['all-daily', 'isolated']);
    expect(llm.requests).toHaveLength(2);
  });

  it('fails with one line and a non-zero exit: unknown budget, no amount, Redis unreachable', async () => {
    await spentApp();
    const unknown = await tokenfuse([
      'fuses',
      'reset',
      'nope',
      '--redis',
      redis.url,
      '--config',
      configFile,
    ]);
    expect(unknown).toEqual({
      code: 1,
      stdout: '',
      stderr: 'tokenfuse: no budget named "nope"; budgets are "marketing-monthly", "all-daily"\n',
    });

    const noAmount = await tokenfuse([
      'fuses',
      'raise',
      'marketing-monthly',
      '--redis',
      redis.url,
      '--config',
      configFile,
    ]);
    expect(noAmount).toEqual({
      code: 2,
      stdout: '',
      stderr: 'tokenfuse: raise needs an amount: --tokens N, --usd N or --requests N\n',
    });

    const port = await freePort();
    const down = await tokenfuse([
      'fuses',
      'list',
      '--redis',
      `redis://127.0.0.1:${port}`,
      '--config',
      configFile,
    ]);
    expect(down).toEqual({
      code: 1,
      stdout: '',
      stderr: `tokenfuse: cannot read budget "marketing-monthly, all-daily": the budget ledger at 127.0.0.1:${port} is unavailable (connection)\n`,
    });
  });

  it('a read-only ACL user (a viewer) can list, and is refused a reset naming the user and the permission', async () => {
    await spentApp();
    const viewer = await redis.addViewer(prefix);
    const list = await tokenfuse(['fuses', 'list', '--redis', viewer, '--config', configFile]);
    expect(list.stderr).toBe('');
    expect(list.code).toBe(0);
    expect(cells(list.stdout).map((r) => r.slice(0, 4))).toEqual([
      ['BUDGET', 'WINDOW', 'STATE', 'TOKENS'],
      ['marketing-monthly', 'month', 'open', '30/30'],
      ['all-daily', 'day', 'closed', '30'],
    ]);

    const reset = await tokenfuse([
      'fuses',
      'reset',
      'marketing-monthly',
      '--by',
      'mallory',
      '--redis',
      viewer,
      '--config',
      configFile,
    ]);
    expect(reset).toEqual({
      code: 1,
      stdout: '',
      stderr:
        `tokenfuse: Redis user "viewer" may not reset budget "marketing-monthly" at 127.0.0.1:${redis.port}: ` +
        `it needs write permission on the keys under "${prefix}" ` +
        "(Redis: The user executing the script can't run this command or subcommand)\n",
    });
    // Nothing changed: still open, and no journal entry.
    expect((await h!.tokenfuse.fuses.read('marketing-monthly')).state).toBe('open');
    expect(await redis.client().xlen(`${prefix}manual`)).toBe(0);
  });

  it('prints --help for every subcommand', async () => {
    for (const sub of ['list', 'show', 'reset', 'isolate', 'raise']) {
      const run = await tokenfuse(['fuses', sub, '--help']);
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(new RegExp(`^Usage: tokenfuse fuses ${sub} \\[options\\]`));
      expect(run.stdout).toContain('--redis <url>');
      expect(run.stdout).toContain('--admin <url>');
    }
  });
});

describe('tokenfuse fuses against a running process (its admin endpoint, memory ledger)', () => {
  const TOKEN = 'operator-token-0123456789';

  /** An app with the memory ledger and its admin endpoint, spent as {@link spentApp}. */
  async function adminApp(): Promise<{ admin: string; events: StateChangeEvent[] }> {
    const port = await freePort();
    h = await createHarness({
      providers: [{ id: 'local-relay', hosts: ['127.0.0.1'], pricesFrom: 'openai' }],
      budgets: BUDGETS,
      admin: { port, token: TOKEN },
    });
    const events: StateChangeEvent[] = [];
    h.tokenfuse.fuses.onStateChange((e) => events.push(e));
    openai = new h.OpenAI({ baseURL: `${llm.url}/v1`, apiKey: 'sk', maxRetries: 0 });
    await marketing(() => openai.chat.completions.create(x(10)));
    await marketing(() => openai.chat.completions.create(x(12)));
    events.length = 0;
    return { admin: `http://127.0.0.1:${port}`, events };
  }

  it('lists, resets and raises through the endpoint: a manual event with who and why, counted on /metrics', async () => {
    const { admin, events } = await adminApp();
    const list = await tokenfuse(['fuses', 'list', '--admin', admin, '--token', TOKEN]);
    expect(list.stderr).toBe('');
    expect(cells(list.stdout).map((r) => r.slice(0, 4))).toEqual([
      ['BUDGET', 'WINDOW', 'STATE', 'TOKENS'],
      ['marketing-monthly', 'month', 'open', '30/30'],
      ['all-daily', 'day', 'closed', '30'],
    ]);

    const reset = await tokenfuse(
      [
        'fuses',
        'reset',
        'marketing-monthly',
        '--admin',
        admin,
        '--by',
        'bob',
        '--reason',
        'false alarm',
      ],
      { TOKENFUSE_ADMIN_TOKEN: TOKEN },
    );
    expect(reset.stderr).toBe('');
    expect(reset.code).toBe(0);
    expect(reset.stdout.split('\n')[0]).toBe(
      'reset "marketing-monthly": done; the fuse is now closed',
    );
    expect(events).toEqual([
      {
        budget: 'marketing-monthly',
        from: 'open',
        to: 'closed',
        cause: 'manual',
        action: 'reset',
        by: 'bob',
        reason: 'false alarm',
        at: expect.any(Date),
      },
    ]);

    const raise = await tokenfuse([
      'fuses',
      'raise',
      'marketing-monthly',
      '--usd',
      '2',
      '--tokens',
      '50',
      '--json',
      '--admin',
      admin,
      '--token',
      TOKEN,
      '--by',
      'bob',
    ]);
    expect(raise.code).toBe(0);
    expect(JSON.parse(raise.stdout).fuse).toMatchObject({
      state: 'closed',
      limit: { tokens: 80, usd: 3 },
      raised: { tokens: 50, usd: 2, requests: 0 },
    });
    expect(events[1]).toMatchObject({
      budget: 'marketing-monthly',
      from: 'closed',
      to: 'closed',
      cause: 'manual',
      action: 'raise',
      by: 'bob',
    });
    // The raised limit holds in the process: the next call is admitted.
    await marketing(() => openai.chat.completions.create(x(1)));
    expect(llm.requests).toHaveLength(3);

    const m = await h!.scrape();
    expect(sum(m, 'tokenfuse_manual_actions_total', { action: 'reset' })).toBe(1);
    expect(sum(m, 'tokenfuse_manual_actions_total', { action: 'raise' })).toBe(1);
    expect(sum(m, 'tokenfuse_manual_actions_total', { action: 'isolate' })).toBe(0);
    expect(sum(m, 'tokenfuse_budget_limit', { budget: 'marketing-monthly', unit: 'tokens' })).toBe(
      80,
    );
  });

  it('refuses a request without the right token, and nothing changes', async () => {
    const { admin, events } = await adminApp();
    const run = await tokenfuse([
      'fuses',
      'isolate',
      'all-daily',
      '--admin',
      admin,
      '--token',
      'not-the-token-at-all',
    ]);
    expect(run).toEqual({
      code: 1,
      stdout: '',
      stderr: 'tokenfuse: the admin endpoint needs its token (Authorization: Bearer …)\n',
    });
    expect(events).toEqual([]);
    const noToken = await tokenfuse(['fuses', 'list', '--admin', admin]);
    expect(noToken).toMatchObject({
      code: 2,
      stderr: 'tokenfuse: --admin needs --token (or TOKENFUSE_ADMIN_TOKEN)\n',
    });
  });

  it('is loopback only: another bind address is a config error', () => {
    let err: unknown;
    try {
      resolveConfig({ admin: { port: 9465, host: '0.0.0.0', token: TOKEN } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain(
      'admin.host: "0.0.0.0" is not a loopback address: the admin endpoint changes fuses, so it binds only 127.0.0.1, ::1 or localhost',
    );
  });
});
