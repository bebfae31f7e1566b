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
// they move with the load. Each configuration runs twice (A and A', alternating
// order between configurations): the difference between the two is the noise.
//
// Recovery after a stall: after each measured run the processes keep the load on
// while Redis is paused (CLIENT PAUSE BENCH_STALL_MS ALL, 3000 by default, longer
// than the workers' timeoutMs so that they fall back and queue a backlog); `recovery ms` is, per process,
// from Redis answering again (the bench's own PING returns) to the store's "is back"
// log line (it leaves local fallback); the worst process is shown. The target is
// under 1000 ms whatever the backlog. `-` when no process fell back (leases: calls
// admit from the leased room, only the background writes wait).
//
// BENCH_DEBUG=1 prints each phase. BENCH_LEDGER=leases (or per-call) runs only that
// ledger; BENCH_BUDGETS=1 (or 10) only that budget count.
import { execFileSync, fork, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { DiagLogLevel, diag } from '@opentelemetry/api';
import { Redis } from 'ioredis';
import { createTokenfuse } from '../dist/index.js';

const PROCESSES = Number(process.env.BENCH_PROCESSES ?? 4);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const STALL_MS = Number(process.env.BENCH_STALL_MS ?? 3000);
// The ledger's timeoutMs in the workers: generous, so a loaded host is not taken for a
// Redis that is away; the stall is longer, so the workers fall back and build a backlog.
const TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_MS ?? 2000);

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
      timeoutMs: TIMEOUT_MS,
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
  // The stall: keep calling while Redis is paused and after it answers again; note when
  // this store fell back and when it said it is back (its diag lines, as an operator sees).
  let fellBack;
  let back;
  diag.setLogger(
    {
      verbose() {},
      debug() {},
      info: (m) => {
        if (/budget ledger .* is back/.test(m)) back ??= Date.now();
      },
      warn: (m) => {
        if (/budget ledger .* failed/.test(m)) fellBack ??= Date.now();
      },
      error() {},
    },
    { logLevel: DiagLogLevel.INFO, suppressOverrideMessage: true },
  );
  let stop = false;
  process.once('message', () => {
    stop = true;
  });
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      let n = 0;
      while (!stop) {
        const r = await tf.fuses.admit(call);
        if (r.admitted) tf.fuses.settle(r.admitted, { tokens: 120, usd: 0 });
        if (++n % 64 === 0) await new Promise((r) => setImmediate(r));
      }
    }),
  );
  process.send({ fellBack, back });
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
  const pinger = new Redis(url);
  const rows = [];
  const ledgers = [false, true].filter(
    (l) =>
      process.env.BENCH_LEDGER === undefined ||
      process.env.BENCH_LEDGER === (l ? 'leases' : 'per-call'),
  );
  const counts = [1, 10].filter(
    (b) => process.env.BENCH_BUDGETS === undefined || Number(process.env.BENCH_BUDGETS) === b,
  );
  let order = 0;
  for (const budgets of counts) {
    for (const leases of ledgers) {
      const runs = {};
      // A and A' (the control), in alternating order.
      for (const arm of order++ % 2 === 0 ? ['A', "A'"] : ["A'", 'A']) {
        const prefix = `bench-${process.pid}-${budgets}-${leases ? 'l' : 'p'}-${arm.length}:`;
        runs[arm] = await fleetRun({ url, admin, pinger, prefix, budgets, leases });
      }
      const a = runs.A;
      const control = runs["A'"];
      rows.push({
        budgets,
        ledger: leases ? 'leases' : 'per-call script',
        'admissions/s': Math.round(a.admitted / SECONDS),
        "A' admissions/s": Math.round(control.admitted / SECONDS),
        'Redis commands/admission': (a.stats.total / a.admitted).toFixed(2),
        'scripts/admission': (a.stats.scripts / a.admitted).toFixed(4),
        'Redis µs/admission': (a.stats.usec / a.admitted).toFixed(1),
        'recovery ms': a.recovery,
        "A' recovery ms": control.recovery,
        uptime: execFileSync('uptime', { encoding: 'utf8' })
          .trim()
          .replace(/^.*load/, 'load'),
      });
    }
  }
  console.log(
    `${PROCESSES} processes × ${CONCURRENCY} concurrent loops, ${SECONDS} s each, one Redis, ${new Date().toISOString()}`,
  );
  console.log(`recovery: after CLIENT PAUSE ${STALL_MS} ALL under the same load; target < 1000 ms`);
  console.table(rows);
  admin.disconnect();
  pinger.disconnect();
  server?.kill();
}

/** One measured run of PROCESSES workers, then the stall under load. */
async function fleetRun({ url, admin, pinger, prefix, budgets, leases }) {
  const children = Array.from({ length: PROCESSES }, () =>
    fork(new URL(import.meta.url).pathname, [
      'worker',
      JSON.stringify({ url, prefix, budgets, leases }),
    ]),
  );
  // Listened for from the start: a worker may exit before its last message is handled here.
  const exited = children.map((c) => new Promise((r) => c.once('exit', r)));
  const next = (c) => new Promise((r) => c.once('message', r));
  const log = (m) => process.env.BENCH_DEBUG && console.error(new Date().toISOString(), m);
  await Promise.all(children.map(next));
  log('ready');
  await admin.config('RESETSTAT');
  const at = Date.now() + 200;
  for (const c of children) c.send({ at });
  const counts = await Promise.all(children.map((c) => next(c).then((m) => m.admitted)));
  const stats = parseCommandStats(await admin.info('commandstats'));
  log('measured');
  // The stall, under the load the workers keep on: Redis answers again when PING returns.
  await new Promise((r) => setTimeout(r, 300));
  await admin.call('CLIENT', 'PAUSE', String(STALL_MS), 'ALL');
  await pinger.ping();
  const answered = Date.now();
  log('answered');
  await new Promise((r) => setTimeout(r, 3000));
  const replies = children.map(next);
  for (const c of children) c.send({ stop: true });
  const marks = await Promise.all(replies);
  log('marks');
  await Promise.all(exited);
  const fell = marks.filter((m) => m.fellBack !== undefined);
  const recovery =
    fell.length === 0
      ? '-'
      : fell.some((m) => m.back === undefined)
        ? `not back within 3 s (${fell.length} fell back)`
        : `${Math.max(...fell.map((m) => Math.max(0, m.back - answered)))} (${fell.length}/${PROCESSES} fell back)`;
  return { admitted: counts.reduce((x, y) => x + y, 0), stats, recovery };
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
