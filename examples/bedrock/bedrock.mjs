// Amazon Bedrock with zero code changes: Converse, ConverseStream and InvokeModel (an
// Anthropic body) counted and priced at the catalog's Bedrock prices, and a budget that
// rejects a call before it is signed or sent.
//
//   npm run build && TOKENFUSE_CONFIG=examples/bedrock/tokenfuse.config.yaml \
//     node --import tokenfuse/register examples/bedrock/bedrock.mjs
//
// The client talks to the local fake LLM server's Bedrock half (HTTP/2, static
// credentials); against AWS, drop `endpoint` and `credentials`.

import {
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  InvokeModelCommand,
} from '@aws-sdk/client-bedrock-runtime';
import { isBudgetExceededError, withAttribution } from 'tokenfuse';
import { startFakeOpenAI } from '../shared/fake-openai-server.mjs';

const CLAUDE = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';
const llm = await startFakeOpenAI();
const bedrock = new BedrockRuntimeClient({
  region: 'us-east-1',
  endpoint: llm.bedrockUrl,
  credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'example' },
});
const question = (text) => [{ role: 'user', content: [{ text }] }];

await withAttribution({ department: 'research' }, async () => {
  const answer = await bedrock.send(
    new ConverseCommand({
      modelId: CLAUDE,
      // Everything before the cache point is cached by Bedrock: read and write are priced apart.
      system: [{ text: 'You summarise insurance claims.' }, { cachePoint: { type: 'default' } }],
      messages: question('Summarise claim 42 in one line.'),
      inferenceConfig: { maxTokens: 200 },
    }),
  );
  console.log(`converse: ${JSON.stringify(answer.usage)}`);

  const streamed = await bedrock.send(
    new ConverseStreamCommand({ modelId: 'amazon.nova-pro-v1:0', messages: question('Hi') }),
  );
  let text = '';
  for await (const event of streamed.stream) text += event.contentBlockDelta?.delta?.text ?? '';
  console.log(`converse-stream: "${text}"`);

  const invoked = await bedrock.send(
    new InvokeModelCommand({
      modelId: CLAUDE,
      body: JSON.stringify({
        anthropic_version: 'bedrock-2023-05-31',
        max_tokens: 100,
        messages: [{ role: 'user', content: 'Name three claim types.' }],
      }),
    }),
  );
  console.log(
    `invoke-model: ${JSON.stringify(JSON.parse(invoked.body.transformToString()).usage)}`,
  );

  try {
    await bedrock.send(new ConverseCommand({ modelId: CLAUDE, messages: question('One more?') }));
  } catch (err) {
    if (!isBudgetExceededError(err)) throw err;
    console.log(`blocked by "${err.budget}" before sending: ${llm.requests.length} requests sent`);
  }
});

const port = process.env.OTEL_EXPORTER_PROMETHEUS_PORT ?? '9464';
const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
for (const line of metrics.split('\n')) {
  if (/^tokenfuse_(cost_usd|requests)_total\{/.test(line)) {
    console.log(line.replace(/,otel_scope_name="[^"]*",otel_scope_version="[^"]*"/, ''));
  }
}
await llm.close();
process.exit(0);
