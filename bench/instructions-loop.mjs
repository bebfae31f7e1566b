// The loop bench/instructions.mjs counts under callgrind: one arm of bench/arms.mjs, a
// warm-up, then `calls` calls and `streams` streams of `chunks` chunks, then exit. Two runs
// that differ only in `calls` (or only in `chunks`) differ only by the calls (or chunks)
// between them: start-up, module loading and the warm-up's JIT work are the same
// instructions in both and cancel.
//
//   node --single-threaded --expose-gc instructions-loop.mjs <arm> <warmup> <calls> <streams> <chunks>
//
// <arm>: bare, or a name of BENCH_ARMS (on the bench's openai 7 client); or <sdk>:bare or
// <sdk>:tokenfuse, <sdk> a name of BENCH_SDKS (the SDK's own client of bench/sdk-clients.mjs,
// built by bench/sdks.mjs's sdkSides: both sides create the same tokenfuse and load the same
// modules, the bare one leaves the SDK unpatched). The warm-up (calls, and a 500- and a
// 50-chunk stream every 50th call) is the same whatever is counted after it. Nothing here
// reads a clock or sets a timer; the fake fetch answers in-process (no socket).
import { ARM_FACTORIES, bare, call, spans, stream, tokenfuseArm } from './arms.mjs';

const [armName, ...counts] = process.argv.slice(2);
const [warmup, calls, streams, chunks] = counts.map(Number);

/** The same loop on one side of one SDK of bench/sdk-clients.mjs. */
async function sdkLoop(sdkName, sideName) {
  const { sdkSides } = await import('./sdks.mjs');
  const { tf } = await tokenfuseArm({}, 'tokenfuse');
  const sides = await sdkSides(sdkName, tf, tf.instrumentation.getModuleDefinitions());
  const side = sides[sideName];
  if (!side || !['bare', 'tokenfuse'].includes(sideName))
    throw new Error(`bench: unknown side ${sideName} of ${sdkName} (bare, tokenfuse)`);
  const instrumented = sideName === 'tokenfuse';
  side.set(instrumented);
  const now = () => 0;
  for (let i = 0; i < warmup; i++) {
    await side.call();
    if (i % 50 === 0) {
      await side.stream(500, now);
      await side.stream(50, now);
    }
  }
  const before = spans.ended;
  for (let i = 0; i < calls; i++) await side.call();
  for (let i = 0; i < streams; i++) await side.stream(chunks, now);
  const ended = spans.ended - before;
  if (instrumented ? ended < calls + streams : ended !== 0)
    throw new Error(
      `bench: ${sideName} ${sdkName} ended ${ended} spans over ${calls + streams} calls`,
    );
  process.stdout.write(`${instrumented ? 'tokenfuse on' : 'bare'} ${sides.label}\n`);
  process.exit(0);
}
if (armName.includes(':')) await sdkLoop(...armName.split(':'));
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
