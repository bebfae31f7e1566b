// Every error a user can meet, triggered through the public API: each is a
// TokenfuseError (recognised by its guard, not by instanceof), with a stable code,
// its own name and a message naming the values behind it.
import { createServer } from 'node:net';
import type OpenAIType from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  createTokenfuse,
  getRuntime,
  isTokenfuseError,
  type TokenfuseErrorCode,
  withAttribution,
} from '../src/index.js';
import { PrometheusRestorer } from '../src/restore/prometheus-restore.js';
import type { TokenfuseOptions } from '../src/types.js';
import { rejection, x } from './helpers/budget-calls.js';
import { LOCAL_RELAY, useFakeServerHarness } from './helpers/fake-server-harness.js';
import type { Harness } from './helpers/harness.js';
import { RedisServer } from './helpers/redis.js';

const { harness, client } = useFakeServerHarness();
let redis: RedisServer;
let h: Harness | undefined;

beforeAll(async () => {
  redis = await RedisServer.start();
});
afterAll(async () => {
  await redis?.stop();
});
afterEach(() => {
  vi.useRealTimers();
});

const budget = { name: 'b', window: 'hour' as const, limit: { requests: 1 } };

async function setup(options: TokenfuseOptions): Promise<OpenAIType> {
  h = await harness({ providers: [LOCAL_RELAY], ...options });
  return client(h);
}

/** What a synchronous throw or a rejection gave. */
async function errorOf(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected an error');
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A Redis-backed board whose Redis has gone away (noticed by the client). */
let redisKilled = false;
let prefixes = 0;

async function redisGone(): Promise<OpenAIType> {
  if (redisKilled) await redis.restart();
  const openai = await setup({
    budgets: [{ ...budget, limit: { requests: 1000 } }],
    ledger: {
      store: 'redis',
      url: redis.url,
      keyPrefix: `tf-errors-${process.pid}-${++prefixes}:`,
      // Long enough that the first call, with Redis up, is never decided by the timeout on a
      // loaded machine (it once was at 200 ms); with Redis gone the call waits this long.
      timeoutMs: 2000,
      onFailure: 'closed',
    },
  });
  await openai.chat.completions.create(x(1));
  await redis.kill();
  redisKilled = true;
  const client = (h!.tokenfuse.fuses as unknown as { store: { redis: { status: string } } }).store
    .redis;
  await vi.waitFor(() => expect(client.status).not.toBe('ready'), { timeout: 5000 });
  return openai;
}

interface Case {
  code: TokenfuseErrorCode;
  /** The public API that throws it. */
  via: string;
  name: string;
  trigger: () => Promise<unknown>;
  message: string | (() => string);
}

const cases: Case[] = [
  {
    code: 'config_invalid',
    via: 'createTokenfuse({ metrics: { port: "x" } })',
    name: 'ConfigError',
    trigger: () => errorOf(() => createTokenfuse({ metrics: { port: 'x' as never } })),
    message:
      'invalid tokenfuse configuration in code:\n  - metrics.port: expected an integer 1..65535, got "x" (string)',
  },
  {
    code: 'not_running',
    via: 'getRuntime() before start()',
    name: 'NotRunningError',
    trigger: () => errorOf(() => getRuntime()),
    message:
      'getRuntime(): tokenfuse is not running: start the app with `node --import tokenfuse/register app.mjs` (ESM) or `node --require tokenfuse/register app.cjs` (CommonJS), or call start() first',
  },
  {
    code: 'invalid_tags',
    via: 'withAttribution({ team: "x" })',
    name: 'InvalidTagsError',
    trigger: () => errorOf(() => withAttribution({ team: 'x' } as never, () => {})),
    message:
      "withAttribution(): unknown tag 'team'; tags are 'department', 'project', 'environment', 'user', 'feature', 'customer'",
  },
  ...(['get', 'read', 'isolate', 'reset'] as const).map(
    (method): Case => ({
      code: 'unknown_budget',
      via: `fuses.${method}('nope')`,
      name: 'UnknownBudgetError',
      trigger: async () => {
        await setup({ budgets: [budget] });
        return errorOf(() => h!.tokenfuse.fuses[method]('nope'));
      },
      message: 'tokenfuse: no budget named "nope"; budgets are "b"',
    }),
  ),
  {
    code: 'restore_not_configured',
    via: 'fuses.restore() without ledger.restore',
    name: 'RestoreNotConfiguredError',
    trigger: async () => {
      await setup({ budgets: [budget] });
      return errorOf(() => h!.tokenfuse.fuses.restore());
    },
    message:
      'tokenfuse: fuses.restore() needs ledger.restore (the URL of a Prometheus that scrapes the fleet) with the in-memory ledger',
  },
  {
    code: 'restore_failed',
    via: 'the restorer, Prometheus unreachable',
    name: 'RestoreError',
    // Reported by fuses.restore() as { reason, message } per budget, never thrown to
    // the app: here from the restorer itself.
    trigger: async () => {
      await setup({ budgets: [budget] });
      const restorer = new PrometheusRestorer(`http://127.0.0.1:${await closedPort()}`);
      const b = h!.tokenfuse.fuses.budgetList()[0]!;
      return errorOf(() => restorer.fleetSpend(b, Date.now(), AbortSignal.timeout(5000)));
    },
    message: 'cannot reach Prometheus (ECONNREFUSED)',
  },
  {
    code: 'budget_exceeded',
    via: 'an SDK call over a requests limit',
    name: 'BudgetExceededError',
    trigger: async () => {
      vi.useFakeTimers({ toFake: ['Date'], now: new Date('2026-03-02T10:40:00Z') });
      const openai = await setup({ budgets: [budget] });
      await openai.chat.completions.create(x(1));
      return rejection(openai.chat.completions.create(x(1)));
    },
    message:
      'tokenfuse: budget "b" blocked this call before it was sent: 1 of 1 requests spent this hour; retry after 1200s',
  },
  {
    code: 'model_not_allowed',
    via: 'an SDK call for a model a policy denies',
    name: 'ModelNotAllowedError',
    trigger: async () => {
      const openai = await setup({
        policies: [{ name: 'p', match: {}, allowModels: ['gpt-4.1-mini'] }],
      });
      return rejection(openai.chat.completions.create(x(1)));
    },
    message:
      'tokenfuse: policy "p" does not allow model "gpt-4.1"; allowed: gpt-4.1-mini; the call was not sent',
  },
  {
    code: 'invalid_raise',
    via: 'fuses.raise() of a rolling window',
    name: 'InvalidRaiseError',
    trigger: async () => {
      await setup({ budgets: [{ ...budget, window: { rolling: '1h' } }] });
      return errorOf(() => h!.tokenfuse.fuses.raise('b', { requests: 1 }));
    },
    message:
      'tokenfuse: cannot raise budget "b": its window is rolling (rolling_1h) and has no end to raise it until; change its limit instead',
  },
  {
    code: 'ledger_permission_denied',
    via: 'fuses.reset() as a read-only Redis ACL user',
    name: 'LedgerPermissionError',
    trigger: async () => {
      const url = await redis.addViewer('errs:');
      await setup({ budgets: [budget], ledger: { store: 'redis', url, keyPrefix: 'errs:' } });
      return errorOf(() => h!.tokenfuse.fuses.reset('b'));
    },
    message: () =>
      `tokenfuse: Redis user "viewer" may not reset budget "b" at 127.0.0.1:${redis.port}: it needs write permission on the keys under "errs:" (Redis: The user executing the script can't run this command or subcommand)`,
  },
  {
    code: 'ledger_unavailable',
    via: 'an SDK call, Redis gone, onFailure "closed"',
    name: 'LedgerUnavailableError',
    trigger: async () => {
      const openai = await redisGone();
      return rejection(openai.chat.completions.create(x(1)));
    },
    message: () =>
      `tokenfuse: the budget ledger at 127.0.0.1:${redis.port} cannot be reached, so budget "b" could not be checked and this call was not sent (ledger.onFailure: closed)`,
  },
  {
    code: 'ledger_control_failed',
    via: 'fuses.isolate(), Redis gone',
    name: 'LedgerControlError',
    trigger: async () => {
      await redisGone();
      return errorOf(() => h!.tokenfuse.fuses.isolate('b'));
    },
    message: () =>
      `tokenfuse: cannot isolate budget "b": the budget ledger at 127.0.0.1:${redis.port} is unavailable (connection)`,
  },
];

describe('every error tokenfuse throws is a TokenfuseError with a code', () => {
  it.each(cases)('$code ($name) from $via', async ({ code, name, trigger, message }) => {
    const err = (await trigger()) as { code: string; name: string; message: string };
    expect(isTokenfuseError(err)).toBe(true);
    expect([err.code, err.name]).toEqual([code, name]);
    expect(err.message).toBe(typeof message === 'function' ? message() : message);
  });

  it('covers every code', () => {
    const codes = new Set(cases.map((c) => c.code));
    expect([...codes].sort()).toEqual([
      'budget_exceeded',
      'config_invalid',
      'invalid_raise',
      'invalid_tags',
      'ledger_control_failed',
      'ledger_permission_denied',
      'ledger_unavailable',
      'model_not_allowed',
      'not_running',
      'restore_failed',
      'restore_not_configured',
      'unknown_budget',
    ] satisfies TokenfuseErrorCode[]);
  });

  it('is recognised without instanceof: by its marker, as a second copy of tokenfuse would see it', () => {
    const err = errorOfSync(() => withAttribution({ team: 'x' } as never, () => {}));
    // A plain object with the fields a copy's error has: the registry symbol is shared.
    const copy = Object.assign(Object.create(null), {
      [Symbol.for('tokenfuse.error')]: true,
      code: (err as { code: string }).code,
    });
    expect(isTokenfuseError(copy)).toBe(true);
    expect(isTokenfuseError(new TypeError('x'))).toBe(false);
    expect(isTokenfuseError({ code: 'invalid_tags' })).toBe(false);
  });
});

function errorOfSync(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected an error');
}
