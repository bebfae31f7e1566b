// The arms the bench compares, all on one loaded copy of `openai` 7 in one process:
//   bare A, bare B   the SDK unpatched (B is the A-vs-A control: the same code twice)
//   tokenfuse        createTokenfuse() with its span processor, patched through its own
//                    module definition
//   the peers        @traceloop/instrumentation-openai, @opentelemetry/instrumentation-openai,
//                    @arizeai/openinference-instrumentation-openai (each patched through its
//                    own module definition), @langfuse/openai (a wrapped client)
// Every arm gets the same kind of OpenTelemetry providers: a TracerProvider whose
// BatchSpanProcessor exports to a sink that drops the batch, and a MeterProvider with a
// Prometheus reader (not served). tokenfuse's provider also carries tokenfuse.spanProcessor,
// part of what tokenfuse costs; the peers' provider does not (it would price their spans).
//
// The SDK calls an in-process fake `fetch` (the client's `fetch` option): no socket or
// server is timed, only the SDK and what instruments it.
//
// Version ranges: the OpenTelemetry instrumentation declares openai ">=4.19.0 <7" and
// Traceloop's ">=4 <7"; through `require` they would leave openai 7 alone. A user who wants
// them on openai 7 applies the module definition by hand, as below (`definition.patch(module)`
// skips the range check); the bench fails unless each block of an instrumented arm ended
// at least one span per call, so a patch that silently did nothing cannot be timed.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { createTokenfuse } from '../dist/index.js';

const require = createRequire(import.meta.url);
const openaiModule = require('openai');
export const OPENAI_VERSION = require('openai/version').VERSION;
const MODEL = 'gpt-4.1-mini';

context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());

// ---- the fake fetch --------------------------------------------------------------
const encoder = new TextEncoder();
const usage = (out) => ({
  prompt_tokens: 20,
  completion_tokens: out,
  total_tokens: 20 + out,
  prompt_tokens_details: { cached_tokens: 10 },
  completion_tokens_details: { reasoning_tokens: 0 },
});
const completionBody = JSON.stringify({
  id: 'chatcmpl-bench',
  object: 'chat.completion',
  created: 1,
  model: MODEL,
  choices: [
    {
      index: 0,
      message: { role: 'assistant', content: 'ok', refusal: null },
      finish_reason: 'stop',
    },
  ],
  usage: usage(2),
});
const frame = (choices, extra = {}) =>
  encoder.encode(
    `data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1, model: MODEL, choices, ...extra })}\n\n`,
  );
/** The frames of a stream of `n` content chunks, built once per length. */
const frames = new Map();
function streamFrames(n) {
  let f = frames.get(n);
  if (!f) {
    f = [
      frame([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]),
      ...Array.from({ length: n }, () =>
        frame([{ index: 0, delta: { content: 'word ' }, finish_reason: null }]),
      ),
      frame([{ index: 0, delta: {}, finish_reason: 'stop' }]),
      frame([], { usage: usage(n) }),
      encoder.encode('data: [DONE]\n\n'),
    ];
    frames.set(n, f);
  }
  return f;
}
let chunksNext = 50;
/** A body that hands out one pre-encoded frame per read, as a socket would. */
function sse(list) {
  let i = 0;
  const body = new ReadableStream({
    pull(controller) {
      if (i < list.length) controller.enqueue(list[i++]);
      else controller.close();
    },
  });
  return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
}
const STREAMING = /"stream":\s*true/;
async function fakeFetch(_url, init) {
  if (STREAMING.test(init.body)) return sse(streamFrames(chunksNext));
  return new Response(completionBody, { headers: { 'content-type': 'application/json' } });
}

const baseClient = new openaiModule.OpenAI({
  apiKey: 'sk-bench',
  baseURL: 'http://bench.invalid/v1',
  maxRetries: 0,
  fetch: fakeFetch,
});

// ---- providers -------------------------------------------------------------------
/** Counts ended spans, so the bench can prove each arm really instrumented its block. */
export const spans = {
  ended: 0,
  onStart() {},
  onEnd() {
    this.ended++;
  },
  forceFlush: () => Promise.resolve(),
  shutdown: () => Promise.resolve(),
};
const sink = {
  export(_spans, done) {
    done({ code: 0 });
  },
  shutdown: () => Promise.resolve(),
  forceFlush: () => Promise.resolve(),
};
const providers = [];
function tracerProvider(extra = []) {
  const p = new TracerProvider({
    spanProcessors: [...extra, new BatchSpanProcessor({ exporter: sink }), spans],
  });
  providers.push(p);
  return p;
}
function meterProvider() {
  const p = new MeterProvider({ readers: [new PrometheusExporter({ preventServerStart: true })] });
  providers.push(p);
  return p;
}

/** Patches or unpatches the loaded `openai` with one instrumentation's module definition. */
function toggler(instrumentation) {
  // Older InstrumentationBase releases (Arize's) have no getModuleDefinitions(): init() is it.
  const defs = [instrumentation.getModuleDefinitions?.() ?? instrumentation.init()]
    .flat()
    .filter((d) => d.name === 'openai');
  if (defs.length === 0) throw new Error('bench: no module definition for openai');
  let on = false;
  return (want) => {
    if (want === on) return;
    for (const d of defs) (want ? d.patch : d.unpatch).call(d, openaiModule, OPENAI_VERSION);
    on = want;
  };
}

/**
 * One arm: a name, the client its blocks call, and a switch that patches it in or out.
 * @typedef {{ name: string, client: any, set: (on: boolean) => void, spansPerCall: number }} Arm
 */

const bare = (name) => ({ name, client: baseClient, set: () => {}, spansPerCall: 0 });

async function tokenfuseArm(options = {}, name = 'tokenfuse') {
  const tf = createTokenfuse({ metrics: { exporter: 'none' }, ...options });
  tf.instrumentation.setTracerProvider(tracerProvider([tf.spanProcessor]));
  tf.instrumentation.setMeterProvider(meterProvider());
  return { name, client: baseClient, set: toggler(tf.instrumentation), spansPerCall: 1, tf };
}

/**
 * An OpenTelemetry-style instrumentation with its default config (enabled: its wrappers do
 * nothing otherwise), applied by hand to the `openai` already loaded; its `require` hook
 * only acts on later loads, and there are none.
 */
function otelArm(name, Instrumentation, config = {}) {
  const inst = new Instrumentation(config);
  inst.setTracerProvider(tracerProvider());
  inst.setMeterProvider(meterProvider());
  return { name, client: baseClient, set: toggler(inst), spansPerCall: 1 };
}

async function langfuseArm() {
  const { setLangfuseTracerProvider } = await import('@langfuse/tracing');
  const { observeOpenAI } = await import('@langfuse/openai');
  setLangfuseTracerProvider(tracerProvider());
  // A wrapper, not a patch: its arm calls the wrapped client, the bare arms the original.
  return {
    name: '@langfuse/openai',
    client: observeOpenAI(baseClient),
    set: () => {},
    spansPerCall: 1,
  };
}

/** The installed version of `pkg` (some packages do not export their package.json). */
const versionOf = (pkg) =>
  JSON.parse(readFileSync(new URL(`node_modules/${pkg}/package.json`, import.meta.url), 'utf8'))
    .version;

/** Every arm by the name BENCH_ARMS uses, built lazily. */
export const ARM_FACTORIES = {
  tokenfuse: () => tokenfuseArm(),
  traceloop: async () =>
    otelArm(
      `@traceloop/instrumentation-openai ${versionOf('@traceloop/instrumentation-openai')}`,
      (await import('@traceloop/instrumentation-openai')).OpenAIInstrumentation,
    ),
  otel: async () =>
    otelArm(
      `@opentelemetry/instrumentation-openai ${versionOf('@opentelemetry/instrumentation-openai')} (hand-patched)`,
      (await import('@opentelemetry/instrumentation-openai')).OpenAIInstrumentation,
    ),
  langfuse: async () => {
    const arm = await langfuseArm();
    arm.name = `@langfuse/openai ${versionOf('@langfuse/openai')}`;
    return arm;
  },
  arize: async () =>
    otelArm(
      `@arizeai/openinference-instrumentation-openai ${versionOf('@arizeai/openinference-instrumentation-openai')}`,
      (await import('@arizeai/openinference-instrumentation-openai')).OpenAIInstrumentation,
    ),
};

export { bare, tokenfuseArm };

// ---- the calls a block makes -----------------------------------------------------
const messages = [{ role: 'user', content: 'hello' }];
/** One non-streamed chat completion. */
export const call = (client) => client.chat.completions.create({ model: MODEL, messages });

/**
 * One stream of `n` content chunks; `now` is read at the start, at the first chunk and at
 * the end, so one stream gives both the time to first chunk and the whole stream.
 */
export async function stream(client, n, now) {
  chunksNext = n;
  const t0 = now();
  let first = 0;
  let seen = 0;
  const s = await client.chat.completions.create({ model: MODEL, messages, stream: true });
  for await (const c of s) {
    if (first === 0) first = now();
    if (c.choices[0]?.delta?.content) seen++;
  }
  const end = now();
  if (seen !== n) throw new Error(`bench: streamed ${seen} chunks, not ${n}`);
  return { ttfc: first - t0, total: end - t0 };
}

/** Flushes and shuts every provider down. */
export async function shutdownProviders() {
  for (const p of providers) await p.shutdown();
}
