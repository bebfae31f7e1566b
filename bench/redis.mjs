// The Redis ledger, against a real redis-server the bench starts on a free loopback port
// (no persistence):
//   - added per call: tokenfuse with one budget in the Redis ledger against the same budget
//     in memory, alternating blocks, wall time (the cost is mostly waiting for Redis);
//   - Redis commands and Redis CPU per call (admission and settle), from `INFO commandstats`
//     and `INFO cpu` before and after a run of calls, with 1 and 10 matching budgets;
//   - admissions/s with 4 processes (bench/redis-worker.mjs) calling as fast as they can,
//     and the Redis CPU they used, from which the ceiling of one Redis core follows.
import { execFile, fork, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { call } from './arms.mjs';

const run = promisify(execFile);

/** Budgets that every call matches, far above what the bench spends. */
export function budgets(n) {
  return Array.from({ length: n }, (_, i) => ({
    name: `bench-${i}`,
    window: 'day',
    limit: { usd: 1e9, tokens: 1e15 },
  }));
}

/**
 * The Redis ledger as the bench configures it: `timeoutMs` raised from 50 ms to 2 s, so that a
 * loaded bench machine measures the steady path, not the local fallback a slow reply starts.
 */
export function ledger(url) {
  return { store: 'redis', url, timeoutMs: 2000 };
}

async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function startRedis() {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  const cli = (...args) => run('redis-cli', ['-p', String(port), ...args]).then((r) => r.stdout);
  for (let i = 0; ; i++) {
    try {
      if ((await cli('PING')).trim() === 'PONG') break;
    } catch {}
    if (i > 100) throw new Error('bench: redis-server did not answer within 10 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url: `redis://127.0.0.1:${port}`, cli, stop: () => child.kill() };
}

/** Calls per command and CPU seconds of the Redis server, from INFO. */
async function redisStats(cli) {
  const text = await cli('INFO', 'all');
  const commands = {};
  for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) commands[m[1]] = Number(m[2]);
  const field = (name) => Number(text.match(new RegExp(`^${name}:([\\d.]+)`, 'm'))?.[1] ?? 0);
  return { commands, cpu: field('used_cpu_user') + field('used_cpu_sys') };
}

/** Commands and CPU µs per call over `n` calls, the bench's own INFO/CONFIG left out. */
async function perCall(cli, n, callOnce) {
  await cli('CONFIG', 'RESETSTAT');
  const before = await redisStats(cli);
  for (let i = 0; i < n; i++) await callOnce();
  // Settles are written after the call returns: give them a moment to reach Redis.
  await new Promise((r) => setTimeout(r, 200));
  const after = await redisStats(cli);
  let commands = 0;
  const byName = [];
  for (const [name, calls] of Object.entries(after.commands)) {
    if (['info', 'config', 'ping'].includes(name)) continue;
    const d = calls - (before.commands[name] ?? 0);
    commands += d;
    if (d > 0) byName.push(`${name} ${(d / n).toFixed(1)}`);
  }
  return { commands: commands / n, cpu: ((after.cpu - before.cpu) * 1e6) / n, byName };
}

/** Four processes calling through one Redis, `seconds` long: admissions/s and Redis CPU. */
async function fleet(redis, { processes, seconds, budgetCount, log }) {
  const worker = new URL('redis-worker.mjs', import.meta.url).pathname;
  const children = Array.from({ length: processes }, () =>
    fork(worker, [], {
      env: { ...process.env, BENCH_REDIS_URL: redis.url, BENCH_REDIS_BUDGETS: String(budgetCount) },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    }),
  );
  const message = (child, type) =>
    new Promise((resolve, reject) => {
      child.on('message', (m) => m.type === type && resolve(m));
      child.on('exit', (code) => reject(new Error(`bench: redis worker exited ${code}`)));
    });
  await Promise.all(children.map((c) => message(c, 'ready')));
  const before = await redisStats(redis.cli);
  const t0 = performance.now();
  const done = children.map((c) => message(c, 'done'));
  for (const c of children) c.send({ type: 'go', seconds });
  const results = await Promise.all(done);
  const wall = (performance.now() - t0) / 1000;
  const after = await redisStats(redis.cli);
  for (const c of children) c.kill();
  const calls = results.reduce((s, r) => s + r.calls, 0);
  const busy = (after.cpu - before.cpu) / wall;
  log(
    `  ${processes} processes: ${calls} calls in ${wall.toFixed(1)} s, Redis CPU ${(busy * 100).toFixed(0)}%`,
  );
  return { rate: calls / wall, busy };
}

/** The Redis rows of the table. */
export async function redisBench({ env, log, measure, tokenfuseArm, target }) {
  const redis = await startRedis();
  const rows = [];
  try {
    const memory = await tokenfuseArm({ budgets: budgets(1) }, 'tokenfuse, 1 budget in memory');
    const shared = await tokenfuseArm(
      { budgets: budgets(1), ledger: ledger(redis.url) },
      'tokenfuse, 1 budget in the Redis ledger',
    );
    log(`redis: ${redis.url}; ${env.redisRounds} rounds of ${env.redisCalls} calls`);
    const f = await measure({
      ...env,
      arms: [memory, { ...memory, name: 'memory (B)' }, shared],
      rounds: env.redisRounds,
      calls: env.redisCalls,
      streams: 0,
      warmup: Math.min(env.warmup, 1000),
      clock: 'wall',
      log,
    });
    for (const { arm, added } of f.call.added)
      rows.push({
        figure: 'Redis ledger: added per call vs in memory, µs wall',
        subject: arm.name,
        value: added,
        control: f.call.control,
        note: 'Redis on loopback, same machine',
      });
    for (const count of [1, 10]) {
      const arm =
        count === 1
          ? shared
          : await tokenfuseArm(
              { budgets: budgets(count), ledger: ledger(redis.url) },
              `tokenfuse, ${count} budgets in the Redis ledger`,
            );
      shared.set(false);
      arm.set(true);
      for (let i = 0; i < 200; i++) await call(arm.client);
      const x = await perCall(redis.cli, 2000, () => call(arm.client));
      arm.set(false);
      const subject = `tokenfuse, ${count} matching budget${count > 1 ? 's' : ''}`;
      rows.push({
        figure: 'Redis commands per call (admission + settle)',
        subject,
        value: x.commands,
        note: x.byName.join(', '),
      });
      rows.push({
        figure: 'Redis CPU per call, µs',
        subject,
        value: x.cpu,
        note: `ceiling ≈ ${Math.round(1e6 / x.cpu)} calls/s per Redis core`,
      });
    }
    const fleetRun = await fleet(redis, {
      processes: 4,
      seconds: env.redisSeconds,
      budgetCount: 1,
      log,
    });
    rows.push({
      figure: 'admissions/s, 4 processes, one Redis',
      subject: 'tokenfuse, 1 matching budget',
      value: fleetRun.rate,
      target: target.admissions,
      kind: 'min',
      note: `Redis CPU ${(fleetRun.busy * 100).toFixed(0)}% of a core meanwhile; the 4 clients share the machine's cores`,
    });
  } finally {
    redis.stop();
  }
  return rows;
}
