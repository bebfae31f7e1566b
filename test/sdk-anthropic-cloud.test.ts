// Claude through Anthropic's cloud clients: `AnthropicBedrock` (`@anthropic-ai/bedrock-sdk`)
// and `AnthropicVertex` (`@anthropic-ai/vertex-sdk`), real clients over HTTP against the
// fake server (Bedrock's `/model/{id}/invoke[-with-response-stream]`, Vertex's
// `…/publishers/anthropic/models/{m}:rawPredict`). Both reuse `@anthropic-ai/sdk`'s
// `Messages` resource, so the same patch counts them; the client's class, not the host
// (the fake's is unknown), makes them Bedrock (catalog `aws`) or Vertex (catalog `google`).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { diag } from '@opentelemetry/api';
import { calcPrice } from '@pydantic/genai-prices';
import { afterEach, describe, expect, it } from 'vitest';
import { isBudgetExceededError } from '../src/index.js';
import type { TokenfuseOptions } from '../src/types.js';
import { PACKAGE_VERSION } from '../src/version.js';
import { rejection } from './helpers/budget-calls.js';
import { captureDiag } from './helpers/diag.js';
import { useFakeServerHarness } from './helpers/fake-server-harness.js';
import { createHarness, type Harness } from './helpers/harness.js';
import { App, childEnv, freePort } from './helpers/processes.js';
import { parsePrometheusText, sum } from './helpers/prom-text.js';
import { installAnthropic } from './sdk/drivers/anthropic.js';

const require = createRequire(import.meta.url);
const { AnthropicBedrock } = require('@anthropic-ai/bedrock-sdk');
const { AnthropicVertex } = require('@anthropic-ai/vertex-sdk');

const BASE_OPTIONS: TokenfuseOptions = {
  attribution: { defaults: { department: 'platform', project: 'core', environment: 'test' } },
};
// 3 words + 3 framing tokens in, 5 words out at the fake.
const MESSAGE = { max_tokens: 100, messages: [{ role: 'user', content: 'name three colours' }] };

interface Cloud {
  title: string;
  model: string;
  provider: string;
  catalog: string;
  semconv: string;
  /** The path the client sends a non-streamed call to. */
  path: string;
  client: (url: string) => any;
}

const CLOUDS: Cloud[] = [
  {
    title: 'AnthropicBedrock',
    model: 'us.anthropic.claude-sonnet-4-5-20250929-v1:0',
    provider: 'bedrock',
    catalog: 'aws',
    semconv: 'aws.bedrock',
    path: '/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/invoke',
    client: (url) =>
      new AnthropicBedrock({
        awsRegion: 'us-east-1',
        awsAccessKey: 'AKIDEXAMPLE',
        awsSecretKey: 'secret',
        baseURL: url,
        maxRetries: 0,
        openTelemetry: false,
      }),
  },
  {
    title: 'AnthropicVertex',
    model: 'claude-sonnet-4-5@20250929',
    provider: 'google',
    catalog: 'google',
    semconv: 'gcp.vertex_ai',
    path: '/projects/proj/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5@20250929:rawPredict',
    client: (url) =>
      new AnthropicVertex({
        region: 'us-east5',
        projectId: 'proj',
        baseURL: url,
        maxRetries: 0,
        openTelemetry: false,
        // A static token: no Google credentials on the test machine.
        authClient: {
          getRequestHeaders: async () => new Headers({ authorization: 'Bearer fake-token' }),
        },
      }),
  },
];

const { llm, harness } = useFakeServerHarness();

describe.each(CLOUDS)('$title', (cloud) => {
  let h: Harness;
  let uninstall: () => void;
  let client: any;
  const labels = () => ({
    department: 'platform',
    provider: cloud.provider,
    model: cloud.model,
  });
  const usd = (input: number, output: number) =>
    calcPrice({ input_tokens: input, output_tokens: output }, cloud.model, {
      providerId: cloud.catalog,
    })!.total_price;

  async function setup(options: TokenfuseOptions = {}) {
    h = await harness({ ...BASE_OPTIONS, ...options });
    uninstall = installAnthropic(h, 'current');
    client = cloud.client(llm.url);
  }
  afterEach(() => {
    uninstall?.();
  });
  const ourSpans = () => h.spans().filter((s) => s.instrumentationScope.name === 'tokenfuse');

  it('counts a call with exact tokens, priced as that cloud, labelled with its provider', async () => {
    await setup();
    const message = await client.messages.create({ model: cloud.model, ...MESSAGE });
    expect(llm.requests.map((r) => r.path)).toEqual([cloud.path]);
    expect(message.usage).toMatchObject({ input_tokens: 6, output_tokens: 5 });
    const m = await h.scrape();
    expect(sum(m, 'tokenfuse_tokens_total', { ...labels(), type: 'input' })).toBe(6);
    expect(sum(m, 'tokenfuse_tokens_total', { ...labels(), type: 'output' })).toBe(5);
    expect(usd(6, 5)).toBeGreaterThan(0);
    expect(sum(m, 'tokenfuse_cost_usd_total', labels())).toBeCloseTo(usd(6, 5), 15);
    expect(sum(m, 'tokenfuse_unpriced_total')).toBe(0);
    // A client that names its platform is no fallback.
    expect(sum(m, 'tokenfuse_pricing_issues_total', { reason: 'provider_by_class_name' })).toBe(0);
    const spans = ourSpans();
    expect(spans).toHaveLength(1);
    expect(spans[0]!.attributes).toMatchObject({
      'gen_ai.provider.name': cloud.semconv,
      'gen_ai.request.model': cloud.model,
      'gen_ai.usage.input_tokens': 6,
      'gen_ai.usage.output_tokens': 5,
      'tokenfuse.provider': cloud.provider,
      'tokenfuse.priced': true,
    });
    expect(spans[0]!.attributes['tokenfuse.cost.usd']).toBeCloseTo(usd(6, 5), 15);
  });

  it('counts a stream: input from message_start, output from the last message_delta', async () => {
    await setup();
    const stream = await client.messages.create({ model: cloud.model, ...MESSAGE, stream: true });
    let text = '';
    for await (const event of stream) {
      if (event.type === 'content_block_delta') text += event.delta.text ?? '';
    }
    expect(text.split(' ')).toHaveLength(5);
    const m = await h.scrape();
    expect(sum(m, 'tokenfuse_tokens_total', { ...labels(), type: 'input' })).toBe(6);
    expect(sum(m, 'tokenfuse_tokens_total', { ...labels(), type: 'output' })).toBe(5);
    expect(sum(m, 'tokenfuse_cost_usd_total', labels())).toBeCloseTo(usd(6, 5), 15);
    expect(ourSpans()[0]!.attributes['gen_ai.provider.name']).toBe(cloud.semconv);
  });

  it('attributes from a per-request X-Department header, which never reaches the cloud', async () => {
    await setup();
    await client.messages.create(
      { model: cloud.model, ...MESSAGE },
      { headers: { 'X-Department': 'research' } },
    );
    expect(llm.requests.map((r) => r.headers['x-department'])).toEqual([undefined]);
    const m = await h.scrape();
    const research = { ...labels(), department: 'research' };
    expect(sum(m, 'tokenfuse_requests_total', { ...research, outcome: 'ok' })).toBe(1);
    expect(sum(m, 'tokenfuse_cost_usd_total', research)).toBeCloseTo(usd(6, 5), 15);
  });

  it('a fuse blocks the call before any request is sent', async () => {
    await setup({ budgets: [{ name: 'tiny', window: 'day', limit: { requests: 1 } }] });
    await client.messages.create({ model: cloud.model, ...MESSAGE });
    llm.reset();
    const err = await rejection(client.messages.create({ model: cloud.model, ...MESSAGE }));
    expect(isBudgetExceededError(err)).toBe(true);
    expect((err as { budget: string }).budget).toBe('tiny');
    expect(llm.requests).toHaveLength(0);
    const m = await h.scrape();
    expect(
      sum(m, 'tokenfuse_requests_total', { provider: cloud.provider, outcome: 'blocked' }),
    ).toBe(1);
    expect(ourSpans()[1]!.attributes['gen_ai.provider.name']).toBe(cloud.semconv);
  });
});

// Needs `npm run build` first: `tokenfuse/register` resolves to dist/. The app loads only the
// cloud clients, which import `@anthropic-ai/sdk/client`, never the package's entry point.
describe('a cloud client that no longer names its platform', () => {
  it('is told by its class name, still priced as its cloud, said once and counted per call', async () => {
    const messages = captureDiag();
    const h = await createHarness(BASE_OPTIONS);
    const uninstall = installAnthropic(h, 'current');
    try {
      llm.reset();
      for (const cloud of CLOUDS) {
        const client = cloud.client(llm.url);
        // What a later SDK release without the internal method would look like.
        client._instrumentationScope = undefined;
        await client.messages.create({ model: cloud.model, ...MESSAGE });
        await client.messages.create({ model: cloud.model, ...MESSAGE });
      }
      const text = await h.metricsText();
      // Two calls through each of the two clients, each priced on the class-name fallback.
      expect(text.split('\n')).toContain(
        `tokenfuse_pricing_issues_total{reason="provider_by_class_name",otel_scope_name="tokenfuse",otel_scope_version="${PACKAGE_VERSION}"} 4`,
      );
      const m = parsePrometheusText(text);
      for (const cloud of CLOUDS) {
        const labels = { department: 'platform', provider: cloud.provider, model: cloud.model };
        expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'input' })).toBe(12);
        const usd = calcPrice({ input_tokens: 6, output_tokens: 5 }, cloud.model, {
          providerId: cloud.catalog,
        })!.total_price;
        expect(sum(m, 'tokenfuse_cost_usd_total', labels)).toBeCloseTo(2 * usd, 15);
      }
      const said = messages.filter((l) => l.includes('no longer names its platform'));
      expect(said).toEqual([
        'tokenfuse: an Anthropic Bedrock client no longer names its platform (_instrumentationScope); ' +
          'told apart by its class name instead. Please report this SDK version to tokenfuse.',
      ]);
    } finally {
      uninstall();
      await h.close();
      diag.disable();
    }
  });
});

describe.each([
  { variant: 'ESM, node --import', args: ['--import', 'tokenfuse/register'], file: 'mjs' },
  { variant: 'CJS, node --require', args: ['--require', 'tokenfuse/register'], file: 'cjs' },
])('the cloud clients alone under tokenfuse/register ($variant)', ({ args, file }) => {
  let app: App | undefined;
  let tmp: string;
  afterEach(async () => {
    await app?.kill();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('counts each call once, as its cloud', async () => {
    llm.reset();
    tmp = mkdtempSync(join(tmpdir(), 'tokenfuse-anthropic-cloud-'));
    const config = join(tmp, 'tokenfuse.config.yaml');
    writeFileSync(config, 'budgets: []\n');
    const port = await freePort();
    app = new App(
      [...args, `test/fixtures/apps/anthropic-cloud-app.${file}`],
      childEnv({
        LLM_BASE_URL: llm.url,
        OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
        TOKENFUSE_CONFIG: config,
      }),
    );
    expect(JSON.parse(await app.firstLine())).toEqual({ ready: true, output: 10 });
    const m = parsePrometheusText(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
    for (const cloud of CLOUDS) {
      const labels = { provider: cloud.provider, model: cloud.model };
      expect(sum(m, 'tokenfuse_requests_total', { ...labels, outcome: 'ok' })).toBe(1);
      expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'input' })).toBe(6);
      expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'output' })).toBe(5);
      expect(sum(m, 'tokenfuse_cost_usd_total', labels)).toBeCloseTo(
        calcPrice({ input_tokens: 6, output_tokens: 5 }, cloud.model, {
          providerId: cloud.catalog,
        })!.total_price,
        15,
      );
    }
    expect(sum(m, 'tokenfuse_requests_total')).toBe(2);
  });
});
