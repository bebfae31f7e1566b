// Cost of matching in-memory budgets per call: admission and settlement on the fuse board.
//
//   npm run build && cd bench && npx node --expose-gc budgets.mjs
//   BUDGETS_SIZES=1,10,100 BUDGETS_BLOCKS=300 npx node budgets.mjs
//   BUDGETS_CASES=plain,per-value,near npx node budgets.mjs
//   BUDGETS_CLOCK=wall npx node budgets.mjs   # wall clock instead of this process's CPU time
//
// The per-call work budgets add is the board's (`admit` before the call, `settle` after):
// everything else the instrumentation does per call is the same with 0 or 100 budgets. So
// this drives the board exactly as the instrumentation does (a call description with a
// length-bounded estimate and max_tokens, then the settlement of its usage), for boards
// with N budgets that all match the call. Blocks alternate between the 0-budget board and
// the N-budget one, order alternating, after a warm-up; each block pair is one sample of the
// added µs per call. The A-vs-A control runs two 0-budget boards the same way, with the same
// calls as the case: its spread is the noise floor of the case's figures. The clock is the
// process's CPU time by default, as `run.mjs` times (a neighbour taking the core away
// stretches wall time, not the CPU this process used); the load average is printed before
// and after.
//
// Cases:
// - plain: N budgets far from their limits (half by department, half by model glob;
//   hour, day and rolling windows).
// - per-value: N budgets `per: user`; calls come from 100 users in turn, so each call
//   matches one value of each of the N budgets (100 values per budget in all).
// - near: N budgets already at 80–90% of their token limit when the blocks start; the
//   run's own calls take each about 5 points further, so budgets cross their 0.9
//   threshold while measured (the threshold events of the run are counted and printed).
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { createTokenfuse } from '../dist/index.js';

const SIZES = (process.env.BUDGETS_SIZES ?? '1,10,100').split(',').map(Number);
const CASES = (process.env.BUDGETS_CASES ?? 'plain,per-value,near').split(',');
const BLOCKS = Number(process.env.BUDGETS_BLOCKS ?? 300);
const CALLS = Number(process.env.BUDGETS_CALLS ?? 200);
const WARMUP = 30;
const WALL = process.env.BUDGETS_CLOCK === 'wall';
const USERS = 100;

/** Microseconds, on the chosen clock. */
function clock() {
  if (WALL) return performance.now() * 1000;
  const c = process.cpuUsage();
  return c.user + c.system;
}

function uptime() {
  try {
    return execFileSync('uptime', { encoding: 'utf8' }).trim();
  } catch {
    return 'uptime: not available';
  }
}

const tags = { department: 'search', project: 'rag', environment: 'prod' };
const request = {
  provider: 'openai',
  model: 'gpt-4.1-mini',
  inputUpperBound: 60,
  exactInput: () => 20,
  inputUnseen: false,
  maxOutput: { kind: 'set', tokens: 16 },
};
const usage = { tokens: 30, usd: 0.00002, outputTokens: 10 };
/** Tokens one board's calls settle over the whole run (warm-up and measured blocks). */
const RUN_TOKENS = (WARMUP + BLOCKS) * CALLS * usage.tokens;

/** Each case: its calls (one block cycles through them) and its boards of N budgets. */
const cases = {
  plain: {
    calls: [{ tags, ...request }],
    budgets: (n) =>
      Array.from({ length: n }, (_, i) => ({
        name: `b${i}`,
        // Every budget matches the call; half by department, half by model glob.
        match: i % 2 === 0 ? { department: 'search' } : { model: 'gpt-4.1*' },
        window: i % 3 === 0 ? 'hour' : i % 3 === 1 ? 'day' : { rolling: '10m' },
        limit: { tokens: 1e15, usd: 1e12 },
      })),
  },
  'per-value': {
    calls: Array.from({ length: USERS }, (_, u) => ({
      tags: { ...tags, user: `user-${u}` },
      ...request,
    })),
    budgets: (n) =>
      Array.from({ length: n }, (_, i) => ({
        name: `pv${i}`,
        per: 'user',
        match: i % 2 === 0 ? { department: 'search' } : { model: 'gpt-4.1*' },
        window: i % 3 === 0 ? 'hour' : i % 3 === 1 ? 'day' : { rolling: '10m' },
        limit: { tokens: 1e15, usd: 1e12 },
      })),
  },
  near: {
    calls: [{ tags, ...request }],
    // Budget i starts at u = 80–90% of its limit (a spend of PREFILL, observed before the
    // blocks); the run adds RUN_TOKENS, about 5% of the limit. Calendar windows only: a
    // rolling window would let the prefill fall out of it during a long run.
    budgets: (n) =>
      Array.from({ length: n }, (_, i) => ({
        name: `near${i}`,
        match: i % 2 === 0 ? { department: 'search' } : { model: 'gpt-4.1*' },
        window: i % 2 === 0 ? 'day' : 'month',
        limit: { tokens: Math.round(PREFILL / (0.8 + (0.1 * (i + 0.5)) / n)), usd: 1e12 },
      })),
    prefill: (fuses) =>
      fuses.observe(
        { tags, provider: request.provider, model: request.model },
        {
          tokens: PREFILL,
          usd: 0,
        },
      ),
  },
};
const PREFILL = Math.round((RUN_TOKENS * 0.85) / 0.05);

function board(kase, n) {
  const fuses = createTokenfuse({ metrics: { exporter: 'none' }, budgets: kase.budgets(n) }).fuses;
  if (n > 0) kase.prefill?.(fuses);
  const events = { thresholds: 0, trips: 0 };
  fuses.onThreshold(() => events.thresholds++);
  fuses.onTrip(() => events.trips++);
  return { fuses, events };
}

function block({ fuses }, calls) {
  const t0 = clock();
  const k = calls.length;
  for (let i = 0; i < CALLS; i++) {
    const result = fuses.admit(calls[i % k]);
    if (result.admitted === undefined) throw new Error('blocked');
    fuses.settle(result.admitted, usage);
  }
  return (clock() - t0) / CALLS;
}

function measure(a, b, calls) {
  for (let i = 0; i < WARMUP; i++) {
    block(a, calls);
    block(b, calls);
  }
  const added = [];
  for (let i = 0; i < BLOCKS; i++) {
    let ta;
    let tb;
    if (i % 2 === 0) {
      ta = block(a, calls);
      tb = block(b, calls);
    } else {
      tb = block(b, calls);
      ta = block(a, calls);
    }
    added.push(tb - ta);
  }
  added.sort((x, y) => x - y);
  const q = (p) => added[Math.min(added.length - 1, Math.floor(p * added.length))];
  return { median: q(0.5), p99: q(0.99) };
}

console.log(`uptime before: ${uptime()}`);
const fmt = (x) => x.toFixed(2).padStart(7);
console.log(
  `node ${process.version}, ${BLOCKS} block pairs of ${CALLS} calls, ${WALL ? 'wall' : 'CPU'} clock, added µs per call vs 0 budgets`,
);
console.log(
  ' case      | matching budgets | added median | p99    | per budget | A-vs-A median [p99] | events in the run',
);
for (const name of CASES) {
  const kase = cases[name];
  if (kase === undefined) throw new Error(`unknown case ${name}: ${Object.keys(cases).join(', ')}`);
  const zero = board(kase, 0);
  const control = measure(zero, board(kase, 0), kase.calls);
  for (const n of SIZES) {
    const b = board(kase, n);
    const before = { ...b.events };
    const r = measure(zero, b, kase.calls);
    const events = `${b.events.thresholds - before.thresholds} thresholds, ${b.events.trips - before.trips} trips`;
    console.log(
      ` ${name.padEnd(9)} | ${String(n).padStart(16)} |     ${fmt(r.median)} | ${fmt(r.p99)} | ${fmt(r.median / n)}    | ${fmt(control.median)} [${control.p99.toFixed(2)}]     | ${events}`,
    );
  }
}
console.log(`uptime after: ${uptime()}`);
