// What tokenfuse adds to each SDK it instruments, measured in one process.
//
//   npm run bench:sdks              (npm run bench runs it too)
//   BENCH_SDKS=anthropic,bedrock npm run bench:sdks
//   BENCH_SDK_ROUNDS=120 npm run bench:sdks   (a longer, tighter run)
//
// Each SDK's own client calls a canned answer built in this process (the client's `fetch`
// option; Bedrock: a custom `requestHandler`), so no socket, kernel or server is timed: the
// figure is the SDK plus tokenfuse. Every round runs three blocks of the same calls in a
// rotating order: bare (A), bare again (B) and instrumented (T), the same module unpatched
// and patched. T - A is one sample of what tokenfuse adds; B - A is the A-vs-A control, what
// the machine's noise alone makes of two identical runs. Per chunk: a long stream minus a
// short one, divided by the chunks between them, so the per-call cost falls out.
//
// For each figure it prints the median of the samples and a 95% interval for that median
// (distribution-free, from order statistics); the verdict says "within" or "above" the
// target only when the whole interval is on one side of it, and "undecided" otherwise.
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { TracerProvider } from '@opentelemetry/sdk-trace';
import { createTokenfuse } from '../dist/index.js';
import { sdkClients } from './sdk-clients.mjs';

const env = (name, fallback) => Number(process.env[name] ?? fallback);
const ROUNDS = env('BENCH_SDK_ROUNDS', 24);
const CALLS = env('BENCH_SDK_CALLS', 200);
const WARMUP = env('BENCH_SDK_WARMUP_CALLS', 2000);
const STREAMS = env('BENCH_SDK_STREAMS', 2);
const LONG = env('BENCH_SDK_LONG_CHUNKS', 1000);
const SHORT = env('BENCH_SDK_SHORT_CHUNKS', 10);
const ONLY = process.env.BENCH_SDKS?.split(',').map((s) => s.trim());
const TARGET = { call: 10, chunk: 0.3 };
// CPU time (user + system, every thread of the process, so GC helpers count) by default: a
// neighbour that takes the core away stretches wall time but not the CPU this process used,
// which is what tokenfuse costs. BENCH_SDK_CLOCK=wall times the wall clock instead.
const CLOCK = process.env.BENCH_SDK_CLOCK === 'wall' ? 'wall' : 'cpu';
/** Now, in µs, on the chosen clock. */
const now =
  CLOCK === 'wall'
    ? () => performance.now() * 1000
    : () => {
        const { user, system } = process.cpuUsage();
        return user + system;
      };

context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
const tokenfuse = createTokenfuse({ metrics: { exporter: 'none' } });
/** Counts spans, so a block that should be instrumented and is not fails the run. */
const spans = {
  ended: 0,
  onStart() {},
  onEnd() {
    this.ended++;
  },
  forceFlush: () => Promise.resolve(),
  shutdown: () => Promise.resolve(),
};
const tracerProvider = new TracerProvider({ spanProcessors: [tokenfuse.spanProcessor, spans] });
const meterProvider = new MeterProvider({
  readers: [new PrometheusExporter({ preventServerStart: true })],
});
tokenfuse.instrumentation.setTracerProvider(tracerProvider);
tokenfuse.instrumentation.setMeterProvider(meterProvider);
const definitions = tokenfuse.instrumentation.getModuleDefinitions();

// ---- timing ------------------------------------------------------------------
/** µs per non-streamed call. */
async function callBlock(sdk) {
  const t0 = now();
  for (let i = 0; i < CALLS; i++) await sdk.call();
  return (now() - t0) / CALLS;
}

/** µs per chunk: long streams minus short ones, so the per-call part cancels out. */
async function chunkBlock(sdk) {
  let long = 0;
  let short = 0;
  for (let i = 0; i < STREAMS; i++) {
    for (const n of i % 2 === 0 ? [LONG, SHORT] : [SHORT, LONG]) {
      setStreamLength(n);
      const t0 = now();
      const seen = await sdk.stream();
      const t = now() - t0;
      if (seen !== n) throw new Error(`bench: ${sdk.label} streamed ${seen} chunks, not ${n}`);
      if (n === LONG) long += t;
      else short += t;
    }
  }
  return (long - short) / (STREAMS * (LONG - SHORT));
}

// The six orders of A (bare), B (bare again) and T (instrumented), cycled through.
const ORDERS = ['ABT', 'ATB', 'BAT', 'BTA', 'TAB', 'TBA'];

async function measure(sdk, block, callsPerBlock) {
  const added = [];
  const control = [];
  const bare = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t = {};
    for (const arm of ORDERS[r % ORDERS.length]) {
      sdk.setInstrumented(arm === 'T');
      const before = spans.ended;
      t[arm] = await block(sdk);
      const got = spans.ended - before;
      const want = arm === 'T' ? callsPerBlock : 0;
      if (got !== want)
        throw new Error(`bench: ${sdk.label} block ${arm} ended ${got} spans, not ${want}`);
    }
    added.push(t.T - t.A);
    control.push(t.B - t.A);
    bare.push(t.A);
  }
  return { added: summary(added), control: summary(control), bare: summary(bare) };
}

/** Median and a 95% interval for it from order statistics (no shape assumed). */
function summary(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const n = s.length;
  const half = Math.ceil(0.98 * Math.sqrt(n)); // 1.96 / 2 · √n ranks either side
  const lo = Math.max(0, Math.floor((n - 1) / 2) - half);
  const hi = Math.min(n - 1, Math.ceil((n - 1) / 2) + half);
  const median = n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  return { median, lo: s[lo], hi: s[hi] };
}

function verdict(added, control, target) {
  // Below 6 samples even min..max covers the median less than 95% of the time.
  if (ROUNDS < 6) return 'no verdict: under 6 rounds';
  const noise = Math.max(Math.abs(control.lo), Math.abs(control.hi));
  if (added.hi < target) return 'within target';
  if (added.lo > target) return 'ABOVE target';
  return `undecided: interval straddles the target (A-vs-A noise ±${noise.toFixed(2)})`;
}

const fmt = (n, d) => n.toFixed(d).padStart(d + 5);
const range = (x, d) => `${fmt(x.median, d)} [${x.lo.toFixed(d)} .. ${x.hi.toFixed(d)}]`;
const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(', ');

const { factories, setStreamLength } = sdkClients({ definitions, long: LONG, short: SHORT });
const names = ONLY ?? Object.keys(factories);
const cores = os.availableParallelism();

console.log(
  `tokenfuse overhead per SDK, node ${process.version}, ${cores} cores, ${CLOCK === 'cpu' ? 'process CPU time' : 'wall time'}`,
);
console.log(
  `${ROUNDS} rounds of 3 blocks (bare A, bare B, instrumented T, order rotating); a block is ` +
    `${CALLS} calls, or ${STREAMS}x(${LONG} - ${SHORT})-chunk streams`,
);
console.log(
  'median µs [95% interval of the median]; T-A: added by tokenfuse; B-A: A-vs-A control\n',
);
const started = performance.now();
for (const name of names) {
  if (!factories[name]) throw new Error(`bench: unknown SDK ${name} (${Object.keys(factories)})`);
  const sdk = await factories[name]();
  // Warm-up, untimed: both paths through the JIT's top tier before anything counts (with a
  // few hundred calls the instrumented side was still partly unoptimised and its median read
  // twice as high).
  for (let done = 0; done < WARMUP; done += CALLS) {
    for (const on of [false, true]) {
      sdk.setInstrumented(on);
      await callBlock(sdk);
      await chunkBlock(sdk);
    }
  }
  const t0 = performance.now();
  const call = await measure(sdk, callBlock, CALLS);
  const chunk = await measure(sdk, chunkBlock, 2 * STREAMS);
  sdk.setInstrumented(false);
  const secs = ((performance.now() - t0) / 1000).toFixed(1);
  console.log(`${sdk.label}   (${secs} s, load average ${load()})`);
  console.log(
    `  per call   T-A ${range(call.added, 2)}   B-A ${range(call.control, 2)}   bare ${fmt(call.bare.median, 1)}   ratio ${(1 + call.added.median / call.bare.median).toFixed(3)}x   ${verdict(call.added, call.control, TARGET.call)}`,
  );
  console.log(
    `  per chunk  T-A ${range(chunk.added, 3)}   B-A ${range(chunk.control, 3)}   bare ${fmt(chunk.bare.median, 2)}   ratio ${(1 + chunk.added.median / chunk.bare.median).toFixed(3)}x   ${verdict(chunk.added, chunk.control, TARGET.chunk)}`,
  );
}
console.log(
  `\ntargets: < ${TARGET.call} µs per call, < ${TARGET.chunk} µs per chunk; ` +
    `${((performance.now() - started) / 1000).toFixed(0)} s in all, load average ${load()} on ${cores} cores`,
);
await meterProvider.shutdown();
await tracerProvider.shutdown();
