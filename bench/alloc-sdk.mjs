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
// one block of each arm and of bare again (the A-vs-A control); an arm's figure is the median of its rounds' differences from that
// round's bare block.
//
//   cd bench && BENCH_ARMS=floor,sampled,tokenfuse node --expose-gc \
//     --min-semi-space-size=256 --max-semi-space-size=1024 alloc-sdk.mjs
import v8 from 'node:v8';
import { ARM_FACTORIES, bare, call, OPENAI_VERSION, stream, tokenfuseArm } from './arms.mjs';
import { SDK_FACTORIES } from './sdk-clients.mjs';

if (typeof globalThis.gc !== 'function') throw new Error('bench: run with --expose-gc');
const now = () => performance.now();
const heap = () => v8.getHeapStatistics().used_heap_size;
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

if (process.env.BENCH_ARMS) {
  // Bare twice: B's figure is the A-vs-A control, what the method makes of one code.
  const arms = [bare('bare openai'), bare('bare openai (B, the A-vs-A control)')];
  for (const name of process.env.BENCH_ARMS.split(',').map((s) => s.trim())) {
    if (!ARM_FACTORIES[name])
      throw new Error(`bench: unknown arm ${name} (${Object.keys(ARM_FACTORIES)})`);
    arms.push(await ARM_FACTORIES[name]());
  }
  const out = new Map(arms.map((a) => [a, { call: [], chunk: [] }]));
  let current;
  for (let round = 0; round < 7; round++) {
    for (const arm of arms) {
      current?.set(false);
      arm.set(true);
      current = arm;
      const sdkCall = () => call(arm.client);
      const sdkStream = (n) => stream(arm.client, n, now);
      for (let i = 0; i < 30; i++) await sdkCall();
      await sdkStream(500);
      await sdkStream(50);
      out.get(arm).call.push((await grown(100, sdkCall)) / 100);
      const long = await grown(4, () => sdkStream(500));
      const short = await grown(4, () => sdkStream(50));
      out.get(arm).chunk.push((long - short) / (4 * 450));
    }
  }
  current?.set(false);
  const base = out.get(arms[0]);
  console.log(
    `bare openai ${OPENAI_VERSION}: per call ${median(base.call).toFixed(0)} B, per chunk ${median(base.chunk).toFixed(0)} B`,
  );
  for (const arm of arms.slice(1)) {
    const mine = out.get(arm);
    const added = (kind) => {
      const d = mine[kind].map((x, i) => x - base[kind][i]);
      return `${median(d).toFixed(0)} B [${Math.min(...d).toFixed(0)}..${Math.max(...d).toFixed(0)}]`;
    };
    console.log(`${arm.name}: adds per call ${added('call')}, per chunk ${added('chunk')}`);
  }
  process.exit(0);
}

const names = (process.argv[2] ?? 'openai,anthropic,google-genai,bedrock').split(',');
const { tf } = await tokenfuseArm();

/** Heap growth over `times` runs of `fn`, from a collected heap. */
async function grown(times, fn) {
  globalThis.gc();
  const h = heap();
  for (let i = 0; i < times; i++) await fn();
  return heap() - h;
}

for (const name of names) {
  const sdk = await SDK_FACTORIES[name]();
  // Loaded after the instrumentation, the SDK is patched already (its require hook).
  const defs = tf.instrumentation.getModuleDefinitions().filter((d) => d.name === sdk.definition);
  let on = true;
  const set = (want) => {
    if (want === on) return;
    for (const d of defs) (want ? d.patch : d.unpatch).call(d, sdk.module, sdk.version);
    on = want;
  };
  const out = { bare: { call: [], chunk: [] }, tokenfuse: { call: [], chunk: [] } };
  for (let round = 0; round < 7; round++) {
    for (const arm of ['bare', 'tokenfuse']) {
      set(arm === 'tokenfuse');
      for (let i = 0; i < 30; i++) await sdk.call();
      await sdk.stream(500, now);
      await sdk.stream(50, now);
      out[arm].call.push((await grown(100, sdk.call)) / 100);
      const long = await grown(4, () => sdk.stream(500, now));
      const short = await grown(4, () => sdk.stream(50, now));
      out[arm].chunk.push((long - short) / (4 * 450));
    }
  }
  const added = (kind) => {
    const d = out.tokenfuse[kind].map((x, i) => x - out.bare[kind][i]);
    return `${median(d).toFixed(0)} B [${Math.min(...d).toFixed(0)}..${Math.max(...d).toFixed(0)}]`;
  };
  console.log(
    `${sdk.label}: per call bare ${median(out.bare.call).toFixed(0)} B, tokenfuse adds ${added('call')}; ` +
      `per chunk bare ${median(out.bare.chunk).toFixed(0)} B, tokenfuse adds ${added('chunk')}`,
  );
}
process.exit(0);
