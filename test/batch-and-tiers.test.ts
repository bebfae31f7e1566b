// Service tiers and the Batch API, through the real SDK over HTTP against the fake
// server: tier prices, attribution stamped into a batch's metadata, batch results
// priced at the batch rate, attributed from that metadata and counted once, in this
// process and (with the Redis ledger) across processes.
import { calcPrice } from '@pydantic/genai-prices';
import type OpenAIType from 'openai';
import { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { resolveConfig } from '../src/config/resolved-config.js';
import { isBudgetExceededError, withAttribution } from '../src/index.js';
import type { TokenfuseOptions } from '../src/types.js';
import { useFakeServerHarness } from './helpers/fake-server-harness.js';
import type { Harness } from './helpers/harness.js';
import { type Sample, sum } from './helpers/prom-text.js';
import { RedisServer } from './helpers/redis.js';

const PROVIDER = { id: 'local-openai', hosts: ['127.0.0.1'], pricesFrom: 'openai' };
const LOCAL = { provider: 'local-openai' };

const fake = useFakeServerHarness();
const { llm } = fake;

/** A harness on the fake server, closed after the test; its calls are provider "local-openai". */
function harness(options: TokenfuseOptions = {}): Promise<Harness> {
  return fake.harness({ providers: [PROVIDER], ...options });
}

function client(h: Harness): OpenAIType {
  return fake.client(h, { apiKey: 'sk-test' });
}

/** The catalog's own price for OpenAI chat usage (prompt includes cached). */
function catalogUsd(model: string, prompt: number, output: number, cached = 0): number {
  const price = calcPrice(
    { input_tokens: prompt, cache_read_tokens: cached, output_tokens: output },
    model,
    { providerId: 'openai' },
  );
  if (price === null) throw new Error(`the catalog has no price for ${model}`);
  return price.total_price;
}

describe('service tiers', () => {
  it('validates pricing.serviceTiers, naming the tier and the value', () => {
    expect(() =>
      resolveConfig({ pricing: { serviceTiers: { flex: -1, Priority: 2 } } }),
    ).toThrowError(
      [
        'invalid tokenfuse configuration in code:',
        '  - pricing.serviceTiers.flex: expected a number > 0 (the price factor of the tier), got -1 (number)',
        `  - pricing.serviceTiers.Priority: expected a lowercase tier name of a-z, 0-9, '_', '-', got "Priority" (string)`,
      ].join('\n'),
    );
    expect(
      resolveConfig({ pricing: { serviceTiers: { priority: 1.8 } } }).pricing.serviceTiers,
    ).toEqual({ flex: 0.5, batch: 0.5, priority: 1.8 });
  });

  it('prices flex at half and priority at the configured factor, and records the tier', async () => {
    const h = await harness({ pricing: { serviceTiers: { priority: 2 } } });
    const openai = client(h);
    // 3 words + 3 = 6 prompt tokens; 5 reply tokens.
    const messages = [{ role: 'user' as const, content: 'summarise this page' }];
    const flex = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages,
      service_tier: 'flex',
    });
    expect(flex.service_tier).toBe('flex');
    await withAttribution({ department: 'priority-dept' }, () =>
      openai.chat.completions.create({ model: 'gpt-4o-mini', messages, service_tier: 'priority' }),
    );
    const m = await h.scrape();
    const base = catalogUsd('gpt-4o-mini', 6, 5);
    const flexUsd = sum(m, 'tokenfuse_cost_usd_total', { ...LOCAL, department: 'unknown' });
    const priorityUsd = sum(m, 'tokenfuse_cost_usd_total', {
      ...LOCAL,
      department: 'priority-dept',
    });
    expect(Math.abs(flexUsd - base * 0.5)).toBeLessThan(1e-9);
    expect(Math.abs(priorityUsd - base * 2)).toBeLessThan(1e-9);
    const [flexSpan, prioritySpan] = h.spans();
    expect(flexSpan!.attributes).toMatchObject({
      'openai.request.service_tier': 'flex',
      'openai.response.service_tier': 'flex',
    });
    expect(flexSpan!.attributes['tokenfuse.cost.usd']).toBeCloseTo(base * 0.5, 12);
    expect(prioritySpan!.attributes).toMatchObject({
      'openai.request.service_tier': 'priority',
      'openai.response.service_tier': 'priority',
    });
  });

  it('prices by the tier the response says ran, also for streams', async () => {
    const h = await harness();
    const openai = client(h);
    const stream = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'one two' }],
      service_tier: 'flex',
      stream: true,
    });
    for await (const _ of stream) {
      // drain
    }
    const m = await h.scrape();
    // 2 + 3 = 5 prompt tokens, 5 reply tokens, at the flex factor.
    const usd = sum(m, 'tokenfuse_cost_usd_total', LOCAL);
    expect(Math.abs(usd - catalogUsd('gpt-4o-mini', 5, 5) * 0.5)).toBeLessThan(1e-9);
    expect(h.spans()[0]!.attributes['openai.response.service_tier']).toBe('flex');
  });

  it("prices another instrumentation's GenAI span by its semconv service tier", async () => {
    const h = await harness();
    const tracer = h.tracerProvider.getTracer('@opentelemetry/instrumentation-openai');
    tracer
      .startSpan('chat gpt-4.1', {
        attributes: {
          'gen_ai.operation.name': 'chat',
          'gen_ai.provider.name': 'openai',
          'gen_ai.request.model': 'gpt-4.1',
          'gen_ai.usage.input_tokens': 1000,
          'gen_ai.usage.output_tokens': 100,
          'server.address': 'api.openai.com',
          'openai.request.service_tier': 'auto',
          'openai.response.service_tier': 'flex',
        },
      })
      .end();
    const expected = catalogUsd('gpt-4.1', 1000, 100) * 0.5;
    expect(
      Math.abs((h.spans()[0]!.attributes['tokenfuse.cost.usd'] as number) - expected),
    ).toBeLessThan(1e-12);
    const m = await h.scrape();
    expect(
      Math.abs(sum(m, 'tokenfuse_cost_usd_total', { model: 'gpt-4.1' }) - expected),
    ).toBeLessThan(1e-12);
  });

  it('prices a tier without a factor at the standard rate, and counts it', async () => {
    const h = await harness();
    const openai = client(h);
    await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'one two' }],
      service_tier: 'priority',
    });
    const m = await h.scrape();
    const usd = sum(m, 'tokenfuse_cost_usd_total', LOCAL);
    expect(Math.abs(usd - catalogUsd('gpt-4o-mini', 5, 5))).toBeLessThan(1e-9);
    expect(sum(m, 'tokenfuse_pricing_issues_total', { reason: 'tier_unknown' })).toBe(1);
  });
});

// Three chat lines: "please classify item N" (4 words + 3 = 7 prompt tokens, 5 reply
// tokens) twice, and one line the server fails (model error-400).
const CHAT_LINES = [
  { custom_id: 'item-1', body: { model: 'gpt-4o-mini', content: 'please classify item one' } },
  { custom_id: 'item-2', body: { model: 'gpt-4o-mini', content: 'please classify item two' } },
  { custom_id: 'item-3', body: { model: 'error-400', content: 'never answered' } },
].map(({ custom_id, body }) =>
  JSON.stringify({
    custom_id,
    method: 'POST',
    url: '/v1/chat/completions',
    body: { model: body.model, messages: [{ role: 'user', content: body.content }] },
  }),
);

async function createBatch(
  openai: OpenAIType,
  metadata?: Record<string, string>,
): Promise<OpenAIType.Batches.Batch> {
  const input = await openai.files.create({
    file: await toFile(Buffer.from(`${CHAT_LINES.join('\n')}\n`), 'requests.jsonl'),
    purpose: 'batch',
  });
  return openai.batches.create({
    input_file_id: input.id,
    endpoint: '/v1/chat/completions',
    completion_window: '24h',
    ...(metadata ? { metadata } : {}),
  });
}

function batchSpans(h: Harness) {
  return h.spans().filter((s) => s.name === 'batch_results');
}

function batchCostOf(m: Sample[], labels: Record<string, string>): number {
  return sum(m, 'tokenfuse_cost_usd_total', { ...LOCAL, model: 'gpt-4o-mini', ...labels });
}

// Two lines of 7 prompt and 5 reply tokens, at half the catalog's price.
const BATCH_USD = () => catalogUsd('gpt-4o-mini', 14, 10) * 0.5;

describe('Batch API', () => {
  it("stamps the caller's attribution into the batch metadata, keeping the caller's keys", async () => {
    const h = await harness({ attribution: { defaults: { project: 'nightly' } } });
    const openai = client(h);
    const batch = await withAttribution({ department: 'research' }, () =>
      createBatch(openai, { job: 'reindex', tokenfuse_project: 'callers-own' }),
    );
    const seen = llm.requests.find((r) => r.method === 'POST' && r.path === '/v1/batches');
    expect(seen!.body.metadata).toEqual({
      job: 'reindex',
      tokenfuse_project: 'callers-own',
      tokenfuse_department: 'research',
    });
    expect(batch.metadata).toEqual(seen!.body.metadata);
  });

  it('prices results at the batch rate, attributed from the metadata, counted once when read twice', async () => {
    const h = await harness();
    const openai = client(h);
    const batch = await withAttribution({ department: 'research' }, () => createBatch(openai));
    const done = await openai.batches.retrieve(batch.id);
    expect(done.status).toBe('completed');

    // Read twice, the second time by a caller with another department in context.
    const first = await (await openai.files.content(done.output_file_id!)).text();
    await vi.waitFor(() => expect(batchSpans(h)).toHaveLength(1));
    await withAttribution({ department: 'reader' }, async () =>
      (await openai.files.content(done.output_file_id!)).text(),
    );
    await (await openai.files.content(done.error_file_id!)).text();
    await vi.waitFor(() => expect(batchSpans(h)).toHaveLength(3));
    expect(first.split('\n').filter(Boolean)).toHaveLength(2);

    const m = await h.scrape();
    const research = { department: 'research' };
    expect(Math.abs(batchCostOf(m, research) - BATCH_USD())).toBeLessThan(1e-9);
    expect(sum(m, 'tokenfuse_cost_usd_total', { department: 'reader' })).toBe(0);
    expect(sum(m, 'tokenfuse_tokens_total', { ...research, type: 'input' })).toBe(14);
    expect(sum(m, 'tokenfuse_tokens_total', { ...research, type: 'output' })).toBe(10);
    expect(sum(m, 'tokenfuse_requests_total', { ...research, outcome: 'ok' })).toBe(2);
    expect(
      sum(m, 'tokenfuse_requests_total', { ...research, model: 'unknown', outcome: 'error' }),
    ).toBe(1);
    // Batch lines have no duration of their own.
    expect(sum(m, 'gen_ai_client_operation_duration_count')).toBe(0);

    const [read1, read2, errors] = batchSpans(h);
    expect(read1!.attributes).toMatchObject({
      'tokenfuse.api': 'batches',
      'tokenfuse.batch.id': batch.id,
      'tokenfuse.batch.file_id': done.output_file_id,
      'tokenfuse.batch.lines': 2,
      'tokenfuse.batch.lines_failed': 0,
      'tokenfuse.batch.already_counted': false,
      'tokenfuse.department': 'research',
    });
    expect(
      Math.abs((read1!.attributes['tokenfuse.cost.usd'] as number) - BATCH_USD()),
    ).toBeLessThan(1e-9);
    expect(read2!.attributes['tokenfuse.batch.already_counted']).toBe(true);
    expect(read2!.attributes['tokenfuse.cost.usd']).toBeUndefined();
    expect(errors!.attributes).toMatchObject({
      'tokenfuse.batch.file_id': done.error_file_id,
      'tokenfuse.batch.lines': 1,
      'tokenfuse.batch.lines_failed': 1,
      'tokenfuse.cost.usd': 0,
    });
  });

  it('a reader that never saw the batch finds it through the batch list', async () => {
    const writer = await harness();
    const batch = await withAttribution({ department: 'research' }, () =>
      createBatch(client(writer)),
    );
    await writer.close();

    const reader = await harness();
    const openai = client(reader);
    const done = await openai.batches.retrieve(batch.id);
    await (await openai.files.content(done.output_file_id!)).text();
    await vi.waitFor(() => expect(batchSpans(reader)).toHaveLength(1));
    const m = await reader.scrape();
    expect(Math.abs(batchCostOf(m, { department: 'research' }) - BATCH_USD())).toBeLessThan(1e-9);
    expect(llm.requests.filter((r) => r.path.startsWith('/v1/batches?'))).toHaveLength(1);
  });

  it('counts an embeddings batch as embeddings, at the batch rate', async () => {
    const h = await harness();
    const openai = client(h);
    const lines = ['the first document', 'a second, longer document here'].map((input, i) =>
      JSON.stringify({
        custom_id: `doc-${i}`,
        method: 'POST',
        url: '/v1/embeddings',
        body: { model: 'text-embedding-3-small', input },
      }),
    );
    const input = await openai.files.create({
      file: await toFile(Buffer.from(lines.join('\n')), 'docs.jsonl'),
      purpose: 'batch',
    });
    const batch = await withAttribution({ department: 'search' }, () =>
      openai.batches.create({
        input_file_id: input.id,
        endpoint: '/v1/embeddings',
        completion_window: '24h',
      }),
    );
    const done = await openai.batches.retrieve(batch.id);
    await (await openai.files.content(done.output_file_id!)).text();
    await vi.waitFor(() => expect(batchSpans(h)).toHaveLength(1));
    // 3 + 5 = 8 input tokens.
    const price = calcPrice({ input_tokens: 8 }, 'text-embedding-3-small', {
      providerId: 'openai',
    });
    const m = await h.scrape();
    const labels = { ...LOCAL, department: 'search', model: 'text-embedding-3-small' };
    expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'input' })).toBe(8);
    expect(
      Math.abs(sum(m, 'tokenfuse_cost_usd_total', labels) - price!.total_price * 0.5),
    ).toBeLessThan(1e-12);
    expect(sum(m, 'gen_ai_client_token_usage_count', { gen_ai_operation_name: 'embeddings' })).toBe(
      2,
    );
  });

  it('does not count a file that holds no batch results', async () => {
    const h = await harness();
    const openai = client(h);
    const upload = await openai.files.create({
      file: await toFile(Buffer.from('{"prompt": "a", "completion": "b"}\n'), 'tune.jsonl'),
      purpose: 'fine-tune',
    });
    expect(await (await openai.files.content(upload.id)).text()).toContain('prompt');
    // A batch read after it: its span is the only one.
    const batch = await createBatch(openai);
    const done = await openai.batches.retrieve(batch.id);
    await (await openai.files.content(done.output_file_id!)).text();
    await vi.waitFor(() => expect(batchSpans(h)).toHaveLength(1));
    expect(batchSpans(h)[0]!.attributes['tokenfuse.batch.file_id']).toBe(done.output_file_id);
  });

  it('stamps only what fits in 16 metadata keys, says so once and counts it', async () => {
    const h = await harness({ attribution: { defaults: { project: 'p', environment: 'prod' } } });
    const openai = client(h);
    const own = Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`k${i}`, 'v']));
    await withAttribution({ department: 'research' }, () => createBatch(openai, own));
    const seen = llm.requests.find((r) => r.method === 'POST' && r.path === '/v1/batches');
    expect(Object.keys(seen!.body.metadata)).toHaveLength(16);
    expect(seen!.body.metadata.tokenfuse_department).toBe('research');
    expect(seen!.body.metadata.tokenfuse_project).toBeUndefined();
    const m = await h.scrape();
    expect(sum(m, 'tokenfuse_pricing_issues_total', { reason: 'batch_metadata_full' })).toBe(1);
  });

  it('admits a batch at create time by its input file, and refuses one over budget', async () => {
    const budget = (usd: number) => ({
      budgets: [
        {
          name: 'research-daily',
          match: { department: 'research' },
          window: 'day' as const,
          limit: { usd },
        },
      ],
    });
    // A budget already spent by a synchronous call (6 prompt and 5 reply tokens, about
    // $0.0000039) refuses the batch before it is created.
    const small = await harness(budget(0.000001));
    await withAttribution({ department: 'research' }, () =>
      client(small).chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'summarise this page' }],
      }),
    );
    llm.reset();
    const err = await withAttribution({ department: 'research' }, () =>
      createBatch(client(small)),
    ).catch((e: unknown) => e);
    expect(isBudgetExceededError(err)).toBe(true);
    expect((err as { budget?: string }).budget).toBe('research-daily');
    const blocked = { department: 'research', outcome: 'blocked', budget: 'research-daily' };
    expect(sum(await small.scrape(), 'tokenfuse_requests_total', blocked)).toBe(1);
    expect(
      llm.requests.filter((r) => r.method === 'POST' && r.path === '/v1/batches'),
    ).toHaveLength(0);
    const inputRead = llm.requests.filter((r) => /^\/v1\/files\/[^/]+\/content$/.test(r.path));
    expect(inputRead).toHaveLength(1);
    await small.close();

    llm.reset();
    const roomy = await harness(budget(1));
    const batch = await withAttribution({ department: 'research' }, () =>
      createBatch(client(roomy)),
    );
    expect(batch.status).toBe('validating');
    expect(llm.requests.map((r) => `${r.method} ${r.path.replace(/file-\w+/, 'ID')}`)).toEqual([
      'POST /v1/files',
      'GET /v1/files/ID/content',
      'POST /v1/batches',
    ]);
    // The SDK's own promise helpers work on an admitted create.
    const { data, response } = await withAttribution({ department: 'research' }, () =>
      client(roomy)
        .batches.create({
          input_file_id: batch.input_file_id,
          endpoint: '/v1/chat/completions',
          completion_window: '24h',
        })
        .withResponse(),
    );
    expect(response.status).toBe(200);
    expect(data.metadata).toEqual({ tokenfuse_department: 'research' });
  });

  describe('with the Redis ledger', () => {
    let redis: RedisServer;
    beforeAll(async () => {
      redis = await RedisServer.start();
    });
    afterAll(async () => {
      await redis.kill();
    });

    it('counts a result file once across processes', async () => {
      const ledger = { store: 'redis' as const, url: redis.url, keyPrefix: 'batch-test:' };
      const a = await harness({ ledger });
      const batch = await withAttribution({ department: 'research' }, () => createBatch(client(a)));
      const done = await client(a).batches.retrieve(batch.id);
      await (await client(a).files.content(done.output_file_id!)).text();
      await vi.waitFor(() => expect(batchSpans(a)).toHaveLength(1));
      const ma = await a.scrape();
      expect(Math.abs(batchCostOf(ma, { department: 'research' }) - BATCH_USD())).toBeLessThan(
        1e-9,
      );
      await a.tokenfuse.instrumentation.closeConnections();
      await a.close();

      // Another process: its own memory is empty, the ledger remembers.
      const b = await harness({ ledger });
      await (await client(b).files.content(done.output_file_id!)).text();
      await vi.waitFor(() => expect(batchSpans(b)).toHaveLength(1));
      expect(batchSpans(b)[0]!.attributes['tokenfuse.batch.already_counted']).toBe(true);
      const mb = await b.scrape();
      expect(sum(mb, 'tokenfuse_cost_usd_total')).toBe(0);
      expect(sum(mb, 'tokenfuse_requests_total')).toBe(0);
      await b.tokenfuse.instrumentation.closeConnections();
      const key = `batch-test:batch-results:${done.output_file_id}`;
      expect(await redis.client().exists(key)).toBe(1);
    });
  });
});
