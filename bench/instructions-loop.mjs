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
import {
  ARM_FACTORIES,
  bare,
  call,
  mark,
  proveInstrumented,
  stream,
  tokenfuseArm,
} from './arms.mjs';

const [armName, ...counts] = process.argv.slice(2);
const [warmup, calls, streams, chunks] = counts.map(Number);

/** The arm `name` names: one of bench/arms.mjs, or `<sdk>:<side>` on that SDK's own client. */
async function armOf(name) {
  if (!name.includes(':')) {
    const arm = name === 'bare' ? bare('bare') : await ARM_FACTORIES[name]?.();
    if (!arm) throw new Error(`bench: unknown arm ${name} (bare, ${Object.keys(ARM_FACTORIES)})`);
    return arm;
  }
  const [sdkName, sideName] = name.split(':');
  const { sdkSides } = await import('./sdks.mjs');
  const { tf } = await tokenfuseArm({}, 'tokenfuse');
  const sides = await sdkSides(sdkName, tf, tf.instrumentation.getModuleDefinitions());
  if (!['bare', 'tokenfuse'].includes(sideName))
    throw new Error(`bench: unknown side ${sideName} of ${sdkName} (bare, tokenfuse)`);
  const instrumented = sideName === 'tokenfuse';
  const side = sides[sideName];
  return {
    name: `${instrumented ? 'tokenfuse on' : 'bare'} ${sides.label}`,
    call: side.call,
    stream: side.stream,
    set: side.set,
    spansPerCall: instrumented ? 1 : 0,
  };
}

const arm = await armOf(armName);
arm.set(true);
const now = () => 0;
const callOnce = () => (arm.call ? arm.call() : call(arm.client));
const streamOnce = (n) => (arm.stream ? arm.stream(n, now) : stream(arm.client, n, now));

// bench/tiers.mjs: where the warm-up is, in V8's trace (stdout carries it with V8's lines).
const every = Number(process.env.TIERS_EVERY ?? 0);
for (let i = 0; i < warmup; i++) {
  if (every > 0 && i % every === 0) process.stdout.write(`DONE ${i}\n`);
  await callOnce();
  if (i % 50 === 0) {
    await streamOnce(500);
    await streamOnce(50);
  }
}
const from = await mark(arm);
for (let i = 0; i < calls; i++) await callOnce();
for (let i = 0; i < streams; i++) await streamOnce(chunks);
// A patch that did nothing would count as free: fail instead (and a bare run must end none).
await proveInstrumented(arm, from, calls + streams);
process.stdout.write(`${arm.name}\n`);
process.exit(0);
