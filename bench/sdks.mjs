// The `sdks` section: what tokenfuse adds to each SDK it instruments, with the method of the
// `sdk` section (bench/measure.mjs: seeded random block order, warm-up, A-vs-A control,
// medians with a 95% interval, per chunk as the marginal cost of 500- vs 50-chunk streams).
//
//   BENCH_SECTIONS=sdks npm run bench
//   BENCH_SECTIONS=sdks BENCH_SDKS=anthropic,bedrock BENCH_ROUNDS=60 npm run bench
//
// Per SDK, three arms on that SDK's own client (bench/sdk-clients.mjs): bare A, bare B (the
// A-vs-A control) and tokenfuse, the same loaded module patched and unpatched through
// tokenfuse's own module definition for it. The AI SDK is not patched but wrapped: its
// tokenfuse arm calls the model wrapped with `tokenfuseMiddleware()`, its bare arms the
// model itself. The span counter of bench/arms.mjs fails the run unless every tokenfuse
// block ended a span per call and every bare block none.
//
// BENCH_SDK_ARMS (opt-in, comma-separated) adds arms beside tokenfuse on every SDK, which split
// its figure as the `sdk` section's floor and sampled arms split openai 7's:
//   sampled   tokenfuse on a second tracer provider whose sampler drops every span: the
//             accounting (tags, admission, pricing, metrics, fuses) without the span. Proven by
//             tokenfuse's own request counter (one per call) and no span ended.
//   floor     the OpenTelemetry span alone, around the bare SDK's call: a span with the name,
//             kind and attributes (names, values, order) of tokenfuse's span of the same call on
//             that SDK (copied from one real call at the start), the five start attributes given
//             to startSpan, the request ones set one by one before the call, made active around
//             it, the response ones set one by one when it resolves, then ended. Per call only:
//             its stream blocks end the span when the stream ends, observing no chunk.
//   peer      the instrumentation a user of that SDK would pick instead, where there is one
//             (the `sdk` section has openai 7's). On Bedrock, @opentelemetry/instrumentation-aws-sdk:
//             its Client.send patch, applied by hand to the @smithy/core the client is built on,
//             on a second client of its own (the patch instruments the clients it sends through
//             for good, unpatched or not). On the AI SDK, its own telemetry
//             (`experimental_telemetry: { isEnabled: true }`: two spans a call, inputs and
//             outputs recorded, as by default). Both on the bench's tracer and meter providers,
//             with their default configuration. Anthropic has none that instruments 1.x
//             (docs/performance.md, s13). Run it with BENCH_SECTIONS=sdks alone: the `sdk`
//             section's tokenfuse instances, still loaded, patch Bedrock's client too when it
//             loads, over the sdks section's, and the aws-sdk peer is then never reached (the
//             span check fails the run, saying so).
import { createRequire } from 'node:module';
import { context, trace } from '@opentelemetry/api';
import {
  ARM_FACTORIES,
  benchMeterProvider,
  benchTracer,
  benchTracerProvider,
  benchVersionOf,
  patchSwitch,
  spans,
  tokenfuseArm,
} from './arms.mjs';
import { aiSdk, SDK_FACTORIES } from './sdk-clients.mjs';
import { require as sdkRequire } from './sdk-fakes.mjs';

export const SDK_NAMES = [...Object.keys(SDK_FACTORIES), 'ai-sdk'];

/** Patches or unpatches one loaded SDK with tokenfuse's module definition for it. */
function toggler(definitions, sdk) {
  const defs = definitions.filter((d) => d.name === sdk.definition);
  if (defs.length === 0)
    throw new Error(`bench: tokenfuse has no module definition for ${sdk.definition}`);
  // Loaded after the instrumentation, the SDK is patched already (its require hook): start
  // from unpatched, or the bare arms' warm-up runs instrumented until the first switch.
  const set = patchSwitch(defs, sdk.module, sdk.version, true);
  set(false);
  return set;
}

const noop = () => {};
/** One arm of measure() on an SDK's side (`sdkSides`): its own call and stream, its switch. */
export const arm = (name, side, set, spansPerCall) => ({
  name,
  call: side.call,
  stream: side.stream,
  set,
  spansPerCall,
});

/**
 * One SDK's two sides on one loaded client, by its BENCH_SDKS name: `bare` and `tokenfuse`,
 * each { call, stream(n, now), set(on) }. The tokenfuse side of a patched SDK is the same
 * client with `set(true)` patching it through tokenfuse's module definition (both sides start
 * unpatched); the AI SDK's is the model wrapped with `tokenfuseMiddleware()`, its `set` a no-op.
 * Also what bench/instructions-loop.mjs counts for INSTR_SDKS.
 * @param {string} name
 * @param {any} tf a tokenfuse instance (bench/arms.mjs tokenfuseArm: its span counter included)
 * @param {any[]} definitions tf.instrumentation.getModuleDefinitions()
 */
export async function sdkSides(name, tf, definitions) {
  if (name === 'ai-sdk') {
    const s = await aiSdk(tf);
    return {
      label: s.label,
      bare: { ...s.bare, set: noop },
      tokenfuse: { ...s.instrumented, set: noop },
    };
  }
  const factory = SDK_FACTORIES[name];
  if (!factory) throw new Error(`bench: unknown SDK ${name} (${SDK_NAMES})`);
  const sdk = await factory();
  const side = (set) => ({ call: sdk.call, stream: sdk.stream, set });
  return { label: sdk.label, bare: side(noop), tokenfuse: side(toggler(definitions, sdk)) };
}

/** The attributes tokenfuse gives to startSpan (src/instrumentation/call-attributes.ts). */
const START_KEYS = new Set([
  'gen_ai.operation.name',
  'gen_ai.provider.name',
  'gen_ai.request.model',
  'server.address',
  'server.port',
]);
/** The attributes tokenfuse sets once the call has its response (or its error). */
const isEndKey = (key) =>
  /^(gen_ai\.response\.|gen_ai\.usage\.|error\.type$|tokenfuse\.(cost\.usd|priced|usage\.estimated)$)/.test(
    key,
  );

/**
 * The floor arm on one SDK (see the header): `tokenfuse`'s side makes one real call first,
 * whose span the floor copies.
 */
async function floorSide(name, bare, tokenfuse) {
  tokenfuse.set(true);
  spans.keepNext = true;
  try {
    await tokenfuse.call();
  } finally {
    tokenfuse.set(false);
    spans.keepNext = false;
  }
  const ours = spans.kept;
  spans.kept = undefined;
  if (!ours) throw new Error(`bench: tokenfuse's probe call on ${name} ended no span`);
  const entries = Object.entries(ours.attributes);
  const start = Object.fromEntries(entries.filter(([k]) => START_KEYS.has(k)));
  const request = entries.filter(([k]) => !START_KEYS.has(k) && !isEndKey(k));
  const response = entries.filter(([k]) => isEndKey(k));
  const tracer = benchTracer(`bench-floor-${name}`);
  const around = (run) => {
    const active = context.active();
    // A fresh start-attributes object per call, as tokenfuse makes one.
    const span = tracer.startSpan(ours.name, { kind: ours.kind, attributes: { ...start } }, active);
    for (const [k, v] of request) span.setAttribute(k, v);
    return context.with(trace.setSpan(active, span), run).then(
      (result) => {
        for (const [k, v] of response) span.setAttribute(k, v);
        span.end();
        return result;
      },
      (err) => {
        span.setAttribute('error.type', err?.constructor?.name ?? '_OTHER');
        span.end();
        throw err;
      },
    );
  };
  return {
    call: () => around(bare.call),
    stream: (n, now) => around(() => bare.stream(n, now)),
    set: noop,
  };
}

/** The peers of the `peer` arm, by SDK: each resolves to a side and a subject. */
const PEERS = {
  async bedrock() {
    const { AwsInstrumentation } = await import('@opentelemetry/instrumentation-aws-sdk');
    // Not enabled: no require hooks; its module file is applied by hand below.
    const inst = new AwsInstrumentation({ enabled: false });
    inst.setTracerProvider(benchTracerProvider());
    inst.setMeterProvider(benchMeterProvider());
    const fromClient = createRequire(sdkRequire.resolve('@aws-sdk/client-bedrock-runtime'));
    const file = '@smithy/core/dist-cjs/submodules/client/index.js';
    const def = inst
      .getModuleDefinitions()
      .flatMap((d) => d.files)
      .find((f) => f.name === file);
    if (!def) throw new Error(`bench: instrumentation-aws-sdk has no definition for ${file}`);
    const coreVersion = fromClient('@smithy/core/package.json').version;
    const sdk = await SDK_FACTORIES.bedrock();
    // Its patch wraps `Client.prototype.send` of the @smithy/core the client is built on.
    const exports = fromClient('@smithy/core/client');
    return {
      subject: `@opentelemetry/instrumentation-aws-sdk ${benchVersionOf('@opentelemetry/instrumentation-aws-sdk')} on ${sdk.label}`,
      side: { call: sdk.call, stream: sdk.stream, set: patchSwitch([def], exports, coreVersion) },
    };
  },
  async 'ai-sdk'(tf) {
    const s = await aiSdk(tf);
    return {
      subject: `the AI SDK's own telemetry (experimental_telemetry) on ${s.label}`,
      side: { ...s.telemetry(benchTracer('bench-ai-telemetry')), set: noop },
    };
  },
};

/**
 * Runs the section; returns its rows (bench/stats.mjs).
 * @param {{ env: any, log: (line: string) => void, measure: Function, target: { call: number, chunk: number }, clockName: string }} ctx
 */
export async function sdksSection({ env, log, measure, target, clockName }) {
  const names = process.env.BENCH_SDKS?.split(',').map((s) => s.trim()) ?? SDK_NAMES;
  // One tokenfuse, on the bench's providers (its span counter included).
  const { tf } = await tokenfuseArm({}, 'tokenfuse');
  const definitions = tf.instrumentation.getModuleDefinitions();
  const extras = process.env.BENCH_SDK_ARMS?.split(',').map((s) => s.trim()) ?? [];
  for (const x of extras)
    if (x !== 'floor' && x !== 'sampled' && x !== 'peer')
      throw new Error(`bench: unknown BENCH_SDK_ARMS arm ${x} (floor, sampled, peer)`);
  // Every SDK is loaded (and unpatched) before a second tokenfuse exists: its require hooks
  // would otherwise patch an SDK loaded later a second time, under the first one's patch.
  const sides = [];
  for (const name of names) sides.push({ name, ...(await sdkSides(name, tf, definitions)) });
  const sampled = extras.includes('sampled') ? await ARM_FACTORIES.sampled() : undefined;
  const rows = [];
  for (const { name, label, bare, tokenfuse } of sides) {
    const arms = [
      arm(`bare ${name} (A)`, bare, noop, 0),
      arm(`bare ${name} (B)`, bare, noop, 0),
      arm(`tokenfuse on ${name}`, tokenfuse, tokenfuse.set, 1),
    ];
    arms[2].subject = `tokenfuse on ${label}`;
    arms[2].targeted = true;
    if (sampled) {
      const s = (
        await sdkSides(name, sampled.tf, sampled.tf.instrumentation.getModuleDefinitions())
      ).tokenfuse;
      const a = arm(`tokenfuse, spans sampled out, on ${name}`, s, s.set, 0);
      a.counted = sampled.counted;
      a.subject = `tokenfuse, spans sampled out (AlwaysOffSampler), on ${label}`;
      arms.push(a);
    }
    if (extras.includes('floor')) {
      const f = await floorSide(name, bare, tokenfuse);
      const a = arm(`the span alone on ${name}`, f, f.set, 1);
      a.subject = `the OpenTelemetry span alone (tokenfuse's, copied) on ${label}`;
      a.callOnly = true;
      arms.push(a);
    }
    if (extras.includes('peer') && PEERS[name]) {
      const p = await PEERS[name](tf);
      const a = arm(`peer on ${name}`, p.side, p.side.set, 1);
      a.subject = p.subject;
      arms.push(a);
    }
    log(`sdks: ${label}; ${env.rounds} rounds`);
    const f = await measure({ ...env, arms, log });
    const spec = {
      call: [`added per call, µs ${clockName}`, target.call],
      // The call blocks again on the wall clock: CPU added but not wall time added ran on
      // another thread (the collector's helpers, background compiles).
      ...(clockName === 'CPU'
        ? { wall: ['added per call, µs wall (same blocks)', undefined] }
        : {}),
      chunk: [`added per chunk (${env.long} − ${env.short}), µs ${clockName}`, target.chunk],
    };
    for (const [kind, [figure, goal]] of Object.entries(spec)) {
      const x = f[kind];
      if (!x) continue;
      for (const { arm: a, added } of x.added) {
        if (a.callOnly && kind !== 'call' && kind !== 'wall') continue;
        rows.push({
          figure,
          subject: a.subject,
          value: added,
          control: x.control,
          target: a.targeted ? goal : undefined,
          note: `bare ${x.bare.median.toFixed(kind === 'chunk' ? 2 : 1)} µs`,
        });
      }
    }
  }
  return rows;
}
