// The shared behaviour suite (test/sdk/behaviour.ts) for every openai major installed
// side by side, and the AzureOpenAI client.
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { calcPrice } from '@pydantic/genai-prices';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { type FakeOpenAI, startFakeOpenAI } from '../examples/shared/fake-openai-server.mjs';
import { isBudgetExceededError } from '../src/index.js';
import { createHarness, type Harness } from './helpers/harness.js';
import { App, childEnv, freePort, ROOT } from './helpers/processes.js';
import { parsePrometheusText, sum } from './helpers/prom-text.js';
import { RedisServer } from './helpers/redis.js';
import { behaviourSuite } from './sdk/behaviour.js';
import { type OpenAIModule, openaiDriver, patchOpenAI } from './sdk/openai-driver.js';

const MAJORS: OpenAIModule[] = ['openai-v4', 'openai-v5', 'openai-v6', 'openai'];

for (const module of MAJORS) behaviourSuite(openaiDriver({ module, api: 'chat' }));
for (const module of MAJORS) behaviourSuite(openaiDriver({ module, api: 'responses' }));
behaviourSuite(openaiDriver({ module: 'openai', api: 'chat', azure: true }));

// What only openai has: its helpers built on create (parse, stream helpers,
// withResponse, asResponse), its streams' tee() and toReadableStream(), embeddings,
// and the two places v4 differs (chat parse/stream under `beta`).
describe.each(MAJORS)('openai helpers on %s', (module) => {
  let fake: FakeOpenAI;
  let h: Harness;
  let unpatch: () => void;
  let client: any;

  beforeAll(async () => {
    fake = await startFakeOpenAI();
  });
  afterAll(async () => {
    await fake.close();
  });
  beforeEach(async () => {
    h = await createHarness({
      providers: [{ id: 'openai', hosts: ['127.0.0.1'], pricesFrom: 'openai' }],
      attribution: { defaults: { department: 'platform' } },
    });
    const patched = patchOpenAI(h, module);
    unpatch = patched.unpatch;
    client = new patched.mod.OpenAI({ apiKey: 'sk', baseURL: `${fake.url}/v1`, maxRetries: 0 });
  });
  afterEach(async () => {
    unpatch();
    await h.close();
    fake.reset();
  });

  const v4 = module === 'openai-v4';
  // 'a b c' is 3 words + 3 = 6 input tokens; the reply uses all 4 output tokens.
  const chat = { model: 'gpt-4.1', messages: [{ role: 'user', content: 'a b c' }], max_tokens: 4 };
  const responses = { model: 'gpt-4.1', input: 'a b c', max_output_tokens: 4 };
  const once = { input_tokens: 6, output_tokens: 4 };
  // Chat helpers refuse a reply cut by its limit: without one, the reply is 5 words.
  const unlimited = { model: 'gpt-4.1', messages: [{ role: 'user', content: 'a b c' }] };
  const unlimitedOnce = { input_tokens: 6, output_tokens: 5 };

  /** Exactly one call of `usage` on /metrics, priced as the catalog prices it, and one request sent. */
  async function expectOnce(
    usage: { input_tokens: number; output_tokens: number },
    model = 'gpt-4.1',
  ) {
    const m = await h.scrape();
    const labels = { provider: 'openai', model, department: 'platform' };
    expect({
      input: sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'input' }),
      output: sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'output' }),
      ok: sum(m, 'tokenfuse_requests_total', { ...labels, outcome: 'ok' }),
      requests: fake.requests.length,
      spans: h.spans().length,
    }).toEqual({
      input: usage.input_tokens,
      output: usage.output_tokens,
      ok: 1,
      requests: 1,
      spans: 1,
    });
    const price = calcPrice({ ...usage }, model, { providerId: 'openai' });
    expect(sum(m, 'tokenfuse_cost_usd_total', labels)).toBeCloseTo(price!.total_price, 12);
    expect(h.spans()[0]!.attributes['tokenfuse.usage.estimated']).toBe(false);
  }

  it('counts embeddings.create', async () => {
    await client.embeddings.create({
      model: 'text-embedding-3-small',
      input: 'one two three four',
    });
    await expectOnce({ input_tokens: 4, output_tokens: 0 }, 'text-embedding-3-small');
  });

  it(`counts ${v4 ? 'beta.' : ''}chat.completions.parse() once`, async () => {
    const completions = v4 ? client.beta.chat.completions : client.chat.completions;
    const parsed = await completions.parse(unlimited);
    expect(parsed.choices[0].message.content).toBe('Hello from gpt-4.1 Hello from');
    await expectOnce(unlimitedOnce);
  });

  it('counts responses.parse() once', async () => {
    const parsed = await client.responses.parse(responses);
    expect(parsed.output_text).toBe('Hello from gpt-4.1 Hello');
    await expectOnce(once);
  });

  it('keeps withResponse() working and counts it once', async () => {
    const { data, response } = await client.chat.completions.create(chat).withResponse();
    expect(response.status).toBe(200);
    expect(data.usage.completion_tokens).toBe(4);
    await expectOnce(once);
  });

  it('counts asResponse() from the raw body the caller reads', async () => {
    const response = await client.chat.completions.create(chat).asResponse();
    expect((await response.json()).usage.prompt_tokens).toBe(6);
    await vi.waitFor(() => expect(h.spans()).toHaveLength(1));
    await expectOnce(once);
  });

  it('counts a stream split by tee() once, both halves reading every chunk', async () => {
    const stream = await client.chat.completions.create({ ...chat, stream: true });
    const [left, right] = stream.tee();
    const read = async (s: AsyncIterable<any>) => {
      let text = '';
      for await (const chunk of s) text += chunk.choices[0]?.delta?.content ?? '';
      return text;
    };
    expect(await Promise.all([read(left), read(right)])).toEqual([
      'Hello from gpt-4.1 Hello',
      'Hello from gpt-4.1 Hello',
    ]);
    await expectOnce(once);
  });

  it('counts a stream read through toReadableStream()', async () => {
    const stream = await client.responses.create({ ...responses, stream: true });
    const reader = stream.toReadableStream().getReader();
    let bytes = 0;
    for (let r = await reader.read(); !r.done; r = await reader.read()) bytes += r.value.length;
    expect(bytes).toBeGreaterThan(0);
    await expectOnce(once);
  });

  it(`counts the ${v4 ? 'beta.' : ''}chat.completions.stream() and responses.stream() helpers once each`, async () => {
    const completions = v4 ? client.beta.chat.completions : client.chat.completions;
    const final = await completions.stream(unlimited).finalChatCompletion();
    expect(final.choices[0].message.content).toBe('Hello from gpt-4.1 Hello from');
    await expectOnce(unlimitedOnce);
    const response = await client.responses.stream(responses).finalResponse();
    expect(response.id).toMatch(/^resp_/);
    const m = await h.scrape();
    expect(sum(m, 'tokenfuse_requests_total', { outcome: 'ok' })).toBe(2);
    expect(sum(m, 'tokenfuse_tokens_total', { type: 'output' })).toBe(5 + 4);
    expect(fake.requests).toHaveLength(2);
  });
});

// A user whose `openai` IS v4: `tokenfuse/register` hooks it by its module name
// (ESM and CJS) and admits it by its version. The app and a copy of openai 4 sit in
// a directory of their own under the repo, so `openai` resolves to v4 there and
// `tokenfuse/register` to this package (needs `npm run build`).
describe.each([
  { variant: 'ESM, --import', flag: '--import', app: 'chat-app.mjs' },
  { variant: 'CJS, --require', flag: '--require', app: 'chat-app.cjs' },
])('openai 4 as `openai` under tokenfuse/register, $variant', ({ flag, app: appFile }) => {
  let dir: string;
  let fake: FakeOpenAI;
  let app: App;

  beforeAll(async () => {
    mkdirSync(join(ROOT, '.tmp'), { recursive: true });
    dir = mkdtempSync(join(ROOT, '.tmp', 'openai-v4-app-'));
    cpSync(join(ROOT, 'node_modules', 'openai-v4'), join(dir, 'node_modules', 'openai'), {
      recursive: true,
    });
    copyFileSync(join(ROOT, 'test', 'fixtures', 'apps', appFile), join(dir, appFile));
    const config = join(dir, 'tokenfuse.config.yaml');
    writeFileSync(config, 'providers:\n  - id: openai\n    hosts: ["127.0.0.1"]\n');
    fake = await startFakeOpenAI();
    const port = await freePort();
    app = new App(
      [flag, 'tokenfuse/register', join(dir, appFile)],
      childEnv({
        LLM_BASE_URL: `${fake.url}/v1`,
        OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
        TOKENFUSE_DEPARTMENT: 'platform',
        TOKENFUSE_CONFIG: config,
      }),
    );
    await app.firstLine();
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    samples = parsePrometheusText(await res.text());
  }, 60_000);
  let samples: ReturnType<typeof parsePrometheusText>;

  afterAll(async () => {
    await app?.kill();
    await fake?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('counts its calls by department, with exact tokens (the fake ran the real v4 client)', () => {
    expect(fake.requests[0]!.headers['user-agent']).toMatch(/^OpenAI\/JS 4\./);
    const tokens = (department: string, type: string) =>
      sum(samples, 'tokenfuse_tokens_total', { department, type, provider: 'openai' });
    // test/register.test.ts's chat app: 8 + 5 input / 4 + 3 output for platform,
    // 5 input / 2 output for the X-Department: research call.
    expect({
      platformIn: tokens('platform', 'input'),
      platformOut: tokens('platform', 'output'),
      researchIn: tokens('research', 'input'),
      researchOut: tokens('research', 'output'),
    }).toEqual({ platformIn: 13, platformOut: 7, researchIn: 5, researchOut: 2 });
  });
});

// A shared Redis ledger admits asynchronously: the SDK's promise is built by tokenfuse
// before the request goes out, with each major's own APIPromise constructor (openai 4's
// takes no client and is not exported).
describe.each(MAJORS)('openai %s admitted by the shared Redis ledger', (module) => {
  let redis: RedisServer;
  let fake: FakeOpenAI;
  let h: Harness;
  let unpatch: () => void;

  beforeAll(async () => {
    redis = await RedisServer.start();
    fake = await startFakeOpenAI();
  });
  afterAll(async () => {
    await fake.close();
    await redis.stop();
  });
  afterEach(async () => {
    unpatch();
    await h.tokenfuse.fuses.close();
    await h.close();
  });

  it('returns the SDK promise at once; withResponse() works; a blocked call sends nothing', async () => {
    h = await createHarness({
      providers: [{ id: 'openai', hosts: ['127.0.0.1'], pricesFrom: 'openai' }],
      ledger: { store: 'redis', url: redis.url, keyPrefix: `v-${module}-`, timeoutMs: 1000 },
      // 'a' is 1 + 3 = 4 input tokens, 2 output: 6 per call.
      budgets: [{ name: 'tiny', window: 'day', limit: { tokens: 6 } }],
    });
    const patched = patchOpenAI(h, module);
    unpatch = patched.unpatch;
    const client = new patched.mod.OpenAI({
      apiKey: 'sk',
      baseURL: `${fake.url}/v1`,
      maxRetries: 0,
    });
    const body = { model: 'gpt-4.1', messages: [{ role: 'user', content: 'a' }], max_tokens: 2 };
    const first = client.chat.completions.create(body);
    expect(first.constructor.name).toBe('APIPromise');
    const { data, response } = await first.withResponse();
    expect([data.usage.total_tokens, response.status]).toEqual([6, 200]);
    const second = client.chat.completions.create(body);
    expect(second.constructor.name).toBe('APIPromise');
    const err = await second.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isBudgetExceededError(err)).toBe(true);
    expect(fake.requests).toHaveLength(1);
    const m = await h.scrape();
    expect(sum(m, 'tokenfuse_tokens_total', { provider: 'openai' })).toBe(6);
  });
});

describe('AzureOpenAI', () => {
  let fake: FakeOpenAI;
  let h: Harness;
  beforeAll(async () => {
    fake = await startFakeOpenAI();
  });
  afterAll(async () => {
    await fake.close();
  });
  afterEach(async () => {
    await h.close();
    fake.reset();
  });

  const azure = (url: string) =>
    new (patchOpenAI(h, 'openai').mod.AzureOpenAI)({
      apiKey: 'azure-key',
      apiVersion: '2024-10-21',
      endpoint: url,
      maxRetries: 0,
      // An API gateway in front of the deployment, mapping Azure's paths onto the fake's.
      fetch: (u: string | URL | Request, init?: RequestInit) =>
        fetch(String(u).replace(/\/openai\/deployments\/[^/?]+\//, '/v1/'), init),
    });
  const body = { model: 'gpt-4.1', messages: [{ role: 'user' as const, content: 'a' }] };

  it('is Azure by its class on an unknown host, and speaks Azure on the wire', async () => {
    h = await createHarness({});
    await azure(fake.url).chat.completions.create(body);
    expect(fake.requests[0]!.path).toBe('/v1/chat/completions?api-version=2024-10-21');
    expect(fake.requests[0]!.headers['api-key']).toBe('azure-key');
    expect(h.spans()[0]!.attributes).toMatchObject({
      'tokenfuse.provider': 'azure',
      'gen_ai.provider.name': 'azure.ai.openai',
    });
  });

  it('yields to a host the configuration declares', async () => {
    h = await createHarness({
      providers: [{ id: 'relay', hosts: ['127.0.0.1'], pricesFrom: 'azure' }],
    });
    await azure(fake.url).chat.completions.create(body);
    expect(h.spans()[0]!.attributes['tokenfuse.provider']).toBe('relay');
  });

  it('leaves a plain OpenAI client on the same host openai_compatible', async () => {
    h = await createHarness({});
    await new h.OpenAI({
      apiKey: 'sk',
      baseURL: `${fake.url}/v1`,
      maxRetries: 0,
    }).chat.completions.create(body);
    expect(h.spans()[0]!.attributes['tokenfuse.provider']).toBe('openai_compatible');
  });
});

// A module patched a second time (the hook, then a direct patch; bench/sdks.mjs toggles
// it so) finds every method already ours: unpatching it must still restore the SDK.
describe('patching openai-v4 twice, then unpatching once', () => {
  it('leaves the SDK unwrapped: a call after unpatch makes no span and no metric', async () => {
    const fake = await startFakeOpenAI();
    const h = await createHarness({
      providers: [{ id: 'openai', hosts: ['127.0.0.1'], pricesFrom: 'openai' }],
    });
    try {
      const first = patchOpenAI(h, 'openai-v4');
      patchOpenAI(h, 'openai-v4');
      const client = new first.mod.OpenAI({
        apiKey: 'sk',
        baseURL: `${fake.url}/v1`,
        maxRetries: 0,
      });
      const chat = { model: 'gpt-4.1', messages: [{ role: 'user', content: 'a b c' }] };
      await client.chat.completions.create(chat);
      expect(h.spans()).toHaveLength(1);
      first.unpatch();
      await client.chat.completions.create(chat);
      expect(fake.requests).toHaveLength(2);
      expect(h.spans()).toHaveLength(1);
      expect(sum(await h.scrape(), 'tokenfuse_requests_total', { outcome: 'ok' })).toBe(1);
    } finally {
      await h.close();
      await fake.close();
    }
  });
});
