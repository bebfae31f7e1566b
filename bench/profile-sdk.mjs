// A loop through one SDK, patched by tokenfuse (or bare with PROFILE_BARE=1), profiled after
// a warm-up (the CPU profiler of node:inspector, so module loading and the JIT's first tiers
// stay out of it): where the time tokenfuse adds to that SDK goes. Writes a .cpuprofile
// (open it in Chrome DevTools or VS Code) and prints the CPU time per operation.
//
//   cd bench && node profile-sdk.mjs anthropic call 20000 anthropic.cpuprofile
//   PROFILE_BARE=1 node profile-sdk.mjs anthropic stream 200 bare.cpuprofile
//
// Names: those of BENCH_SDKS (openai-v4, openai, anthropic, google-genai, bedrock, ai-sdk).
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tokenfuseArm } from './arms.mjs';
import { aiSdk, SDK_FACTORIES } from './sdk-clients.mjs';

const [name = 'anthropic', kind = 'call', count = '20000', out] = process.argv.slice(2);
const n = Number(count);
const { tf } = await tokenfuseArm();
let sdk;
if (name === 'ai-sdk') {
  // Not patched: the tokenfuse side is the same model wrapped with `tokenfuseMiddleware()`.
  const s = await aiSdk(tf);
  sdk = { label: s.label, ...(process.env.PROFILE_BARE ? s.bare : s.instrumented) };
} else {
  sdk = await SDK_FACTORIES[name]();
  // Loaded after the instrumentation, the SDK is patched already (its require hook): the bare
  // run must unpatch it, or it profiles tokenfuse too.
  const action = process.env.PROFILE_BARE ? 'unpatch' : 'patch';
  for (const d of tf.instrumentation.getModuleDefinitions())
    if (d.name === sdk.definition) d[action].call(d, sdk.module, sdk.version);
}
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
console.log(
  `${sdk.label} ${kind}${process.env.PROFILE_BARE ? ' (bare)' : ''}: ${per.toFixed(1)} µs CPU each`,
);
process.exit(0);
