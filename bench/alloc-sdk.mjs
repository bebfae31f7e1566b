// Bytes allocated per call and per chunk by each SDK bare and with tokenfuse: a figure the
// machine's load does not move, to decide with before timing (bench/sdks.mjs confirms).
// The heap's growth over a block with no GC inside it (a young generation larger than a
// block allocates), median of 7 rounds per arm; per chunk as the growth of 500-chunk streams
// minus 50-chunk ones, over the 450 chunks between them. Spans the batch processor still
// holds count as allocated, as they are.
//
// What tokenfuse adds is the median of each round's difference (tokenfuse minus the bare
// block just before it), with the range over the rounds beside it: the bare figure drifts by
// ~200 B per chunk over the rounds while the JIT settles, so the difference of two medians
// taken apart moved by as much (openai once read "adds ~0 B per chunk", Anthropic ~150).
//
//   cd bench && node --expose-gc --min-semi-space-size=256 --max-semi-space-size=1024 \
//     alloc-sdk.mjs anthropic,bedrock
//
// Both semi-space flags: a young generation that starts small scavenges inside the blocks
// (check with --trace-gc), and the growth is then what survived, not what was allocated.
//
// Names: those of BENCH_SDKS (openai-v4, openai, anthropic, google-genai, bedrock).
//
// With BENCH_ARMS (names of bench/arms.mjs: floor, sampled, tokenfuse, the peers), the arms
// of the `sdk` section instead, all on openai 7's one client: each round a bare block, then
// one block of each arm and of bare again (the A-vs-A control); an arm's figure is the median
// of its rounds' differences from that round's bare block.
//
//   cd bench && BENCH_ARMS=floor,sampled,tokenfuse node --expose-gc \
//     --min-semi-space-size=256 --max-semi-space-size=1024 alloc-sdk.mjs
import v8 from 'node:v8';
import { ARM_FACTORIES, bare, call, OPENAI_VERSION, stream, tokenfuseArm } from './arms.mjs';
import { sdkSides } from './sdks.mjs';

if (typeof globalThis.gc !== 'function') throw new Error('bench: run with --expose-gc');
const now = () => performance.now();
const heap = () => v8.getHeapStatistics().used_heap_size;
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/** Heap growth over `times` runs of `fn`, from a collected heap. */
async function grown(times, fn) {
  globalThis.gc();
  const h = heap();
  for (let i = 0; i < times; i++) await fn();
  return heap() - h;
}

/**
 * Seven rounds over `sides` ({ call(), stream(n), set(on) } each), every side once a round
 * in the order given, switched on for its own block only; per call and per chunk, each
 * side's figure of every round.
 */
async function rounds(sides) {
  const out = sides.map(() => ({ call: [], chunk: [] }));
  let current;
  for (let round = 0; round < 7; round++) {
    for (const [i, side] of sides.entries()) {
      current?.set(false);
      side.set(true);
      current = side;
      for (let j = 0; j < 30; j++) await side.call();
      await side.stream(500);
      await side.stream(50);
      out[i].call.push((await grown(100, side.call)) / 100);
      const long = await grown(4, () => side.stream(500));
      const short = await grown(4, () => side.stream(50));
      out[i].chunk.push((long - short) / (4 * 450));
    }
  }
  current?.set(false);
  return out;
}

/** What `mine` adds over `base` (the first side): the median of the rounds' differences, and their range. */
function added(mine, base, kind) {
  const d = mine[kind].map((x, i) => x - base[kind][i]);
  return `${median(d).toFixed(0)} B [${Math.min(...d).toFixed(0)}..${Math.max(...d).toFixed(0)}]`;
}

if (process.env.BENCH_ARMS) {
  // Bare twice: B's figure is the A-vs-A control, what the method makes of one code.
  const arms = [bare('bare openai'), bare('bare openai (B, the A-vs-A control)')];
  for (const name of process.env.BENCH_ARMS.split(',').map((s) => s.trim())) {
    if (!ARM_FACTORIES[name])
      throw new Error(`bench: unknown arm ${name} (${Object.keys(ARM_FACTORIES)})`);
    arms.push(await ARM_FACTORIES[name]());
  }
  const [base, ...rest] = await rounds(
    arms.map((arm) => ({
      call: () => call(arm.client),
      stream: (n) => stream(arm.client, n, now),
      set: arm.set,
    })),
  );
  console.log(
    `bare openai ${OPENAI_VERSION}: per call ${median(base.call).toFixed(0)} B, per chunk ${median(base.chunk).toFixed(0)} B`,
  );
  for (const [i, mine] of rest.entries())
    console.log(
      `${arms[i + 1].name}: adds per call ${added(mine, base, 'call')}, per chunk ${added(mine, base, 'chunk')}`,
    );
  process.exit(0);
}

const names = (process.argv[2] ?? 'openai,anthropic,google-genai,bedrock').split(',');
const { tf } = await tokenfuseArm();
const definitions = tf.instrumentation.getModuleDefinitions();
for (const name of names) {
  // Both sides start unpatched; the tokenfuse side patches the SDK through tokenfuse's definition.
  const { label, bare: plain, tokenfuse } = await sdkSides(name, tf, definitions);
  const side = (s) => ({ call: s.call, stream: (n) => s.stream(n, now), set: s.set });
  const [b, t] = await rounds([side(plain), side(tokenfuse)]);
  console.log(
    `${label}: per call bare ${median(b.call).toFixed(0)} B, tokenfuse adds ${added(t, b, 'call')}; ` +
      `per chunk bare ${median(b.chunk).toFixed(0)} B, tokenfuse adds ${added(t, b, 'chunk')}`,
  );
}
process.exit(0);
