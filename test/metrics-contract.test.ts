import { afterAll, beforeAll, expect, it } from 'vitest';
import { type FakeOpenAI, startFakeOpenAI } from '../examples/shared/fake-openai-server.mjs';
import { METRIC_NAMES } from '../src/index.js';
import {
  DEFAULT_METRIC_LABELS,
  type OtelMetricName,
  PRICING_ISSUES_METRIC,
  PROMETHEUS_NAME,
  prometheusName,
  SEMCONV_METRIC_ATTRIBUTES,
  TAG_NAMES,
} from '../src/metrics/contract.js';
import { SERIES_SHAPE } from '../src/metrics/contract-labels.js';
import { SEMCONV_LATEST_CONTRACT_METRICS } from '../src/metrics/contract-semconv-latest.js';
import { createHarness, type Harness } from './helpers/harness.js';

// The metrics contract dashboards and alert rules rely on (DESIGN.md, docs/metrics.md
// generated from the contract). Changing a name here means changing them too.
const CONTRACT = {
  gen_ai_client_token_usage: 'histogram',
  gen_ai_client_operation_duration: 'histogram',
  gen_ai_client_operation_time_to_first_chunk: 'histogram',
  tokenfuse_tokens_total: 'counter',
  tokenfuse_cost_usd_total: 'counter',
  tokenfuse_requests_total: 'counter',
  tokenfuse_unpriced_total: 'counter',
  tokenfuse_usage_invalid_total: 'counter',
  tokenfuse_series_dropped_total: 'counter',
  tokenfuse_estimate_bounded_total: 'counter',
  tokenfuse_budget_limit: 'gauge',
  tokenfuse_budget_spent: 'gauge',
  tokenfuse_budget_utilization: 'gauge',
  tokenfuse_fuse_state: 'gauge',
  tokenfuse_fuse_trips_total: 'counter',
  tokenfuse_fuse_would_block_total: 'counter',
  tokenfuse_ledger_errors_total: 'counter',
  tokenfuse_webhook_dropped_total: 'counter',
  tokenfuse_manual_actions_total: 'counter',
  tokenfuse_price_catalog_age_seconds: 'gauge',
  tokenfuse_price_catalog_errors_total: 'counter',
  tokenfuse_cost_provider_usd_total: 'counter',
  tokenfuse_cost_provider_catalog_usd_total: 'counter',
  tokenfuse_pricing_issues_total: 'counter',
  tokenfuse_internal_errors_total: 'counter',
  tokenfuse_instrumentation_info: 'gauge',
  tokenfuse_instrumentation_replaced: 'gauge',
  tokenfuse_series_overflow_total: 'counter',
  tokenfuse_budget_top_utilization: 'gauge',
  tokenfuse_budget_values: 'gauge',
  tokenfuse_budget_unkeyed_total: 'counter',
} as const;

let llm: FakeOpenAI;
let h: Harness;
beforeAll(async () => {
  llm = await startFakeOpenAI();
  // One budget of each action, so every budget and fuse series exists; the shared
  // ledger, so its error counter does (nothing listens on port 1: calls go ahead on
  // the local fallback, and the counter counts the failures).
  h = await createHarness({
    budgets: [
      { name: 'all-hourly', window: 'hour', limit: { tokens: 1_000_000 } },
      { name: 'all-monthly-trial', window: 'month', limit: { usd: 100 }, action: 'monitor' },
      // Per-value: its summaries (a call with a user, calls without).
      { name: 'per-user', per: 'user', window: 'hour', limit: { tokens: 1_000_000 } },
    ],
    ledger: { store: 'redis', url: 'redis://127.0.0.1:1' },
    // A webhook, so its drop counter does (no event fires: nothing is posted).
    webhooks: [{ url: 'http://127.0.0.1:1/hook' }],
  });
});
afterAll(async () => {
  await h.tokenfuse.fuses.close();
  await h.close();
  await llm.close();
});

it('exports exactly the contracted metric names and types on /metrics', async () => {
  const openai = new h.OpenAI({ baseURL: `${llm.url}/v1`, apiKey: 'sk', maxRetries: 0 });
  const stream = await openai.chat.completions.create({
    model: 'unpriced-model',
    messages: [{ role: 'user', content: 'x' }],
    max_tokens: 1,
    stream: true,
  });
  for await (const _ of stream);
  // a provider's usage field that is not a token count, and a tag value too long for a label
  llm.enqueue({ kind: 'usage', usage: { prompt_tokens: -1, completion_tokens: 1 } });
  await openai.chat.completions.create(
    { model: 'unpriced-model', messages: [{ role: 'user', content: 'x' }], max_tokens: 1 },
    { headers: { 'X-Department': 'd'.repeat(200), 'X-User': 'u1' } },
  );
  // A response carrying the provider's own cost (OpenRouter's usage.cost), on a service
  // tier with no price factor (a pricing fallback).
  llm.enqueue({
    kind: 'usage',
    usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4, cost: 0.00001 },
  });
  await openai.chat.completions.create({
    model: 'unpriced-model',
    messages: [{ role: 'user', content: 'x' }],
    service_tier: 'priority',
  });
  const text = await h.metricsText();
  const types = Object.fromEntries(
    [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)]
      .map((m) => [m[1], m[2]])
      .filter(([name]) => name !== 'target_info'),
  );
  expect(types).toEqual(CONTRACT);
  expect([...METRIC_NAMES].sort()).toEqual(Object.keys(CONTRACT).sort());
});

it('labels tokenfuse counters with the common labels', async () => {
  const text = await h.metricsText();
  const line = text.split('\n').find((l) => l.startsWith('tokenfuse_requests_total{'))!;
  const names = [...line.matchAll(/(\w+)="/g)].map((m) => m[1]);
  expect(names).toEqual([
    'department',
    'project',
    'environment',
    'provider',
    'model',
    'outcome',
    'otel_scope_name',
    'otel_scope_version',
  ]);
});

it('serves on each family exactly the labels its contract shape names (docs/metrics.md is made from them)', async () => {
  const text = await h.metricsText();
  // Every label name each family's series carry, on /metrics after the calls above.
  const served = new Map<string, Set<string>>();
  const families = new Set(Object.keys(CONTRACT));
  for (const line of text.split('\n')) {
    const m = /^(\w+)\{(.*)\} /.exec(line);
    if (m === null) continue;
    const family = [m[1]!, m[1]!.replace(/_(bucket|sum|count)$/, '')].find((f) => families.has(f));
    if (family === undefined) continue;
    const names = served.get(family) ?? new Set<string>();
    for (const [, name] of m[2]!.matchAll(/(\w+)="/g)) names.add(name!);
    served.set(family, names);
  }
  // What every series carries whatever its shape: the scope, and the bucket bound.
  const common = ['otel_scope_name', 'otel_scope_version', 'le'];
  // The harness runs the default allowlist, and no budget has a `match`.
  const allowlisted = [...DEFAULT_METRIC_LABELS];
  const semconv = [
    ...SEMCONV_METRIC_ATTRIBUTES.map((a) => prometheusName(a, false)),
    ...allowlisted.filter((l) => (TAG_NAMES as readonly string[]).includes(l)),
  ];
  const mismatches: string[] = [];
  for (const [otel, shape] of Object.entries(SERIES_SHAPE)) {
    const family = PROMETHEUS_NAME[otel as OtelMetricName];
    const names = served.get(family);
    if (names === undefined) continue; // a family with no series yet (a gauge with none set)
    const always = new Set<string>();
    const sometimes = new Set<string>();
    for (const label of shape.labels) {
      if (typeof label === 'string') always.add(label);
      else if ('only' in label) sometimes.add(label.label);
      else if (label.group === 'allowlisted') for (const l of allowlisted) always.add(l);
      else if (label.group === 'semconv') for (const l of semconv) always.add(l);
    }
    const unexpected = [...names].filter(
      (n) => !common.includes(n) && !always.has(n) && !sometimes.has(n),
    );
    const missing = [...always].filter((n) => !names.has(n));
    if (unexpected.length > 0 || missing.length > 0)
      mismatches.push(
        `${family}: served but not in its shape [${unexpected}], in its shape but not served [${missing}]`,
      );
  }
  expect(mismatches).toEqual([]);
  // The check saw the families that carry groups of labels, not just the plain ones.
  expect([...served.keys()]).toEqual(
    expect.arrayContaining([
      'gen_ai_client_token_usage',
      'tokenfuse_cost_usd_total',
      'tokenfuse_budget_spent',
    ]),
  );
});

it('exports tokenfuse_pricing_issues_total as the contract names it, by reason', async () => {
  const openai = new h.OpenAI({ baseURL: `${llm.url}/v1`, apiKey: 'sk', maxRetries: 0 });
  // A service tier with no price factor: priced at the standard rate, and counted.
  await openai.chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'x' }],
    service_tier: 'priority',
  });
  const { otel, name, type, help } = PRICING_ISSUES_METRIC;
  expect(prometheusName(otel, type === 'counter')).toBe(name);
  const lines = (await h.metricsText()).split('\n').filter((l) => l.includes(name));
  expect(lines.filter((l) => l.startsWith('#'))).toEqual([
    `# HELP ${name} ${help}`,
    `# TYPE ${name} ${type}`,
  ]);
  const sample = lines.find((l) => l.startsWith(`${name}{`))!;
  expect([...sample.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]])).toEqual([
    ['reason', 'tier_unknown'],
    ['otel_scope_name', 'tokenfuse'],
    ['otel_scope_version', expect.any(String)],
  ]);
  // This call and the first test's.
  expect(sample.endsWith(' 2')).toBe(true);
});

// The metrics OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental adds (test/semconv.test.ts
// scrapes them): pinned apart, since they are not exported by default.
const OPT_IN_CONTRACT = {
  gen_ai_client_inference_usage_input_tokens_total: 'counter',
  gen_ai_client_inference_usage_output_tokens_total: 'counter',
  gen_ai_client_inference_usage_cache_read_input_tokens_total: 'counter',
  gen_ai_client_inference_usage_cache_write_input_tokens_total: 'counter',
  gen_ai_client_inference_usage_reasoning_output_tokens_total: 'counter',
  gen_ai_client_inference_operation_input_tokens: 'histogram',
  gen_ai_client_inference_operation_output_tokens: 'histogram',
  gen_ai_client_inference_duration: 'histogram',
  gen_ai_client_inference_time_to_first_chunk: 'histogram',
} as const;

it('pins the opt-in metrics apart from the default contract', () => {
  expect(Object.fromEntries(SEMCONV_LATEST_CONTRACT_METRICS.map((m) => [m.name, m.type]))).toEqual(
    OPT_IN_CONTRACT,
  );
  for (const name of Object.keys(OPT_IN_CONTRACT)) expect(METRIC_NAMES).not.toContain(name);
});
