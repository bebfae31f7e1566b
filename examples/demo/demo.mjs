// tokenfuse demo: no API key, no network. Run it from the repository root with
//
//   npm run demo
//
// which builds tokenfuse and runs
//   TOKENFUSE_CONFIG=examples/demo/tokenfuse.config.yaml node --import tokenfuse/register examples/demo/demo.mjs
//
// It starts a local fake LLM server (OpenAI and Anthropic APIs), makes calls for
// three departments on three SDKs, marketing through LangChain (ChatOpenAI), search
// through the `openai` SDK and support through Anthropic's `@anthropic-ai/sdk`,
// prints what each department spent (read back from tokenfuse's own /metrics
// endpoint) and leaves /metrics up until Ctrl-C.
import Anthropic from '@anthropic-ai/sdk';
import { ChatPromptTemplate } from '@langchain/core/prompts';
import { ChatOpenAI } from '@langchain/openai';
import OpenAI from 'openai';
import { isBudgetExceededError, withAttribution } from 'tokenfuse';
import { startFakeOpenAI } from '../shared/fake-openai-server.mjs';

const METRICS_URL = `http://127.0.0.1:${process.env.OTEL_EXPORTER_PROMETHEUS_PORT ?? 9464}/metrics`;
const llm = await startFakeOpenAI({ chunkDelayMs: 2 });
const openai = new OpenAI({ baseURL: `${llm.url}/v1`, apiKey: 'sk-demo-not-a-real-key' });

const ask = (text) => [{ role: 'user', content: text }];

// Marketing writes copy with LangChain (ChatOpenAI, on the same `openai` SDK underneath).
// It tags the whole unit of work; every call inside it is theirs, chain or not.
const copywriter = ChatPromptTemplate.fromMessages([
  ['system', 'You write subject lines'],
  ['human', 'Subject line {n} for the autumn sale'],
]).pipe(
  new ChatOpenAI({
    model: 'gpt-4.1',
    maxTokens: 40,
    apiKey: 'sk-demo-not-a-real-key',
    configuration: { baseURL: `${llm.url}/v1` },
  }),
);
await withAttribution({ department: 'marketing', feature: 'subject-lines' }, async () => {
  for (let n = 0; n < 3; n++) await copywriter.invoke({ n });
  // Marketing's budget (150 tokens an hour in tokenfuse.config.yaml) is spent by now:
  // this call is stopped before it is sent (and LangChain does not retry it), and the
  // app falls back.
  try {
    for await (const chunk of await copywriter.stream({ n: 3 })) void chunk.content;
  } catch (err) {
    if (!isBudgetExceededError(err)) throw err;
    console.log(
      `marketing: call blocked by budget "${err.budget}" (${err.spent} of ${err.limit} ${err.unit} this ${err.window}); using a cached tagline`,
    );
  }
});

// Streaming works unchanged; tokenfuse asks for the usage chunk and hides it.
await withAttribution({ department: 'search' }, async () => {
  const stream = await openai.chat.completions.create({
    model: 'gpt-4.1-mini',
    messages: ask('Stream a tagline for the search page'),
    max_tokens: 30,
    stream: true,
  });
  for await (const chunk of stream) void chunk.choices[0]?.delta?.content;
});

// Support summarises tickets with Claude, through Anthropic's own SDK, and tags single calls
// with request headers (stripped before they leave). The fake server speaks Anthropic's
// Messages API too; it is reached as `localhost`, which tokenfuse.config.yaml declares to
// be Anthropic, so these calls are priced at Anthropic's prices.
const claude = new Anthropic({
  baseURL: llm.url.replace('127.0.0.1', 'localhost'),
  apiKey: 'sk-ant-demo-not-a-real-key',
});
for (let i = 0; i < 5; i++) {
  await claude.messages.create(
    {
      model: 'claude-haiku-4-5',
      max_tokens: 20,
      messages: ask(`Summarise support ticket ${i} in one line`),
    },
    { headers: { 'X-Department': 'support', 'X-Feature': 'ticket-summary' } },
  );
}

// Search uses embeddings and the Responses API.
await withAttribution({ department: 'search' }, async () => {
  await openai.embeddings.create({
    model: 'text-embedding-3-small',
    input: ['autumn sale boots', 'waterproof hiking boots', 'boot care guide'],
  });
  await openai.responses.create({
    model: 'o4-mini',
    input: 'Rank these results for "boots"',
    max_output_tokens: 50,
  });
});

// Read the spend back from tokenfuse's Prometheus endpoint, as Prometheus would.
const text = await (await fetch(METRICS_URL)).text();
const rows = new Map();
for (const line of text.split('\n')) {
  const m =
    /^(tokenfuse_cost_usd_total|tokenfuse_tokens_total|tokenfuse_requests_total)\{([^}]*)\} (\S+)/.exec(
      line,
    );
  if (!m) continue;
  const labels = Object.fromEntries(
    [...m[2].matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]),
  );
  const row = rows.get(labels.department) ?? { requests: 0, tokens: 0, usd: 0 };
  if (m[1] === 'tokenfuse_cost_usd_total') row.usd += Number(m[3]);
  if (m[1] === 'tokenfuse_tokens_total') row.tokens += Number(m[3]);
  if (m[1] === 'tokenfuse_requests_total') row.requests += Number(m[3]);
  rows.set(labels.department, row);
}

console.log('\nSpend by department (from tokenfuse /metrics)\n');
console.log(
  `${'department'.padEnd(12)} ${'requests'.padStart(8)} ${'tokens'.padStart(8)} ${'cost (USD)'.padStart(12)}`,
);
for (const [department, row] of [...rows].sort((a, b) => b[1].usd - a[1].usd)) {
  console.log(
    `${department.padEnd(12)} ${String(row.requests).padStart(8)} ${String(row.tokens).padStart(8)} ${row.usd.toFixed(6).padStart(12)}`,
  );
}
console.log(`\nMetrics: ${METRICS_URL}   (Ctrl-C to stop)`);

if (process.env.TOKENFUSE_DEMO_EXIT === '1') {
  await llm.close();
  process.exit(0);
}
