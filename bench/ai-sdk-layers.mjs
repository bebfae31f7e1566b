// What tokenfuse adds to the Vercel AI SDK, taken apart on the real SDK (ai + @ai-sdk/openai
// chat, answered in-process as in bench/sdks.mjs), with the method of the `sdks` section
// (bench/measure.mjs: seeded random block order, A-vs-A control, medians with a 95% interval,
// per chunk as the marginal cost of long minus short streams). Arms, on one provider model:
//   bare A / bare B   the model itself
//   no-op middleware  wrapLanguageModel with a middleware that only calls through
//                     (`wrapGenerate: ({ doGenerate }) => doGenerate()`): what any middleware
//                     costs through the AI SDK's own wrapping
//   identity hop      the no-op middleware whose stream goes through one more web stream
//                     with no code in it (`stream.pipeThrough(new TransformStream())`): the
//                     least that observing the stream's parts in the caller's pipe costs
//   tokenfuse         tokenfuseMiddleware()
//   sampled           tokenfuseMiddleware() of a second tokenfuse whose sampler drops every
//                     span (bench/arms.mjs `sampled`): tokenfuse less the span's recording and
//                     export, to set beside the same arm on openai 7 (the `sdk` section)
//
//   cd bench && node --expose-gc ai-sdk-layers.mjs
//   BENCH_ROUNDS=60 node --expose-gc ai-sdk-layers.mjs
//   node --expose-gc --max-semi-space-size=128 ai-sdk-layers.mjs alloc
//
// `alloc`: bytes allocated per call and per chunk instead of time, which a busy machine
// does not blur: the heap grown over a block of calls (or of 500- minus 50-part streams)
// with no collection inside it (a block a GC ran in is dropped), median of the blocks.
//
// BENCH_ROUNDS, BENCH_CALLS, BENCH_STREAMS, BENCH_LONG_CHUNKS, BENCH_SHORT_CHUNKS,
// BENCH_WARMUP, BENCH_WARMUP_SECONDS, BENCH_SEED and BENCH_CLOCK as for run.mjs.
import { loadavg } from 'node:os';
import { tokenfuseMiddleware } from '../dist/index.js';
import { ARM_FACTORIES, tokenfuseArm } from './arms.mjs';
import { clock, measure, measureSettings } from './measure.mjs';
import { aiSdk } from './sdk-clients.mjs';
import { table } from './stats.mjs';

const env = measureSettings(60);
clock(env.clock);
const log = (line) => process.stderr.write(`${line}\n`);

const { tf } = await tokenfuseArm({}, 'tokenfuse');
const s = await aiSdk(tf);
const noop = {
  specificationVersion: 'v3',
  wrapGenerate: ({ doGenerate }) => doGenerate(),
  wrapStream: ({ doStream }) => doStream(),
};
const hop = {
  ...noop,
  async wrapStream({ doStream }) {
    const result = await doStream();
    return { ...result, stream: result.stream.pipeThrough(new TransformStream()) };
  },
};
const sampledTf = await ARM_FACTORIES.sampled();
const off = () => {};
const arm = (name, side, spansPerCall) => ({ name, ...side, set: off, spansPerCall });
const arms = [
  arm('bare A', s.bare, 0),
  arm('bare B', s.bare, 0),
  arm('no-op middleware', s.through(noop), 0),
  arm('identity hop', s.through(hop), 0),
  arm('tokenfuse', s.instrumented, 1),
  {
    ...arm('sampled', s.through(tokenfuseMiddleware({ tokenfuse: sampledTf.tf })), 0),
    counted: sampledTf.counted,
  },
];
if (process.argv[2] === 'alloc') {
  await allocations(arms.filter((a) => a.name !== 'bare B'));
  process.exit(0);
}

/** Bytes allocated per call and per chunk, arm by arm, in interleaved blocks. */
async function allocations(list) {
  const v8 = await import('node:v8');
  const { PerformanceObserver } = await import('node:perf_hooks');
  let gcs = 0;
  new PerformanceObserver((l) => {
    gcs += l.getEntries().length;
  }).observe({ entryTypes: ['gc'] });
  const settle = async () => {
    for (let i = 0; i < 3; i++) await new Promise((r) => setTimeout(r, 5));
  };
  const used = () => v8.getHeapStatistics().used_heap_size;
  const none = () => 0;
  const blocks = {
    call: { per: 300, run: (a) => a.call() },
    chunk: {
      per: 4 * (env.long - env.short),
      run: async (a) => {
        await a.stream(env.long, none);
        await a.stream(env.short, none);
      },
    },
  };
  for (const [kind, { per, run }] of Object.entries(blocks)) {
    const n = kind === 'call' ? per : 4;
    const bytes = new Map(list.map((a) => [a, []]));
    for (const a of list) for (let i = 0; i < 10 * n; i++) await run(a);
    for (let r = 0; r < Math.min(env.rounds, 30); r++) {
      for (const a of list) {
        globalThis.gc?.();
        await settle();
        const g0 = gcs;
        const h0 = used();
        for (let i = 0; i < n; i++) await run(a);
        const h1 = used();
        await settle();
        if (gcs === g0) bytes.get(a).push((h1 - h0) / per);
      }
    }
    for (const a of list) {
      const xs = bytes.get(a).sort((x, y) => x - y);
      const med = xs.length ? xs[Math.floor(xs.length / 2)].toFixed(0) : 'no block without a GC';
      console.log(`${kind.padEnd(5)} ${a.name.padEnd(17)} ${med} bytes (${xs.length} blocks)`);
    }
  }
}

const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' / ');
const before = load();
log(`${s.label}; ${env.rounds} rounds; load ${before}`);
const f = await measure({ ...env, arms, log });
const unit = env.clock === 'cpu' ? 'CPU' : 'wall';
const rows = [];
for (const [kind, figure] of [
  ['call', `added per call, µs ${unit}`],
  ...(unit === 'CPU' ? [['wall', 'added per call, µs wall (same blocks)']] : []),
  ['chunk', `added per chunk (${env.long} − ${env.short}), µs ${unit}`],
]) {
  const x = f[kind];
  rows.push({ figure: figure.replace('added', 'bare'), subject: s.label, value: x.bare });
  for (const { arm: a, added } of x.added)
    rows.push({ figure, subject: a.name, value: added, control: x.control });
}
console.log(`${s.label}; load average ${before} before, ${load()} after`);
console.log(table(rows));
process.exit(0);
