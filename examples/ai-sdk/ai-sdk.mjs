// The Vercel AI SDK under tokenfuse: each model is wrapped with tokenfuseMiddleware(),
// so generateText / streamText / embed calls are attributed, priced and held to the
// budgets like any other SDK's (the AI SDK's providers call the HTTP APIs with fetch,
// which no patch sees).
//
//   npm run build
//   TOKENFUSE_CONFIG=examples/ai-sdk/tokenfuse.config.yaml \
//     node --import tokenfuse/register examples/ai-sdk/ai-sdk.mjs
//
// Runs against the local fake LLM server (OpenAI and Anthropic APIs), no key needed.

import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAI } from '@ai-sdk/openai';
import { embed, generateText, streamText, wrapEmbeddingModel, wrapLanguageModel } from 'ai';
import { isBudgetExceededError, tokenfuseMiddleware, withAttribution } from 'tokenfuse';
import { startFakeOpenAI } from '../shared/fake-openai-server.mjs';

const METRICS_URL = `http://127.0.0.1:${process.env.OTEL_EXPORTER_PROMETHEUS_PORT ?? 9466}/metrics`;

const llm = await startFakeOpenAI();
const openai = createOpenAI({ baseURL: `${llm.url}/v1`, apiKey: 'sk-example' });
const anthropic = createAnthropic({ baseURL: `${llm.url}/v1`, apiKey: 'sk-ant-example' });

// One middleware for every model: it finds the tokenfuse that tokenfuse/register started.
const middleware = tokenfuseMiddleware();
const gpt = wrapLanguageModel({ model: openai.chat('gpt-4.1'), middleware });
const claude = wrapLanguageModel({ model: anthropic('claude-sonnet-4-5'), middleware });
const embedder = wrapEmbeddingModel({
  model: openai.embedding('text-embedding-3-small'),
  middleware,
});

// Per-call headers tag the call; tokenfuse removes them before the request is sent.
const answer = await generateText({
  model: gpt,
  prompt: 'Summarise the ticket in one line',
  maxOutputTokens: 8,
  headers: { 'X-Department': 'support' },
});
console.log(`support (gpt-4.1): ${answer.text}`);

// withAttribution tags everything inside, streams included.
await withAttribution({ department: 'research' }, async () => {
  const result = streamText({ model: claude, prompt: 'Three facts about autumn' });
  let text = '';
  for await (const delta of result.textStream) text += delta;
  console.log(`research (claude-sonnet-4-5, streamed): ${text}`);
  const { usage } = await embed({ model: embedder, value: 'autumn leaves fall' });
  console.log(`research (text-embedding-3-small): ${usage.tokens} tokens embedded`);
});

// Support's budget is spent: the next call is blocked before anything is sent.
try {
  await generateText({
    model: gpt,
    prompt: 'Draft a reply to the customer',
    headers: { 'X-Department': 'support' },
  });
} catch (err) {
  if (!isBudgetExceededError(err)) throw err;
  console.log(`support: blocked by "${err.budget}" (${err.reason}); answering from a template`);
}
console.log(`requests that reached the LLM server: ${llm.requests.length} of 4`);

const metrics = await (await fetch(METRICS_URL)).text();
console.log('\n/metrics:');
for (const line of metrics.split('\n')) {
  if (/^tokenfuse_(cost_usd_total|requests_total|tokens_total)\{/.test(line))
    console.log(`  ${line.replace(/,?otel_scope_\w+="[^"]*"/g, '')}`);
}
await llm.close();
process.exit(0);
