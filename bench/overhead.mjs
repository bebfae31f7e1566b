// Overhead of tokenfuse on the openai SDK, measured in one process.
//
//   npm run bench
//
// The bare SDK and the instrumented SDK (the same module, patched and unpatched
// between blocks) call an in-process fake `fetch`, in alternating blocks so that
// drift (JIT, GC, a busy neighbour) hits both alike. Each pair of blocks gives
// one sample of the added time per call, and per streamed chunk; we report the
// median and p99 of those samples, and the ratio against the bare SDK.
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { TracerProvider } from '@opentelemetry/sdk-trace';
import { createTokenfuse } from '../dist/index.js';

const require = createRequire(import.meta.url);
const BLOCKS = Number(process.env.BENCH_BLOCKS ?? 60);
const CALLS_PER_BLOCK = Number(process.env.BENCH_CALLS ?? 200);
const STREAMS_PER_BLOCK = Number(process.env.BENCH_STREAMS ?? 10);
const CHUNKS_PER_STREAM = Number(process.env.BENCH_CHUNKS ?? 500);

context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
const tokenfuse = createTokenfuse({ metrics: { exporter: 'none' } });
const tracerProvider = new TracerProvider({ spanProcessors: [tokenfuse.spanProcessor] });
const meterProvider = new MeterProvider({
  readers: [new PrometheusExporter({ preventServerStart: true })],
});
tokenfuse.instrumentation.setTracerProvider(tracerProvider);
tokenfuse.instrumentation.setMeterProvider(meterProvider);

const openaiModule = require('openai');
const version = require('openai/version').VERSION;
const definitions = tokenfuse.instrumentation.getModuleDefinitions();
// Tracked here: since the per-SDK adapters, what is patched is no longer `create` itself,
// and asking the module would patch twice or unpatch what is not patched.
let patched = false;
function setInstrumented(on) {
  if (on === patched) return;
  for (const def of definitions.filter((d) => d.name === 'openai')) {
    (on ? def.patch : def.unpatch)(openaiModule, version);
  }
  patched = on;
}

// ---- the fake fetch -------------------------------------------------------
const encoder = new TextEncoder();
const completionBody = JSON.stringify({
  id: 'chatcmpl-bench',
  object: 'chat.completion',
  created: 1,
  model: 'gpt-4.1-mini',
  choices: [
    {
      index: 0,
      message: { role: 'assistant', content: 'ok', refusal: null },
      finish_reason: 'stop',
    },
  ],
  usage: {
    prompt_tokens: 20,
    completion_tokens: 2,
    total_tokens: 22,
    prompt_tokens_details: { cached_tokens: 10 },
    completion_tokens_details: { reasoning_tokens: 0 },
  },
});
const chunk = (delta, extra = {}) =>
  encoder.encode(
    `data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1, model: 'gpt-4.1-mini', choices: [{ index: 0, delta, finish_reason: null }], ...extra })}\n\n`,
  );
const streamChunks = [chunk({ role: 'assistant', content: '' })];
for (let i = 0; i < CHUNKS_PER_STREAM; i++) streamChunks.push(chunk({ content: 'word ' }));
streamChunks.push(
  encoder.encode(
    `data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1, model: 'gpt-4.1-mini', choices: [], usage: { prompt_tokens: 20, completion_tokens: CHUNKS_PER_STREAM, total_tokens: 20 + CHUNKS_PER_STREAM } })}\n\n`,
  ),
);
streamChunks.push(encoder.encode('data: [DONE]\n\n'));

async function fakeFetch(_url, init) {
  const body = JSON.parse(init.body);
  if (body.stream) {
    let i = 0;
    const stream = new ReadableStream({
      pull(controller) {
        if (i < streamChunks.length) controller.enqueue(streamChunks[i++]);
        else controller.close();
      },
    });
    return new Response(stream, { headers: { 'content-type': 'text/event-stream' } });
  }
  return new Response(completionBody, { headers: { 'content-type': 'application/json' } });
}

const client = new openaiModule.OpenAI({
  apiKey: 'sk-bench',
  baseURL: 'http://bench.invalid/v1',
  fetch: fakeFetch,
  maxRetries: 0,
});
const messages = [{ role: 'user', content: 'hello' }];

async function callBlock() {
  const t0 = performance.now();
  for (let i = 0; i < CALLS_PER_BLOCK; i++) {
    await client.chat.completions.create({ model: 'gpt-4.1-mini', messages });
  }
  return ((performance.now() - t0) * 1000) / CALLS_PER_BLOCK; // µs per call
}

async function streamBlock() {
  const t0 = performance.now();
  let chunks = 0;
  for (let i = 0; i < STREAMS_PER_BLOCK; i++) {
    const stream = await client.chat.completions.create({
      model: 'gpt-4.1-mini',
      messages,
      stream: true,
    });
    for await (const c of stream) if (c.choices[0]) chunks++;
  }
  return ((performance.now() - t0) * 1000) / chunks; // µs per chunk
}

function quantile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function measure(block) {
  const added = [];
  const bare = [];
  for (let b = 0; b < BLOCKS; b++) {
    // Alternate which side goes first, so neither always runs on a warmer heap.
    const order = b % 2 === 0 ? [false, true] : [true, false];
    const r = {};
    for (const on of order) {
      setInstrumented(on);
      r[on] = await block();
    }
    added.push(r[true] - r[false]);
    bare.push(r[false]);
  }
  added.sort((a, b) => a - b);
  bare.sort((a, b) => a - b);
  return {
    median: quantile(added, 0.5),
    p99: quantile(added, 0.99),
    bareMedian: quantile(bare, 0.5),
  };
}

// Warm-up: both paths, untimed.
for (const on of [false, true, false, true]) {
  setInstrumented(on);
  await callBlock();
  await streamBlock();
}

const call = await measure(callBlock);
const stream = await measure(streamBlock);
setInstrumented(false);

const fmt = (n) => n.toFixed(3).padStart(8);
console.log(`tokenfuse overhead on openai ${version}, node ${process.version}`);
console.log(
  `${BLOCKS} alternating block pairs; ${CALLS_PER_BLOCK} calls or ${STREAMS_PER_BLOCK}x${CHUNKS_PER_STREAM}-chunk streams per block\n`,
);
console.log(
  '                       added µs (median)   added µs (p99)   bare SDK µs (median)   ratio (median)',
);
console.log(
  `per non-streaming call ${fmt(call.median)}            ${fmt(call.p99)}         ${fmt(call.bareMedian)}              ${(1 + call.median / call.bareMedian).toFixed(3)}x`,
);
console.log(
  `per streamed chunk     ${fmt(stream.median)}            ${fmt(stream.p99)}         ${fmt(stream.bareMedian)}              ${(1 + stream.median / stream.bareMedian).toFixed(3)}x`,
);
console.log('\ntargets: < 10 µs per call, < 0.3 µs per chunk');
await meterProvider.shutdown();
await tracerProvider.shutdown();
