// A department with a 0.5 MTok/hour budget is cut off in-process, falls back
// gracefully, and recovers when the next hour begins.
//
//   npm run build && node examples/budget-fuse/budget-fuse.mjs
//
// It runs its own OpenTelemetry NodeSDK with tokenfuse's parts (the way an app
// with an existing OpenTelemetry setup uses tokenfuse), against the local fake
// LLM server, with a simulated clock so the hour passes in a second.

import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { NodeSDK } from '@opentelemetry/sdk-node';
import {
  createTokenfuse,
  isBudgetExceededError,
  registerEsmHook,
  withAttribution,
} from 'tokenfuse';
import { startFakeOpenAI } from '../shared/fake-openai-server.mjs';

let simulatedNow = Date.parse('2026-11-23T10:00:00Z');
const minutes = (n) => {
  simulatedNow += n * 60_000;
};
const clock = () => new Date(simulatedNow).toISOString().slice(11, 16);

const tokenfuse = createTokenfuse(
  {
    attribution: { defaults: { project: 'campaigns', environment: 'demo' } },
    providers: [{ id: 'local-relay', hosts: ['127.0.0.1'], pricesFrom: 'openai' }],
    budgets: [
      {
        name: 'marketing-hourly',
        match: { department: 'marketing' },
        window: 'hour',
        limit: { tokens: 500_000 },
        cooldown: '5m',
      },
    ],
  },
  { clock: () => simulatedNow },
);
const metricsPort = Number(process.env.OTEL_EXPORTER_PROMETHEUS_PORT ?? 9465);
const sdk = new NodeSDK({
  instrumentations: [tokenfuse.instrumentation],
  spanProcessors: [tokenfuse.spanProcessor],
  metricReaders: [
    new PrometheusExporter({ port: metricsPort, metricProducers: [tokenfuse.metricProducer] }),
  ],
});
// ESM apps: let the instrumentation see `import 'openai'` (tokenfuse/register does this for you).
registerEsmHook();
sdk.start();

// Load the SDK after the instrumentation is in place.
const { default: OpenAI } = await import('openai');
const llm = await startFakeOpenAI();
const openai = new OpenAI({ baseURL: `${llm.url}/v1`, apiKey: 'sk-example', maxRetries: 0 });

const fuses = tokenfuse.fuses;
fuses.onThreshold((e) =>
  console.log(
    `${clock()}  threshold ${e.threshold * 100}% of ${e.budget}: ${e.spent.toLocaleString('en-US')} tokens`,
  ),
);
fuses.onTrip((e) =>
  console.log(
    `${clock()}  FUSE OPEN  ${e.budget}: ${e.spent.toLocaleString('en-US')} of ${e.limit.toLocaleString('en-US')} tokens this ${e.window}`,
  ),
);
fuses.onReset((e) => console.log(`${clock()}  fuse closed (${e.cause}): ${e.budget}`));

async function draftCampaign(i) {
  // Each draft is a long prompt and answer: 90k tokens in, 30k out.
  llm.enqueue({
    kind: 'usage',
    usage: { prompt_tokens: 90_000, completion_tokens: 30_000, total_tokens: 120_000 },
  });
  try {
    const res = await withAttribution({ department: 'marketing' }, () =>
      openai.chat.completions.create({
        model: 'gpt-4.1',
        messages: [{ role: 'user', content: `Draft campaign ${i}` }],
        max_tokens: 30_000,
      }),
    );
    console.log(
      `${clock()}  draft ${i}: ok (${res.usage.total_tokens.toLocaleString('en-US')} tokens)`,
    );
  } catch (err) {
    if (!isBudgetExceededError(err)) throw err;
    // The call never left the process. Fall back instead of failing the user:
    // here, queue the draft for when the budget has room again.
    console.log(
      `${clock()}  draft ${i}: blocked by "${err.budget}" (${err.reason}), queued; retry in ${err.retryAfterSeconds}s`,
    );
  }
}

for (let i = 1; i <= 7; i++) {
  await draftCampaign(i);
  minutes(5);
}
console.log(`${clock()}  requests that reached the LLM server: ${llm.requests.length} of 7`);

minutes(60 - new Date(simulatedNow).getUTCMinutes()); // to the top of the next hour
console.log(`${clock()}  -- a new hour --`);
await draftCampaign(8);

const state = fuses.get('marketing-hourly');
console.log(
  `${clock()}  fuse ${state.state}, ${state.spent.tokens.toLocaleString('en-US')} of ${state.limit.tokens.toLocaleString('en-US')} tokens used this hour`,
);

const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
console.log('\n/metrics:');
for (const line of metrics.split('\n')) {
  if (/^tokenfuse_(fuse_state|fuse_trips_total|budget_utilization|requests_total)\{/.test(line)) {
    console.log(`  ${line.replace(/,?otel_scope_\w+="[^"]*"/g, '')}`);
  }
}
await llm.close();
await sdk.shutdown();
