// Does what tokenfuse adds to a call grow when the SDK around it sweeps the CPU's caches?
// Bedrock and the AI SDK allocate 100–220 KB a call (openai 7: ~17 KB), and tokenfuse adds
// 1.5–2× as much to them as to openai 7 though it runs fewer instructions there
// (docs/performance.md, s11-bedrock, s12). Here arms of the `sdk` section on openai 7 (bare
// A, bare B, and by default tokenfuse and sampled) each write one byte per 64-byte line of a
// buffer of THRASH_KB after every call, the same in every arm, so every call starts with its
// data pushed out of the nearest caches by as much memory as the sweep touches. THRASH_KB=0
// is the `sdk` section's own arms; run both in turn and compare what tokenfuse adds.
// BENCH_ARMS picks the arms as in run.mjs [tokenfuse,sampled] (floor, traceloop, otel, …).
//
//   npm run build && cd bench && THRASH_KB=0 node --expose-gc cache-pressure.mjs
//   THRASH_KB=512 node --expose-gc cache-pressure.mjs
//
// BENCH_ROUNDS [150], BENCH_CALLS, BENCH_WARMUP, BENCH_WARMUP_SECONDS, BENCH_SETTLE,
// BENCH_SEED and BENCH_CLOCK as for run.mjs. No streams.
import { loadavg } from 'node:os';
import { ARM_FACTORIES, bare, call } from './arms.mjs';
import { measure, measureSettings } from './measure.mjs';
import { table } from './stats.mjs';

const kb = Number(process.env.THRASH_KB ?? 512);
const buffer = new Uint8Array(Math.max(1, kb * 1024));
/** One write per cache line of the buffer: what a call that touches `kb` of memory evicts. */
function sweep() {
  for (let i = 0; i < buffer.length; i += 64) buffer[i] = (buffer[i] + 1) & 255;
}
const swept = (arm) => ({
  ...arm,
  call: kb > 0 ? () => call(arm.client).finally(sweep) : () => call(arm.client),
});
const names = (process.env.BENCH_ARMS ?? 'tokenfuse,sampled').split(',');
const arms = [swept(bare('bare A')), swept(bare('bare B'))];
for (const name of names) {
  if (!ARM_FACTORIES[name]) throw new Error(`cache-pressure: unknown arm ${name}`);
  arms.push(swept(await ARM_FACTORIES[name]()));
}
const before = loadavg()
  .map((x) => x.toFixed(2))
  .join(' / ');
const settings = measureSettings(150);
const f = await measure({
  ...settings,
  streams: 0,
  arms,
  log: (line) => process.stderr.write(`${line}\n`),
});
const rows = [];
const clockName = settings.clock === 'cpu' ? 'CPU' : 'wall';
for (const [kind, figure] of [
  ['call', `added per call, µs ${clockName}`],
  ...(clockName === 'CPU' ? [['wall', 'added per call, µs wall (same blocks)']] : []),
]) {
  rows.push({ figure: figure.replace('added', 'bare'), subject: 'openai 7', value: f[kind].bare });
  for (const { arm, added } of f[kind].added)
    rows.push({ figure, subject: arm.name, value: added, control: f[kind].control });
}
const after = loadavg()
  .map((x) => x.toFixed(2))
  .join(' / ');
console.log(`sweep of ${kb} KB after every call; load ${before} before, ${after} after`);
console.log(table(rows));
process.exit(0);
