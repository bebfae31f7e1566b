// The loop bench/instructions.mjs counts under callgrind: one arm of bench/arms.mjs, a
// warm-up, then `calls` calls and `streams` streams of `chunks` chunks, then exit. Two runs
// that differ only in `calls` (or only in `chunks`) differ only by the calls (or chunks)
// between them: start-up, module loading and the warm-up's JIT work are the same
// instructions in both and cancel.
//
//   node --single-threaded --expose-gc instructions-loop.mjs <arm> <warmup> <calls> <streams> <chunks>
//
// <arm>: bare, or a name of BENCH_ARMS. The warm-up (calls, and a 500- and a 50-chunk stream
// every 50th call) is the same whatever is counted after it. Nothing here reads a clock or
// sets a timer; the fake fetch answers in-process (no socket).
import { ARM_FACTORIES, bare, call, spans, stream } from './arms.mjs';

const [armName, ...counts] = process.argv.slice(2);
const [warmup, calls, streams, chunks] = counts.map(Number);
const arm = armName === 'bare' ? bare('bare') : await ARM_FACTORIES[armName]?.();
if (!arm) throw new Error(`bench: unknown arm ${armName} (bare, ${Object.keys(ARM_FACTORIES)})`);
arm.set(true);
const now = () => 0;

for (let i = 0; i < warmup; i++) {
  await call(arm.client);
  if (i % 50 === 0) {
    await stream(arm.client, 500, now);
    await stream(arm.client, 50, now);
  }
}
const before = spans.ended;
// An arm that ends no span (its sampler drops them) proves itself by its own count of calls.
const countedBefore = arm.counted ? await arm.counted() : 0;
for (let i = 0; i < calls; i++) await call(arm.client);
for (let i = 0; i < streams; i++) await stream(arm.client, chunks, now);
// A patch that did nothing would count as free: fail instead (and a bare run must end none).
const ended = spans.ended - before;
if (arm.spansPerCall === 0 ? ended !== 0 : ended < (calls + streams) * arm.spansPerCall)
  throw new Error(`bench: ${arm.name} ended ${ended} spans over ${calls + streams} calls`);
if (arm.counted) {
  const counted = (await arm.counted()) - countedBefore;
  if (counted !== calls + streams)
    throw new Error(`bench: ${arm.name} counted ${counted} calls of ${calls + streams}`);
}
process.stdout.write(`${arm.name}\n`);
process.exit(0);
