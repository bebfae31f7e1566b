// The Redis ledger under a fleet's load: admissions per second with 4 processes
// sharing one Redis, and Redis commands per admission (INFO commandstats counts
// the commands scripts run too), per-call scripts vs leases, 1 and 10 budgets.
//
//   npm run build && node bench/redis-fleet.mjs
//
// Each process runs CONCURRENCY loops of admit + settle through the public
// `fuses` API of createTokenfuse (no SDK, no HTTP: the ledger alone) for SECONDS.
// A redis-server is started on a free port (REDIS_SERVER names its binary), or
// REDIS_URL is used. `uptime` is printed beside the figures: on a shared machine
// they move with the load.
import { execFileSync, fork, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { createTokenfuse } from '../dist/index.js';

const PROCESSES = Number(process.env.BENCH_PROCESSES ?? 4);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);

if (process.argv[2] === 'worker') await worker(JSON.parse(process.argv[3]));
else await main();

async function worker({ url, prefix, budgets, leases }) {
  const tf = createTokenfuse({
    metrics: { exporter: 'none' },
    budgets: Array.from({ length: budgets }, (_, i) => ({
      name: `bench-${i}`,
      window: 'day',
      limit: { tokens: 1e15 },
    })),
    ledger: {
      store: 'redis',
      url,
      keyPrefix: prefix,
      timeoutMs: 2000,
      ...(leases ? { leases: true } : {}),
    },
  });
  const call = {
    tags: {},
    provider: 'openai',
    model: 'gpt-4.1-mini',
    inputUpperBound: 100,
    exactInput: () => 100,
    inputUnseen: false,
    maxOutput: { kind: 'set', tokens: 50 },
  };
  // Warm-up: connection, scripts, first leases.
  for (let i = 0; i < 50; i++) {
    const r = await tf.fuses.admit(call);
    tf.fuses.settle(r.admitted, { tokens: 120, usd: 0 });
  }
  process.send({ ready: true });
  const start = await new Promise((resolve) => process.once('message', resolve));
  let admitted = 0;
  const until = start.at + SECONDS * 1000;
  while (Date.now() < start.at) await new Promise((r) => setTimeout(r, 1));
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (Date.now() < until) {
        const r = await tf.fuses.admit(call);
        if (!r.admitted) throw new Error('blocked');
        admitted++;
        tf.fuses.settle(r.admitted, { tokens: 120, usd: 0 });
        // Let settlements and timers run, as an app's other work would.
        if (admitted % 64 === 0) await new Promise((r) => setImmediate(r));
      }
    }),
  );
  process.send({ admitted });
  await tf.fuses.close();
  process.exit(0);
}

async function main() {
  let server;
  let url = process.env.REDIS_URL;
  if (url === undefined) {
    const port = await freePort();
    server = spawn(
      process.env.REDIS_SERVER ?? 'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    url = `redis://127.0.0.1:${port}`;
    await new Promise((r) => setTimeout(r, 300));
  }
  const admin = new Redis(url);
  const rows = [];
  for (const budgets of [1, 10]) {
    for (const leases of [false, true]) {
      const prefix = `bench-${process.pid}-${budgets}-${leases ? 'l' : 'p'}:`;
      const children = Array.from({ length: PROCESSES }, () =>
        fork(new URL(import.meta.url).pathname, [
          'worker',
          JSON.stringify({ url, prefix, budgets, leases }),
        ]),
      );
      await Promise.all(children.map((c) => new Promise((r) => c.once('message', r))));
      await admin.config('RESETSTAT');
      const at = Date.now() + 200;
      for (const c of children) c.send({ at });
      const counts = await Promise.all(
        children.map((c) => new Promise((r) => c.once('message', (m) => r(m.admitted)))),
      );
      const stats = parseCommandStats(await admin.info('commandstats'));
      await Promise.all(children.map((c) => new Promise((r) => c.once('exit', r))));
      const admitted = counts.reduce((a, b) => a + b, 0);
      rows.push({
        budgets,
        ledger: leases ? 'leases' : 'per-call script',
        'admissions/s': Math.round(admitted / SECONDS),
        'Redis commands/admission': (stats.total / admitted).toFixed(2),
        'scripts/admission': (stats.scripts / admitted).toFixed(4),
        'Redis µs/admission': (stats.usec / admitted).toFixed(1),
        uptime: execFileSync('uptime', { encoding: 'utf8' })
          .trim()
          .replace(/^.*load/, 'load'),
      });
    }
  }
  console.log(
    `${PROCESSES} processes × ${CONCURRENCY} concurrent loops, ${SECONDS} s each, one Redis, ${new Date().toISOString()}`,
  );
  console.table(rows);
  admin.disconnect();
  server?.kill();
}

function parseCommandStats(info) {
  let total = 0;
  let scripts = 0;
  let usec = 0;
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
    const [, name, calls, us] = m;
    if (name === 'info' || name === 'config') continue;
    total += Number(calls);
    if (name === 'evalsha' || name === 'eval') {
      scripts += Number(calls);
      usec += Number(us);
    }
  }
  return { total, scripts, usec };
}

function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}
