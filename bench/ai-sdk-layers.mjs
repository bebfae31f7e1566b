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
//
//   cd bench && node --expose-gc ai-sdk-layers.mjs
//   BENCH_ROUNDS=60 node --expose-gc ai-sdk-layers.mjs
//
// BENCH_ROUNDS, BENCH_CALLS, BENCH_STREAMS, BENCH_LONG_CHUNKS, BENCH_SHORT_CHUNKS,
// BENCH_WARMUP, BENCH_SEED and BENCH_CLOCK as for run.mjs.
import { loadavg } from 'node:os';
import { tokenfuseArm } from './arms.mjs';
import { clock, measure } from './measure.mjs';
import { aiSdk } from './sdk-clients.mjs';
import { table } from './stats.mjs';

const num = (name, fallback) => Number(process.env[name] ?? fallback);
const env = {
  rounds: num('BENCH_ROUNDS', 60),
  calls: num('BENCH_CALLS', 200),
  streams: num('BENCH_STREAMS', 2),
  long: num('BENCH_LONG_CHUNKS', 500),
  short: num('BENCH_SHORT_CHUNKS', 50),
  warmup: num('BENCH_WARMUP', 2000),
  settle: num('BENCH_SETTLE', 20),
  seed: num('BENCH_SEED', 13),
  clock: process.env.BENCH_CLOCK === 'wall' ? 'wall' : 'cpu',
};
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
const off = () => {};
const arm = (name, side, spansPerCall) => ({ name, ...side, set: off, spansPerCall });
const arms = [
  arm('bare A', s.bare, 0),
  arm('bare B', s.bare, 0),
  arm('no-op middleware', s.through(noop), 0),
  arm('identity hop', s.through(hop), 0),
  arm('tokenfuse', s.instrumented, 1),
];
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
