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
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { TracerProvider } from '@opentelemetry/sdk-trace';
import { createTokenfuse } from '../dist/index.js';

const require = createRequire(import.meta.url);
const env = (name, fallback) => Number(process.env[name] ?? fallback);
const ROUNDS = env('BENCH_SDK_ROUNDS', 24);
const CALLS = env('BENCH_SDK_CALLS', 100);
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

/** The installed version of `pkg`, from the package.json above its entry point. */
function versionOf(pkg) {
  let dir = dirname(require.resolve(pkg));
  for (;;) {
    try {
      const json = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      if (json.version && json.name) return json.version;
    } catch {}
    const up = dirname(dir);
    if (up === dir) throw new Error(`bench: no package.json above ${pkg}`);
    dir = up;
  }
}

/** Patches or unpatches one loaded copy of an SDK with tokenfuse's own module definition. */
function toggler(instrumentedName, moduleExports, version) {
  const def = definitions.find((d) => d.name === instrumentedName);
  let on = false;
  return (want) => {
    if (want === on) return;
    (want ? def.patch : def.unpatch)(moduleExports, version);
    on = want;
  };
}

// ---- canned answers --------------------------------------------------------
const encoder = new TextEncoder();
/** A response body that hands out one pre-encoded frame per read, as a socket would. */
function frameStream(frames) {
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      if (i < frames.length) controller.enqueue(frames[i++]);
      else controller.close();
    },
  });
}
const sse = (frames) =>
  new Response(frameStream(frames), { headers: { 'content-type': 'text/event-stream' } });
const json = (body) => new Response(body, { headers: { 'content-type': 'application/json' } });
/** Frames of a stream of `n` content chunks, built once for the long and the short length. */
const byLength = (build) => ({ [LONG]: build(LONG), [SHORT]: build(SHORT) });
let chunksNext = SHORT; // which canned stream the next streamed call gets
// openai 4 sends its JSON body indented, the later majors compact.
const STREAMING = /"stream":\s*true/;

function openaiSpec(pkg) {
  const mod = require(pkg);
  const version = versionOf(pkg);
  const model = 'gpt-4.1-mini';
  const usage = (out) => ({
    prompt_tokens: 20,
    completion_tokens: out,
    total_tokens: 20 + out,
    prompt_tokens_details: { cached_tokens: 10 },
    completion_tokens_details: { reasoning_tokens: 0 },
  });
  const body = JSON.stringify({
    id: 'chatcmpl-bench',
    object: 'chat.completion',
    created: 1,
    model,
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
      `data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1, model, choices, ...extra })}\n\n`,
    );
  const streams = byLength((n) => [
    frame([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]),
    ...Array.from({ length: n }, () =>
      frame([{ index: 0, delta: { content: 'word ' }, finish_reason: null }]),
    ),
    frame([{ index: 0, delta: {}, finish_reason: 'stop' }]),
    frame([], { usage: usage(n) }),
    encoder.encode('data: [DONE]\n\n'),
  ]);
  const client = new mod.OpenAI({
    apiKey: 'sk-bench',
    baseURL: 'http://bench.invalid/v1',
    maxRetries: 0,
    fetch: async (_url, init) =>
      STREAMING.test(init.body) ? sse(streams[chunksNext]) : json(body),
  });
  const messages = [{ role: 'user', content: 'hello' }];
  return {
    label: `openai ${version}${pkg === 'openai' ? '' : ` (${pkg})`}`,
    setInstrumented: toggler('openai', mod, version),
    call: () => client.chat.completions.create({ model, messages }),
    async stream() {
      let chunks = 0;
      const s = await client.chat.completions.create({ model, messages, stream: true });
      for await (const c of s) if (c.choices[0]?.delta?.content) chunks++;
      return chunks;
    },
  };
}

function anthropicSpec() {
  const mod = require('@anthropic-ai/sdk');
  const version = versionOf('@anthropic-ai/sdk');
  const model = 'claude-sonnet-4-5';
  const usage = {
    input_tokens: 20,
    cache_read_input_tokens: 10,
    cache_creation_input_tokens: 0,
    output_tokens: 2,
  };
  const message = { id: 'msg_bench', type: 'message', role: 'assistant', model };
  const body = JSON.stringify({
    ...message,
    content: [{ type: 'text', text: 'ok' }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage,
  });
  const frame = (type, data) =>
    encoder.encode(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
  const streams = byLength((n) => [
    frame('message_start', {
      message: {
        ...message,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { ...usage, output_tokens: 1 },
      },
    }),
    frame('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
    ...Array.from({ length: n }, () =>
      frame('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'word ' } }),
    ),
    frame('content_block_stop', { index: 0 }),
    frame('message_delta', {
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { output_tokens: n },
    }),
    frame('message_stop', {}),
  ]);
  const client = new mod.Anthropic({
    apiKey: 'sk-ant-bench',
    baseURL: 'http://bench.invalid',
    maxRetries: 0,
    fetch: async (_url, init) =>
      STREAMING.test(init.body) ? sse(streams[chunksNext]) : json(body),
  });
  const messages = [{ role: 'user', content: 'hello' }];
  return {
    label: `@anthropic-ai/sdk ${version}`,
    setInstrumented: toggler('@anthropic-ai/sdk', mod, version),
    call: () => client.messages.create({ model, max_tokens: 64, messages }),
    async stream() {
      let chunks = 0;
      const s = await client.messages.create({ model, max_tokens: 64, messages, stream: true });
      for await (const e of s) if (e.type === 'content_block_delta') chunks++;
      return chunks;
    },
  };
}

function googleSpec() {
  const mod = require('@google/genai');
  const version = versionOf('@google/genai');
  const model = 'gemini-2.5-flash';
  const usageMetadata = (out) => ({
    promptTokenCount: 20,
    cachedContentTokenCount: 10,
    candidatesTokenCount: out,
    thoughtsTokenCount: 0,
    totalTokenCount: 20 + out,
  });
  const response = (text, finish, usage) => ({
    candidates: [
      {
        content: { parts: [{ text }], role: 'model' },
        index: 0,
        ...(finish ? { finishReason: finish } : {}),
      },
    ],
    ...(usage ? { usageMetadata: usage } : {}),
    modelVersion: model,
    responseId: 'resp-bench',
  });
  const body = JSON.stringify(response('ok', 'STOP', usageMetadata(2)));
  const frame = (r) => encoder.encode(`data: ${JSON.stringify(r)}\r\n\r\n`);
  const running = { promptTokenCount: 20, totalTokenCount: 20 };
  const streams = byLength((n) =>
    Array.from({ length: n }, (_, i) =>
      frame(
        i === n - 1
          ? response('word ', 'STOP', usageMetadata(n))
          : response('word ', undefined, running),
      ),
    ),
  );
  const client = new mod.GoogleGenAI({
    apiKey: 'bench',
    httpOptions: {
      baseUrl: 'http://bench.invalid',
      fetch: async (url) =>
        String(url).includes('streamGenerateContent') ? sse(streams[chunksNext]) : json(body),
    },
  });
  const contents = 'hello';
  return {
    label: `@google/genai ${version}`,
    setInstrumented: toggler('@google/genai', mod, version),
    call: () => client.models.generateContent({ model, contents }),
    async stream() {
      let chunks = 0;
      for await (const c of await client.models.generateContentStream({ model, contents })) {
        if (c.candidates?.[0]) chunks++;
      }
      return chunks;
    },
  };
}

async function bedrockSpec() {
  const mod = require('@aws-sdk/client-bedrock-runtime');
  const version = versionOf('@aws-sdk/client-bedrock-runtime');
  const { EventStreamCodec } = await import('@smithy/core/event-streams');
  const codec = new EventStreamCodec(
    (bytes) => Buffer.from(bytes).toString('utf8'),
    (text) => new Uint8Array(Buffer.from(text, 'utf8')),
  );
  const event = (type, payload) =>
    codec.encode({
      headers: {
        ':event-type': { type: 'string', value: type },
        ':content-type': { type: 'string', value: 'application/json' },
        ':message-type': { type: 'string', value: 'event' },
      },
      body: encoder.encode(JSON.stringify(payload)),
    });
  const modelId = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';
  const usage = (out) => ({ inputTokens: 20, outputTokens: out, totalTokens: 20 + out });
  const body = Buffer.from(
    JSON.stringify({
      output: { message: { role: 'assistant', content: [{ text: 'ok' }] } },
      stopReason: 'end_turn',
      usage: usage(2),
      metrics: { latencyMs: 1 },
    }),
  );
  const streams = byLength((n) => [
    event('messageStart', { role: 'assistant' }),
    ...Array.from({ length: n }, () =>
      event('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'word ' } }),
    ),
    event('contentBlockStop', { contentBlockIndex: 0 }),
    event('messageStop', { stopReason: 'end_turn' }),
    event('metadata', { usage: usage(n), metrics: { latencyMs: 1 } }),
  ]);
  const requestHandler = {
    async handle(request) {
      const stream = request.path.endsWith('/converse-stream');
      return {
        response: {
          statusCode: 200,
          reason: 'OK',
          headers: {
            'content-type': stream ? 'application/vnd.amazon.eventstream' : 'application/json',
            'x-amzn-requestid': 'req-bench',
          },
          body: stream ? Readable.from(streams[chunksNext]) : Readable.from([body]),
        },
      };
    },
    updateHttpClientConfig() {},
    httpHandlerConfigs: () => ({}),
  };
  const client = new mod.BedrockRuntimeClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'x' },
    maxAttempts: 1,
    requestHandler,
  });
  const messages = [{ role: 'user', content: [{ text: 'hello' }] }];
  return {
    label: `@aws-sdk/client-bedrock-runtime ${version}`,
    setInstrumented: toggler('@aws-sdk/client-bedrock-runtime', mod, version),
    call: () => client.send(new mod.ConverseCommand({ modelId, messages })),
    async stream() {
      let chunks = 0;
      const out = await client.send(new mod.ConverseStreamCommand({ modelId, messages }));
      for await (const e of out.stream) if (e.contentBlockDelta) chunks++;
      return chunks;
    },
  };
}

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
      chunksNext = n;
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

const factories = {
  openai: () => openaiSpec('openai'),
  'openai-v4': () => openaiSpec('openai-v4'),
  anthropic: anthropicSpec,
  'google-genai': googleSpec,
  bedrock: bedrockSpec,
};
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
  for (const on of [false, true, false, true]) {
    // Warm-up, untimed: both paths through the JIT before anything counts.
    sdk.setInstrumented(on);
    await callBlock(sdk);
    await chunkBlock(sdk);
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
