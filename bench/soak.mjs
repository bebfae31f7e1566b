// Soak: a million calls through the real openai SDK with tokenfuse and in-memory budgets,
// checking that nothing accumulates and every call is accounted exactly once.
//
//   npm run bench:soak                     (SOAK_CALLS=1000000 by default)
//   SOAK_CALLS=50000 npm run bench:soak    (a quick run)
//
// The SDK talks to an in-process fake `fetch` (the client's `fetch` option), so the run
// measures tokenfuse and the SDK, not a network. The calls are a fixed mix, repeated:
// plain completions, full streams, HTTP 500s (20% of calls, streamed and not), streams
// aborted midway by an AbortController, streams left by `break`, and calls aborted before
// they are sent; SOAK_CONCURRENCY callers run side by side.
//
// Invariants (exit code 1 when one fails):
//   - every budget has nothing reserved at the end (tokens, usd and requests all 0);
//   - spans started == spans ended (counted by a span processor);
//   - tokenfuse_requests_total (all outcomes) == calls made, and its `error` outcome ==
//     calls that failed with an HTTP 500 or were aborted before being sent;
//   - heap used after the run (after GC) grew by less than SOAK_MAX_HEAP_GROWTH_MB over
//     the heap after warm-up (after GC).
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { TracerProvider } from '@opentelemetry/sdk-trace';
import { createTokenfuse } from '../dist/index.js';

const require = createRequire(import.meta.url);
const CALLS = Number(process.env.SOAK_CALLS ?? 1_000_000);
const CONCURRENCY = Number(process.env.SOAK_CONCURRENCY ?? 16);
const WARMUP = Number(process.env.SOAK_WARMUP ?? Math.min(20_000, Math.ceil(CALLS / 10)));
const MAX_HEAP_GROWTH_MB = Number(process.env.SOAK_MAX_HEAP_GROWTH_MB ?? 64);
const STREAM_WORDS = 8;

if (typeof globalThis.gc !== 'function') {
  console.error('soak: run node with --expose-gc (npm run bench:soak does)');
  process.exit(2);
}

context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
const tokenfuse = createTokenfuse({
  metrics: { exporter: 'none' },
  // Limits far above what the soak spends: every call is admitted, reserved and settled.
  // The minute window rolls several times during a full run; the rolling one slides.
  budgets: [
    { name: 'soak-minute', window: 'minute', limit: { tokens: 1e15, usd: 1e9 } },
    { name: 'soak-rolling', window: { rolling: '30s' }, limit: { requests: 1e12 } },
  ],
});

/** Counts span starts and ends: they must be equal once every call has finished. */
const spanCounter = {
  started: 0,
  ended: 0,
  onStart() {
    this.started++;
  },
  onEnding() {},
  onEnd() {
    this.ended++;
  },
  forceFlush: () => Promise.resolve(),
  shutdown: () => Promise.resolve(),
};
const tracerProvider = new TracerProvider({
  spanProcessors: [tokenfuse.spanProcessor, spanCounter],
});
const prometheus = new PrometheusExporter({ preventServerStart: true });
const meterProvider = new MeterProvider({ readers: [prometheus] });
tokenfuse.instrumentation.setTracerProvider(tracerProvider);
tokenfuse.instrumentation.setMeterProvider(meterProvider);

const openaiModule = require('openai');
const version = require('openai/version').VERSION;
for (const def of tokenfuse.instrumentation.getModuleDefinitions())
  def.patch(openaiModule, version);

// ---- the fake fetch -------------------------------------------------------
const encoder = new TextEncoder();
const usage = (completion) => ({
  prompt_tokens: 9,
  completion_tokens: completion,
  total_tokens: 9 + completion,
  prompt_tokens_details: { cached_tokens: 0 },
  completion_tokens_details: { reasoning_tokens: 0 },
});
const completionBody = JSON.stringify({
  id: 'chatcmpl-soak',
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
  usage: usage(1),
});
const errorBody = JSON.stringify({
  error: { message: 'The server had an error', type: 'server_error', param: null, code: null },
});
const frame = (choices, extra = {}) =>
  encoder.encode(
    `data: ${JSON.stringify({ id: 'chatcmpl-soak', object: 'chat.completion.chunk', created: 1, model: 'gpt-4.1-mini', choices, ...extra })}\n\n`,
  );
const streamFrames = [frame([{ index: 0, delta: { role: 'assistant', content: '' } }])];
for (let i = 0; i < STREAM_WORDS; i++)
  streamFrames.push(frame([{ index: 0, delta: { content: ' word' }, finish_reason: null }]));
streamFrames.push(frame([{ index: 0, delta: {}, finish_reason: 'stop' }]));
streamFrames.push(frame([], { usage: usage(STREAM_WORDS) }));
streamFrames.push(encoder.encode('data: [DONE]\n\n'));

const abortError = () => new DOMException('This operation was aborted', 'AbortError');

/** Answers like the OpenAI API; aborting the request's signal errors its body as fetch does. */
async function fakeFetch(_url, init) {
  if (init.signal?.aborted) throw abortError();
  const body = JSON.parse(init.body);
  if (body.metadata?.soak === 'error')
    return new Response(errorBody, {
      status: 500,
      headers: { 'content-type': 'application/json' },
    });
  if (!body.stream)
    return new Response(completionBody, { headers: { 'content-type': 'application/json' } });
  let i = 0;
  const signal = init.signal;
  let onAbort;
  const stream = new ReadableStream({
    start(controller) {
      onAbort = () => {
        try {
          controller.error(abortError());
        } catch {}
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    },
    pull(controller) {
      if (i < streamFrames.length) controller.enqueue(streamFrames[i++]);
      else {
        signal?.removeEventListener('abort', onAbort);
        controller.close();
      }
    },
    cancel() {
      signal?.removeEventListener('abort', onAbort);
    },
  });
  return new Response(stream, { headers: { 'content-type': 'text/event-stream' } });
}

const client = new openaiModule.OpenAI({
  apiKey: 'sk-soak',
  baseURL: 'http://soak.invalid/v1',
  fetch: fakeFetch,
  maxRetries: 0,
});
const messages = [{ role: 'user', content: 'hello soak' }];

// ---- the mix --------------------------------------------------------------
// 20 kinds repeated: 4 HTTP 500s (20%), 8 plain, 4 full streams, 2 streams aborted
// midway, 1 stream left by `break`, 1 call aborted before it is sent.
const MIX = [
  'plain',
  'stream',
  'error',
  'plain',
  'abort-stream',
  'plain',
  'error-stream',
  'stream',
  'plain',
  'break-stream',
  'error',
  'plain',
  'stream',
  'abort-before',
  'plain',
  'abort-stream',
  'error-stream',
  'plain',
  'stream',
  'plain',
];
const made = { total: 0, failed: 0 };
const kinds = {};

async function oneCall(n) {
  const kind = MIX[n % MIX.length];
  kinds[kind] = (kinds[kind] ?? 0) + 1;
  made.total++;
  const create = (body, options) =>
    client.chat.completions.create({ model: 'gpt-4.1-mini', messages, ...body }, options);
  try {
    switch (kind) {
      case 'plain':
        await create({});
        return;
      case 'error':
        await create({ metadata: { soak: 'error' } });
        throw new Error('soak: the 500 did not throw');
      case 'error-stream':
        await create({ metadata: { soak: 'error' }, stream: true });
        throw new Error('soak: the 500 did not throw');
      case 'stream': {
        const stream = await create({ stream: true });
        for await (const _ of stream);
        return;
      }
      case 'abort-stream': {
        const controller = new AbortController();
        const stream = await create({ stream: true }, { signal: controller.signal });
        let chunks = 0;
        for await (const _ of stream) if (++chunks === 3) controller.abort();
        return;
      }
      case 'break-stream': {
        const stream = await create({ stream: true });
        for await (const _ of stream) break;
        return;
      }
      case 'abort-before': {
        const controller = new AbortController();
        controller.abort();
        await create({}, { signal: controller.signal });
        throw new Error('soak: the aborted call did not throw');
      }
    }
  } catch (err) {
    if (
      err instanceof openaiModule.InternalServerError ||
      err instanceof openaiModule.APIUserAbortError
    ) {
      made.failed++;
      return;
    }
    throw err;
  }
}

async function run(calls, onProgress) {
  let next = 0;
  const worker = async () => {
    while (next < calls) {
      const n = next++;
      await oneCall(n);
      if (onProgress && (n + 1) % 100_000 === 0) onProgress(n + 1);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

/** Heap and RSS after a full GC, once finalizers (FinalizationRegistry, WeakRef) have run. */
async function memory() {
  for (let i = 0; i < 3; i++) {
    globalThis.gc();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, rss: m.rss };
}
const mb = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MB`;

/** tokenfuse.requests by outcome, as the Prometheus exporter would serve it. */
async function requestsByOutcome() {
  const { resourceMetrics } = await prometheus.collect();
  const byOutcome = {};
  for (const scope of resourceMetrics.scopeMetrics)
    for (const metric of scope.metrics) {
      if (metric.descriptor.name !== 'tokenfuse.requests') continue;
      for (const point of metric.dataPoints) {
        const outcome = String(point.attributes.outcome);
        byOutcome[outcome] = (byOutcome[outcome] ?? 0) + point.value;
      }
    }
  return byOutcome;
}

// ---- the run ---------------------------------------------------------------
console.log(
  `tokenfuse soak: ${CALLS} calls (+${WARMUP} warm-up), concurrency ${CONCURRENCY}, openai ${version}, node ${process.version}`,
);
await run(WARMUP);
const before = await memory();
console.log(`after warm-up (GC):  heap used ${mb(before.heapUsed)}, RSS ${mb(before.rss)}`);

const t0 = performance.now();
const warmupMade = made.total;
await run(CALLS, (n) => {
  const m = process.memoryUsage();
  console.log(
    `  ${String(n).padStart(8)} calls  ${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s  heap used ${mb(m.heapUsed)}, RSS ${mb(m.rss)} (no GC)`,
  );
});
const seconds = (performance.now() - t0) / 1000;
const after = await memory();
console.log(`after the run (GC):  heap used ${mb(after.heapUsed)}, RSS ${mb(after.rss)}`);
console.log(
  `${made.total - warmupMade} calls in ${seconds.toFixed(1)} s (${((made.total - warmupMade) / seconds) | 0} calls/s); mix: ${JSON.stringify(kinds)}`,
);

const counted = await requestsByOutcome();
const countedTotal = Object.values(counted).reduce((a, b) => a + b, 0);
const reserved = tokenfuse.fuses.list().map((f) => ({ budget: f.budget, ...f.reserved }));
const heapGrowth = after.heapUsed - before.heapUsed;

const checks = [
  [
    'no reservation left open in any budget',
    reserved.every((r) => r.tokens === 0 && r.usd === 0 && r.requests === 0),
    JSON.stringify(reserved),
  ],
  [
    'spans started == spans ended',
    spanCounter.started === spanCounter.ended,
    `${spanCounter.started} started, ${spanCounter.ended} ended`,
  ],
  [
    'tokenfuse_requests_total == calls made',
    countedTotal === made.total,
    `${countedTotal} counted ${JSON.stringify(counted)}, ${made.total} made (warm-up included)`,
  ],
  [
    'outcome="error" == calls that failed',
    (counted.error ?? 0) === made.failed,
    `${counted.error ?? 0} counted, ${made.failed} failed`,
  ],
  [
    `heap growth < ${MAX_HEAP_GROWTH_MB} MB`,
    heapGrowth < MAX_HEAP_GROWTH_MB * 2 ** 20,
    `${mb(heapGrowth)} (RSS ${mb(after.rss - before.rss)})`,
  ],
];
let failed = 0;
for (const [name, ok, detail] of checks) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}: ${detail}`);
  if (!ok) failed++;
}
await meterProvider.shutdown();
await tracerProvider.shutdown();
process.exitCode = failed === 0 ? 0 : 1;
