// The runnable examples, run as a user would, with their exact output.
import { afterEach, expect, it } from 'vitest';
import { App, childEnv, freePort } from './helpers/processes.js';

let app: App | undefined;
afterEach(async () => {
  await app?.kill();
  app = undefined;
});

async function run(args: string[], env: Record<string, string>): Promise<string> {
  app = new App(args, childEnv(env));
  const exit = await app.exited;
  expect(exit, app.stderr).toEqual({ code: 0, signal: null });
  return app.stdout;
}

it('the demo prints the spend per department read back from /metrics, with marketing blocked by its budget', async () => {
  const port = await freePort();
  const out = await run(['--import', 'tokenfuse/register', 'examples/demo/demo.mjs'], {
    TOKENFUSE_CONFIG: 'examples/demo/tokenfuse.config.yaml',
    OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
    TOKENFUSE_DEMO_EXIT: '1',
  });
  expect(out).toBe(
    [
      'marketing: call blocked by budget "marketing-hourly" (171 of 150 tokens this hour); using a cached tagline',
      '',
      'Spend by department (from tokenfuse /metrics)',
      '',
      'department   requests   tokens   cost (USD)',
      'marketing           4      171     0.001062',
      'search              3      107     0.000249',
      'support             5       75     0.000175',
      '',
      `Metrics: http://127.0.0.1:${port}/metrics   (Ctrl-C to stop)`,
      '',
    ].join('\n'),
  );
});

it('the budget-fuse example cuts a department off at 0.5 MTok/hour and lets it back in the next hour', async () => {
  const port = await freePort();
  const out = await run(['examples/budget-fuse/budget-fuse.mjs'], {
    OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
  });
  const lines = out.split('\n');
  expect(lines.slice(0, 17)).toEqual([
    '10:00  draft 1: ok (120,000 tokens)',
    '10:05  draft 2: ok (120,000 tokens)',
    '10:10  threshold 50% of marketing-hourly: 360,000 tokens',
    '10:10  draft 3: ok (120,000 tokens)',
    '10:15  threshold 75% of marketing-hourly: 480,000 tokens',
    '10:15  threshold 90% of marketing-hourly: 480,000 tokens',
    '10:15  draft 4: ok (120,000 tokens)',
    '10:20  threshold 100% of marketing-hourly: 600,000 tokens',
    '10:20  FUSE OPEN  marketing-hourly: 600,000 of 500,000 tokens this hour',
    '10:20  draft 5: ok (120,000 tokens)',
    '10:25  draft 6: blocked by "marketing-hourly" (limit_reached), queued; retry in 2100s',
    '10:30  draft 7: blocked by "marketing-hourly" (limit_reached), queued; retry in 1800s',
    '10:35  requests that reached the LLM server: 5 of 7',
    '11:00  -- a new hour --',
    '11:00  fuse closed (window): marketing-hourly',
    '11:00  draft 8: ok (120,000 tokens)',
    '11:00  fuse closed, 120,000 of 500,000 tokens used this hour',
  ]);
  expect(out).toContain(
    'tokenfuse_requests_total{department="marketing",project="campaigns",environment="demo",provider="local-relay",model="gpt-4.1",budget="marketing-hourly",outcome="blocked"} 2',
  );
  expect(out).toContain(
    'tokenfuse_fuse_trips_total{budget="marketing-hourly",window="hour",department="marketing"} 1',
  );
});

it('the ai-sdk example attributes, prices and blocks Vercel AI SDK calls through tokenfuseMiddleware()', async () => {
  const port = await freePort();
  const out = await run(['--import', 'tokenfuse/register', 'examples/ai-sdk/ai-sdk.mjs'], {
    TOKENFUSE_CONFIG: 'examples/ai-sdk/tokenfuse.config.yaml',
    OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
  });
  expect(out.split('\n').slice(0, 5)).toEqual([
    'support (gpt-4.1): Hello from gpt-4.1 Hello from gpt-4.1 Hello from',
    'research (claude-sonnet-4-5, streamed): Hello from claude-sonnet-4-5 Hello from',
    'research (text-embedding-3-small): 3 tokens embedded',
    'support: blocked by "support-hourly" (limit_reached); answering from a template',
    'requests that reached the LLM server: 3 of 4',
  ]);
  const labels = (department: string, provider: string, model: string) =>
    `department="${department}",project="assistant",environment="local",provider="${provider}",model="${model}"`;
  expect(out).toContain(
    `tokenfuse_tokens_total{${labels('support', 'openai', 'gpt-4.1')},type="input"} 9`,
  );
  expect(out).toContain(
    `tokenfuse_tokens_total{${labels('research', 'anthropic', 'claude-sonnet-4-5')},type="output"} 5`,
  );
  expect(out).toContain(
    `tokenfuse_requests_total{${labels('support', 'openai', 'gpt-4.1')},budget="support-hourly",outcome="blocked"} 1`,
  );
  expect(out).toContain(
    `tokenfuse_tokens_total{${labels('research', 'openai', 'text-embedding-3-small')},type="input"} 3`,
  );
});

it('the Bedrock example counts Converse, ConverseStream and InvokeModel at Bedrock prices and blocks the fourth call unsent', async () => {
  const port = await freePort();
  const out = await run(['--import', 'tokenfuse/register', 'examples/bedrock/bedrock.mjs'], {
    TOKENFUSE_CONFIG: 'examples/bedrock/tokenfuse.config.yaml',
    OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
  });
  const labels = 'department="research",project="claims",environment="local",provider="bedrock"';
  const claude = 'model="us.anthropic.claude-sonnet-4-5-20250929-v1:0"';
  const nova = 'model="amazon.nova-pro-v1:0"';
  // Regional Claude Sonnet 4.5 ($3.30 in, $0.33 cache read, $4.125 cache write, $16.50 out
  // per MTok): converse 4*3.3 + 8*0.33 + 4*4.125 + 5*16.5 = 114.84 µ$, invoke 7*3.3 + 5*16.5
  // = 105.6 µ$. Nova Pro ($0.80 / $3.20): 4*0.8 + 5*3.2 = 19.2 µ$.
  expect(out.split('\n')).toEqual([
    'converse: {"inputTokens":4,"outputTokens":5,"totalTokens":21,"cacheReadInputTokens":8,"cacheWriteInputTokens":4}',
    'converse-stream: "Hello from amazon.nova-pro-v1:0 Hello from"',
    'invoke-model: {"input_tokens":7,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":5}',
    'blocked by "research-daily" before sending: 3 requests sent',
    `tokenfuse_cost_usd_total{${labels},${claude}} 0.00022044`,
    `tokenfuse_cost_usd_total{${labels},${nova}} 0.0000192`,
    `tokenfuse_requests_total{${labels},${claude},outcome="ok"} 2`,
    `tokenfuse_requests_total{${labels},${nova},outcome="ok"} 1`,
    `tokenfuse_requests_total{${labels},${claude},budget="research-daily",outcome="blocked"} 1`,
    '',
  ]);
});
