// A loop through one SDK, patched by tokenfuse (or bare with PROFILE_BARE=1), profiled after
// a warm-up (the CPU profiler of node:inspector, so module loading and the JIT's first tiers
// stay out of it): where the time tokenfuse adds to that SDK goes. Writes a .cpuprofile
// (open it in Chrome DevTools or VS Code) and prints the CPU time per operation.
//
//   cd bench && node profile-sdk.mjs anthropic call 20000 anthropic.cpuprofile
//   PROFILE_BARE=1 node profile-sdk.mjs anthropic stream 200 bare.cpuprofile
//   PROFILE_FIRST=openai node profile-sdk.mjs anthropic call 40000   (openai's calls first)
//
// Prints the CPU time per operation and the share of the profile's samples in tokenfuse's own
// frames (its dist/), in the OpenTelemetry SDK's and in the garbage collector. PROFILE_FIRST
// runs 60,000 instrumented calls of another SDK before the warm-up: what V8 decided on the way
// (allocation-site pretenuring, docs/performance.md) can change what the same calls cost.
//
// Names: those of BENCH_SDKS (openai-v4, openai, anthropic, google-genai, bedrock, ai-sdk).
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tokenfuseArm } from './arms.mjs';
import { sdkSides } from './sdks.mjs';

const [name = 'anthropic', kind = 'call', count = '20000', out] = process.argv.slice(2);
const n = Number(count);
const { tf } = await tokenfuseArm();
const definitions = tf.instrumentation.getModuleDefinitions();
if (process.env.PROFILE_FIRST) {
  const first = (await sdkSides(process.env.PROFILE_FIRST, tf, definitions)).tokenfuse;
  first.set(true);
  for (let i = 0; i < 60000; i++) await first.call();
}
// Both sides start unpatched (bench/sdks.mjs); the tokenfuse side patches its SDK through
// tokenfuse's module definition, or for the AI SDK is the model wrapped in the middleware.
const sides = await sdkSides(name, tf, definitions);
const side = process.env.PROFILE_BARE ? sides.bare : sides.tokenfuse;
side.set(true);
const sdk = { label: sides.label, ...side };
const now = () => performance.now();
const loop = async (times) => {
  for (let i = 0; i < times; i++) {
    if (kind === 'call') await sdk.call();
    else await sdk.stream(500, now);
  }
};
await loop(Math.max(200, n / 5));
const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.setSamplingInterval', { interval: 100 });
await session.post('Profiler.start');
const c0 = process.cpuUsage();
await loop(n);
const c = process.cpuUsage(c0);
const { profile } = await session.post('Profiler.stop');
if (out) writeFileSync(out, JSON.stringify(profile));
const per = (c.user + c.system) / n;
/** Share of the samples whose own frame is in tokenfuse, the OpenTelemetry SDK, the GC. */
const shares = { tokenfuse: 0, opentelemetry: 0, gc: 0 };
let samples = 0;
for (const node of profile.nodes) {
  samples += node.hitCount;
  const { url, functionName } = node.callFrame;
  if (!url.includes('node_modules') && /[\\/]dist[\\/]/.test(url))
    shares.tokenfuse += node.hitCount;
  else if (url.includes('@opentelemetry')) shares.opentelemetry += node.hitCount;
  else if (functionName === '(garbage collector)') shares.gc += node.hitCount;
}
const pct = (k) => `${k} ${((100 * shares[k]) / samples).toFixed(1)}%`;
console.log(
  `${sdk.label} ${kind}${process.env.PROFILE_BARE ? ' (bare)' : ''}` +
    `${process.env.PROFILE_FIRST ? ` after ${process.env.PROFILE_FIRST}` : ''}: ` +
    `${per.toFixed(1)} µs CPU each; own frames: ${Object.keys(shares).map(pct).join(', ')}`,
);
process.exit(0);
