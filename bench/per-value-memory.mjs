// Memory of per-value budgets: a million distinct users, each with its own budget
// (`per: user`), admitted and settled against the in-memory ledger; then the window
// ends and the values are forgotten as calls of the next window sweep them.
//
//   npm run build && node --expose-gc bench/per-value-memory.mjs
//   PV_VALUES=200000 node --expose-gc bench/per-value-memory.mjs   (a quick run)
//
// Reports heap used (after GC): before, with every value held, and after the window
// ended and the next window's calls (PV_NEXT of them, default 50,000) swept the old
// values out. Exit code 1 when the old values are not all forgotten.
import { createTokenfuse } from '../dist/index.js';

const VALUES = Number(process.env.PV_VALUES ?? 1_000_000);
const NEXT = Number(process.env.PV_NEXT ?? 50_000);

if (typeof globalThis.gc !== 'function') {
  console.error('per-value-memory: run node with --expose-gc');
  process.exit(2);
}

let now = Date.parse('2026-12-01T10:00:00Z');
const tokenfuse = createTokenfuse(
  {
    enabled: true,
    metrics: { exporter: 'none' },
    budgets: [
      { name: 'per-user', per: 'user', window: 'hour', limit: { tokens: 1000, requests: 100 } },
    ],
  },
  { clock: () => now },
);
const board = tokenfuse.fuses;
const request = {
  provider: 'openai',
  model: 'gpt-4.1',
  inputUpperBound: 10,
  exactInput: () => 10,
  inputUnseen: false,
  maxOutput: { kind: 'set', tokens: 10 },
};

function call(user) {
  const r = board.admit({ ...request, tags: { user } });
  if (!('admitted' in r)) throw new Error(`user ${user} was not admitted`);
  board.settle(r.admitted, { tokens: 20, usd: 0.0001, outputTokens: 10 });
}

function heapMb() {
  globalThis.gc();
  globalThis.gc();
  return process.memoryUsage().heapUsed / 1024 / 1024;
}

function tracked() {
  return board.perValueSummaries(1)[0].counts.tracked;
}

const base = heapMb();
const t0 = performance.now();
for (let i = 0; i < VALUES; i++) call(`user-${i}`);
const seconds = (performance.now() - t0) / 1000;
const held = heapMb();
const heldCount = tracked();

// The next hour: new users' calls sweep out the values of the hour that ended.
now += 3_600_000;
for (let i = 0; i < NEXT; i++) call(`next-${i}`);
// A metrics collection sweeps too (up to 10,000 per collection).
while (tracked() > NEXT) {}
const after = heapMb();
const afterCount = tracked();

const perValue = ((held - base) * 1024 * 1024) / VALUES;
console.log(
  JSON.stringify(
    {
      values: VALUES,
      secondsToAdmitAndSettle: Number(seconds.toFixed(1)),
      heapMb: { before: Math.round(base), held: Math.round(held), afterWindow: Math.round(after) },
      bytesPerValue: Math.round(perValue),
      tracked: { held: heldCount, afterWindow: afterCount },
    },
    null,
    2,
  ),
);
if (heldCount !== VALUES || afterCount !== NEXT) {
  console.error('per-value-memory: values were not all held, or not all forgotten');
  process.exit(1);
}
