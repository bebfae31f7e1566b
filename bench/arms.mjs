// The arms the bench compares, all on one loaded copy of `openai` 7 in one process:
//   bare A, bare B   the SDK unpatched (B is the A-vs-A control: the same code twice)
//   tokenfuse        createTokenfuse() with its span processor, patched through its own
//                    module definition
//   the peers        @traceloop/instrumentation-openai, @opentelemetry/instrumentation-openai,
//                    @arizeai/openinference-instrumentation-openai (each patched through its
//                    own module definition), @langfuse/openai (a wrapped client)
//   floor            opt-in: the OpenTelemetry span alone, tokenfuse's span and nothing else
//                    (a hand patch; see "the floor" below)
//   sampled          opt-in: tokenfuse on a provider whose sampler drops every span
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
import { context, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { AlwaysOffSampler, BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
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
  /** Set to keep the next ended span in `kept` (bench/sdks.mjs: the floor copies its attributes). */
  keepNext: false,
  kept: undefined,
  onStart() {},
  onEnd(span) {
    this.ended++;
    if (this.keepNext) {
      this.kept = span;
      this.keepNext = false;
    }
  },
  forceFlush: () => Promise.resolve(),
  shutdown: () => Promise.resolve(),
};
/**
 * Where an arm's counts stand before a block: the spans ended so far, and the calls the arm
 * counted itself (an arm whose sampler drops every span has `counted()`; read outside any
 * timing). `proveInstrumented` compares with them after the block.
 */
export async function mark(arm) {
  return { ended: spans.ended, counted: arm.counted ? await arm.counted() : 0 };
}

/**
 * Fails the run when an arm did not instrument the `expected` calls since `from` (`mark`), or a
 * bare one did: a patch that silently did nothing would be timed or counted as free. An arm
 * whose spans are all dropped must end none and count every call itself.
 */
export async function proveInstrumented(arm, from, expected) {
  const got = spans.ended - from.ended;
  const ok = arm.spansPerCall === 0 ? got === 0 : got >= expected * arm.spansPerCall;
  if (!ok) throw new Error(`bench: ${arm.name} ended ${got} spans over ${expected} calls`);
  if (!arm.counted) return;
  const counted = (await arm.counted()) - from.counted;
  if (counted !== expected)
    throw new Error(`bench: ${arm.name} counted ${counted} calls of ${expected}`);
}

const sink = {
  export(_spans, done) {
    done({ code: 0 });
  },
  shutdown: () => Promise.resolve(),
  forceFlush: () => Promise.resolve(),
};
const providers = [];
function tracerProvider(extra = [], options = {}) {
  const p = new TracerProvider({
    ...options,
    spanProcessors: [...extra, new BatchSpanProcessor({ exporter: sink }), spans],
  });
  providers.push(p);
  return p;
}
/** A tracer on a provider of the arms' kind (batch processor to the sink, span counter). */
export const benchTracer = (name) => tracerProvider().getTracer(name);
/** A tracer provider of the arms' kind, for an instrumentation that takes one. */
export const benchTracerProvider = () => tracerProvider();
/** A meter provider of the arms' kind (a Prometheus reader, not served). */
export const benchMeterProvider = () => meterProvider();
function meterProvider() {
  const p = new MeterProvider({ readers: [new PrometheusExporter({ preventServerStart: true })] });
  providers.push(p);
  return p;
}

/**
 * A switch that patches (`set(true)`) or unpatches (`set(false)`) `moduleExports` with module
 * definitions (or module files), each `patch` / `unpatch` called as the instrumentation would.
 * `on`: whether the module is patched already.
 */
export function patchSwitch(defs, moduleExports, version, on = false) {
  return (want) => {
    if (want === on) return;
    for (const d of defs) (want ? d.patch : d.unpatch).call(d, moduleExports, version);
    on = want;
  };
}

/** Patches or unpatches the loaded `openai` with one instrumentation's module definition. */
function toggler(instrumentation) {
  // Older InstrumentationBase releases (Arize's) have no getModuleDefinitions(): init() is it.
  const defs = [instrumentation.getModuleDefinitions?.() ?? instrumentation.init()]
    .flat()
    .filter((d) => d.name === 'openai');
  if (defs.length === 0) throw new Error('bench: no module definition for openai');
  return patchSwitch(defs, openaiModule, OPENAI_VERSION);
}

/**
 * One arm: a name, the client its blocks call, and a switch that patches it in or out.
 * @typedef {{ name: string, client: any, set: (on: boolean) => void, spansPerCall: number }} Arm
 */

const bare = (name) => ({ name, client: baseClient, set: () => {}, spansPerCall: 0 });

async function tokenfuseArm(options = {}, name = 'tokenfuse', providerOptions = {}) {
  const tf = createTokenfuse({ metrics: { exporter: 'none' }, ...options });
  tf.instrumentation.setTracerProvider(tracerProvider([tf.spanProcessor], providerOptions));
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

/** The calls tokenfuse counted so far (`tokenfuse.requests`, every outcome), read as a reader would. */
async function requestsCounted(tf) {
  const { resourceMetrics } = await tf.metricProducer.collect();
  let n = 0;
  for (const scope of resourceMetrics.scopeMetrics)
    for (const m of scope.metrics)
      if (m.descriptor.name === 'tokenfuse.requests') for (const p of m.dataPoints) n += p.value;
  return n;
}

/**
 * tokenfuse with a sampler that drops every span (what OTEL_TRACES_SAMPLER=always_off gives,
 * or a ratio sampler's dropped calls): metrics, prices and fuses still count every call. It
 * ends no span, so its blocks are proven instrumented by tokenfuse's own request counter
 * (`counted`: the loops require one more per call), and must end none.
 */
async function sampledArm() {
  const arm = await tokenfuseArm({}, 'tokenfuse, every span sampled out (AlwaysOffSampler)', {
    sampler: new AlwaysOffSampler(),
  });
  arm.spansPerCall = 0;
  arm.counted = () => requestsCounted(arm.tf);
  return arm;
}

// ---- the floor: the OpenTelemetry span alone ---------------------------------------
// What tokenfuse asks of the OpenTelemetry SDK for one call, and nothing else: a span named
// `chat <model>`, kind CLIENT, with the same start attributes (those a sampler may read), the
// same attributes set right after the start, one `setAttribute` each, the span made active
// (trace.setSpan + context.with) around the SDK's own call, and one reaction on the promise it
// returns that sets the same end attributes, one `setAttribute` each, and ends the span. The
// values are read from the response where tokenfuse reads them; what tokenfuse computes
// (provider, key fingerprint and id, the price) is fixed here, so that only the span's work
// is left. Streams: the stream's iterator is observed and the span ended at its end, with the
// same attributes (no usage injection, no pieces kept: the per-chunk figure is only the
// observation). Errors end the span with `error.type`.
const completionsProto = Object.getPrototypeOf(baseClient.chat.completions);
const baseUrl = new URL(baseClient.baseURL);
const SERVER_ADDRESS = baseUrl.hostname;
const SERVER_PORT = Number(baseUrl.port || (baseUrl.protocol === 'https:' ? 443 : 80));

/** The patched `create` that only makes the span, on `tracer`. */
function floorCreate(original, tracer) {
  return function floorChatCreate(body, options) {
    const active = context.active();
    const span = tracer.startSpan(
      `chat ${body.model}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          'gen_ai.operation.name': 'chat',
          'gen_ai.provider.name': 'openai_compatible',
          'gen_ai.request.model': body.model,
          'server.address': SERVER_ADDRESS,
          'server.port': SERVER_PORT,
        },
      },
      active,
    );
    span.setAttribute('tokenfuse.api', 'chat.completions');
    span.setAttribute('tokenfuse.provider', 'openai_compatible');
    span.setAttribute('tokenfuse.api_key.fingerprint', 'c00397de');
    span.setAttribute('tokenfuse.api_key.id', 'cf455d176e194e1b');
    const promise = context.with(trace.setSpan(active, span), () =>
      original.call(this, body, options),
    );
    promise.then(
      (result) => {
        if (body.stream === true) observeStream(span, result);
        else {
          span.setAttribute('gen_ai.response.id', result.id);
          span.setAttribute(
            'gen_ai.response.finish_reasons',
            result.choices.map((c) => c.finish_reason),
          );
          endAttributes(span, result.model, result.usage);
          span.end();
        }
      },
      (err) => {
        span.setAttribute('error.type', err?.constructor?.name ?? '_OTHER');
        span.end();
      },
    );
    return promise;
  };
}

/** The attributes tokenfuse sets as a call ends (llm-call.ts setEndAttributes), one by one. */
function endAttributes(span, model, usage) {
  span.setAttribute('gen_ai.response.model', model);
  span.setAttribute('gen_ai.usage.input_tokens', usage.prompt_tokens);
  span.setAttribute('gen_ai.usage.output_tokens', usage.completion_tokens);
  const cached = usage.prompt_tokens_details?.cached_tokens ?? 0;
  if (cached > 0) span.setAttribute('gen_ai.usage.cache_read.input_tokens', cached);
  const reasoning = usage.completion_tokens_details?.reasoning_tokens ?? 0;
  if (reasoning > 0) span.setAttribute('gen_ai.usage.reasoning.output_tokens', reasoning);
  span.setAttribute('tokenfuse.usage.estimated', false);
  span.setAttribute(
    'tokenfuse.cost.usd',
    ((usage.prompt_tokens - cached) * 0.4 + cached * 0.1 + usage.completion_tokens * 1.6) / 1e6,
  );
  span.setAttribute('tokenfuse.priced', true);
}

/** Ends the span when the stream's iterator is done, with what its chunks said. */
function observeStream(span, stream) {
  const iterate = stream[Symbol.asyncIterator];
  stream[Symbol.asyncIterator] = function floorIterator() {
    const inner = iterate.call(this);
    let id;
    let model;
    let usage;
    const reasons = [];
    const onNext = (r) => {
      if (r.done) {
        span.setAttribute('gen_ai.response.id', id);
        span.setAttribute('gen_ai.response.finish_reasons', reasons);
        endAttributes(span, model, usage);
        span.end();
        return r;
      }
      const chunk = r.value;
      id = chunk.id;
      model = chunk.model;
      if (chunk.usage) usage = chunk.usage;
      const reason = chunk.choices[0]?.finish_reason;
      if (reason) reasons.push(reason);
      return r;
    };
    return {
      next: () => inner.next().then(onNext),
      return: (v) => {
        span.end();
        return inner.return(v);
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  };
}

/** Patches or unpatches openai's chat completions `create` with the floor's, on `tracer`. */
function floorToggler(tracer) {
  const original = completionsProto.create;
  const patched = floorCreate(original, tracer);
  let on = false;
  return (want) => {
    if (want === on) return;
    completionsProto.create = want ? patched : original;
    on = want;
  };
}

/** The attribute names of a span and each value's type, in order: `name: type`. */
const shape = (span) =>
  Object.entries(span.attributes).map(
    ([k, v]) => `${k}: ${Array.isArray(v) ? `${typeof v[0]}[]` : typeof v}`,
  );

/** The span one non-streamed call ends, on a provider of its own that keeps it. */
async function oneSpan(set, provider) {
  set(true);
  try {
    await call(baseClient);
  } finally {
    set(false);
  }
  const span = provider.kept;
  if (!span) throw new Error('bench: the probe call ended no span');
  return span;
}

/** A provider whose ended spans are kept (`provider.kept`, the last one), off the arms' ones. */
function keepingProvider() {
  const keep = {
    onStart() {},
    onEnd(span) {
      p.kept = span;
    },
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  };
  const p = new TracerProvider({ spanProcessors: [keep] });
  providers.push(p);
  return p;
}

/**
 * The floor arm. Once, at its start, the floor's span and a real tokenfuse span of the same
 * call must have the same attributes (names, order, types), or the bench fails: the floor
 * cannot drift from what tokenfuse does without anyone noticing.
 */
async function floorArm() {
  const tfProvider = keepingProvider();
  const tf = createTokenfuse({ metrics: { exporter: 'none' } });
  tf.instrumentation.setTracerProvider(tfProvider);
  tf.instrumentation.setMeterProvider(meterProvider());
  const ours = await oneSpan(toggler(tf.instrumentation), tfProvider);
  const floorProvider = keepingProvider();
  const floor = await oneSpan(floorToggler(floorProvider.getTracer('bench-floor')), floorProvider);
  const a = shape(ours).join(', ');
  const b = shape(floor).join(', ');
  if (a !== b || ours.name !== floor.name || ours.kind !== floor.kind)
    throw new Error(
      `bench: the floor's span is not tokenfuse's:\n  tokenfuse ${ours.name} ${ours.kind}: ${a}\n  floor     ${floor.name} ${floor.kind}: ${b}`,
    );
  return {
    name: `the OpenTelemetry span alone (${Object.keys(ours.attributes).length} attributes)`,
    client: baseClient,
    set: floorToggler(tracerProvider().getTracer('bench-floor')),
    spansPerCall: 1,
  };
}

/** The installed version of `pkg` (some packages do not export their package.json). */
/** The version of a package installed in bench/ (the peers). */
export const benchVersionOf = (pkg) =>
  JSON.parse(readFileSync(new URL(`node_modules/${pkg}/package.json`, import.meta.url), 'utf8'))
    .version;

/** Every arm by the name BENCH_ARMS uses, built lazily. */
export const ARM_FACTORIES = {
  tokenfuse: () => tokenfuseArm(),
  floor: () => floorArm(),
  sampled: () => sampledArm(),
  traceloop: async () =>
    otelArm(
      `@traceloop/instrumentation-openai ${benchVersionOf('@traceloop/instrumentation-openai')}`,
      (await import('@traceloop/instrumentation-openai')).OpenAIInstrumentation,
    ),
  otel: async () =>
    otelArm(
      `@opentelemetry/instrumentation-openai ${benchVersionOf('@opentelemetry/instrumentation-openai')} (hand-patched)`,
      (await import('@opentelemetry/instrumentation-openai')).OpenAIInstrumentation,
    ),
  langfuse: async () => {
    const arm = await langfuseArm();
    arm.name = `@langfuse/openai ${benchVersionOf('@langfuse/openai')}`;
    return arm;
  },
  arize: async () =>
    otelArm(
      `@arizeai/openinference-instrumentation-openai ${benchVersionOf('@arizeai/openinference-instrumentation-openai')}`,
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
