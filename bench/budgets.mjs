// Cost of matching in-memory budgets per call: admission and settlement on the fuse board.
//
//   npm run build && npx node bench/budgets.mjs
//   BUDGETS_SIZES=1,10,100 BUDGETS_BLOCKS=300 npx node bench/budgets.mjs
//   BUDGETS_CLOCK=wall npx node bench/budgets.mjs   # wall clock instead of this process's CPU time
//
// The per-call work budgets add is the board's (`admit` before the call, `settle` after):
// everything else the instrumentation does per call is the same with 0 or 100 budgets. So
// this drives the board exactly as the instrumentation does (a call description with a
// length-bounded estimate and max_tokens, then the settlement of its usage), for boards
// with N budgets that all match the call (each limit far from reached). Blocks alternate
// between the 0-budget board and the N-budget one, order alternating, after a warm-up; each
// block pair is one sample of the added µs per call. The A-vs-A control runs two 0-budget
// boards the same way: its spread is the noise floor of every figure. The clock is the
// process's CPU time by default, as `run.mjs` times (a neighbour taking the core away
// stretches wall time, not the CPU this process used); the load average is printed
// before and after.
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { createTokenfuse } from '../dist/index.js';

const SIZES = (process.env.BUDGETS_SIZES ?? '1,10,100').split(',').map(Number);
const BLOCKS = Number(process.env.BUDGETS_BLOCKS ?? 300);
const CALLS = Number(process.env.BUDGETS_CALLS ?? 200);
const WALL = process.env.BUDGETS_CLOCK === 'wall';

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

function board(n) {
  const budgets = [];
  for (let i = 0; i < n; i++) {
    budgets.push({
      name: `b${i}`,
      // Every budget matches the call; half by department, half by model glob.
      match: i % 2 === 0 ? { department: 'search' } : { model: 'gpt-4.1*' },
      window: i % 3 === 0 ? 'hour' : i % 3 === 1 ? 'day' : { rolling: '10m' },
      limit: { tokens: 1e15, usd: 1e12 },
    });
  }
  return createTokenfuse({ metrics: { exporter: 'none' }, budgets }).fuses;
}

const call = {
  tags: { department: 'search', project: 'rag', environment: 'prod' },
  provider: 'openai',
  model: 'gpt-4.1-mini',
  inputUpperBound: 60,
  exactInput: () => 20,
  inputUnseen: false,
  maxOutput: { kind: 'set', tokens: 16 },
};
const usage = { tokens: 30, usd: 0.00002, outputTokens: 10 };

function block(b) {
  const t0 = clock();
  for (let i = 0; i < CALLS; i++) {
    const result = b.admit(call);
    if (result.admitted === undefined) throw new Error('blocked');
    b.settle(result.admitted, usage);
  }
  return (clock() - t0) / CALLS;
}

function measure(a, b) {
  for (let i = 0; i < 30; i++) {
    block(a);
    block(b);
  }
  const added = [];
  for (let i = 0; i < BLOCKS; i++) {
    let ta;
    let tb;
    if (i % 2 === 0) {
      ta = block(a);
      tb = block(b);
    } else {
      tb = block(b);
      ta = block(a);
    }
    added.push(tb - ta);
  }
  added.sort((x, y) => x - y);
  const q = (p) => added[Math.min(added.length - 1, Math.floor(p * added.length))];
  return { median: q(0.5), p99: q(0.99) };
}

console.log(`uptime before: ${uptime()}`);
const zero = board(0);
const control = measure(zero, board(0));
const fmt = (x) => x.toFixed(2).padStart(7);
console.log(
  `node ${process.version}, ${BLOCKS} block pairs of ${CALLS} calls, ${WALL ? 'wall' : 'CPU'} clock, added µs per call vs 0 budgets`,
);
console.log(' matching budgets | added median | p99    | per budget | A-vs-A median [p99]');
for (const n of SIZES) {
  const r = measure(zero, board(n));
  console.log(
    `${String(n).padStart(17)} |     ${fmt(r.median)} | ${fmt(r.p99)} | ${fmt(r.median / n)}    | ${fmt(control.median)} [${control.p99.toFixed(2)}]`,
  );
}
console.log(`uptime after: ${uptime()}`);
