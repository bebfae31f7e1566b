// Bytes allocated per non-streaming call (openai 7, or the SDK named) by tokenfuse's own
// code, by function: the sampling heap profiler of node:inspector over calls after a
// warm-up, each sample counted for the nearest JavaScript frame (builtins count for their
// caller). tokenfuse's frames are those of its dist; genai-prices' (the catalog lookups tokenfuse makes) are summed apart.
// The SDK's and OpenTelemetry's allocations are left out: this is a before/after figure for
// changes to tokenfuse's own per-call work, which `alloc-sdk.mjs` cannot resolve below about
// 1 KB (spans the batch processor holds move it).
//
//   npm run build && cd bench && node --expose-gc heap-frames.mjs [calls] [sdk]
//
// [sdk]: a name of BENCH_SDKS (openai by default; ai-sdk: the model wrapped in
// tokenfuseMiddleware(), its tokenfuse side of bench/sdks.mjs).
// HEAP_WARMUP [3000]: calls before sampling. At 3,000 tokenfuse's functions run as Maglev
// code; V8's TurboFan compiles them between the 10,000th and the 20,000th call (and a few
// again near the 30,000th), inlining callees into callers, which moves bytes between frames
// and removes some (escape analysis). HEAP_WARMUP=40000 reads the steady state the timed
// bench measures.
import { Session } from 'node:inspector/promises';
import { tokenfuseArm } from './arms.mjs';
import { sdkSides } from './sdks.mjs';

const n = Number(process.argv[2] ?? 3000);
const { tf } = await tokenfuseArm();
const sdkName = process.argv[3] ?? 'openai';
const { tokenfuse: sdk } = await sdkSides(sdkName, tf, tf.instrumentation.getModuleDefinitions());
sdk.set(true);
for (let i = 0; i < Number(process.env.HEAP_WARMUP ?? 3000); i++) await sdk.call();

const session = new Session();
session.connect();
await session.post('HeapProfiler.enable');
await session.post('HeapProfiler.startSampling', {
  samplingInterval: 32,
  includeObjectsCollectedByMajorGC: true,
  includeObjectsCollectedByMinorGC: true,
});
for (let i = 0; i < n; i++) await sdk.call();
const { profile } = await session.post('HeapProfiler.stopSampling');

const ours = /\/dist\/(chunk-[^/]*|index)\.js$/;
const bytes = new Map();
const walk = (node, owner) => {
  const f = node.callFrame;
  const here =
    f.url === ''
      ? owner
      : ours.test(f.url) && !f.url.includes('node_modules')
        ? `${f.functionName || '(anonymous)'}:${f.lineNumber}`
        : f.url.includes('genai-prices')
          ? 'genai-prices'
          : undefined;
  if (here !== undefined) bytes.set(here, (bytes.get(here) ?? 0) + node.selfSize);
  for (const child of node.children) walk(child, here);
};
walk(profile.head, undefined);
let total = 0;
for (const b of bytes.values()) total += b;
console.log(`tokenfuse's frames and its catalog lookups: ${(total / n).toFixed(0)} B per call`);
for (const [name, b] of [...bytes].sort((a, c) => c[1] - a[1]).slice(0, 15))
  console.log(`  ${(b / n).toFixed(0).padStart(6)} B  ${name}`);
process.exit(0);
