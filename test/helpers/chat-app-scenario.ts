// What the fixture apps test/fixtures/apps/chat-app.{mjs,cjs} and prom-client-app.mjs do
// (two default-department calls, one X-Department: research call, one of them streamed, all
// gpt-4.1 at the declared relay `local-relay`), as the exact samples tokenfuse must export.
// Token rules of the fake server: "one two three four five" → 8 prompt / 4 output,
// "six seven" → 5 / 2, "stream please" → 5 / 3.
import { expect } from 'vitest';
import type { Sample } from './prom-text.js';

export const CHAT_APP_READY_LINE = '{"ready":true,"sawEmptyChoices":false}';

type Labels = Record<string, string>;

/** A sample with a value that may be an asymmetric matcher (expect.closeTo). */
export function sample(name: string, labels: Labels, value: unknown): Sample {
  return { name, labels, value: value as number };
}

/** Labels of tokenfuse's counters for the scenario, plus `extra` (e.g. otel_scope_*). */
export function counterLabels(department: string, extra: Labels = {}): Labels {
  return {
    department,
    project: 'unknown',
    environment: 'unknown',
    provider: 'local-relay',
    model: 'gpt-4.1',
    ...extra,
  };
}

/** Labels of the GenAI histograms for the scenario, plus `extra`. */
export function genAiLabels(department: string, extra: Labels = {}): Labels {
  return {
    gen_ai_operation_name: 'chat',
    gen_ai_provider_name: 'local-relay',
    gen_ai_request_model: 'gpt-4.1',
    department,
    project: 'unknown',
    environment: 'unknown',
    ...extra,
  };
}

/**
 * The scenario's expected counter and histogram-total samples. `scope` is added to every
 * label set: the OpenTelemetry exporter's otel_scope_* labels, or nothing for suites that
 * compare without them.
 */
export function chatAppExpected(scope: Labels = {}) {
  const tf = (dept: string, extra: Labels = {}) => counterLabels(dept, { ...extra, ...scope });
  const usage = (dept: string, type: string) =>
    genAiLabels(dept, { gen_ai_token_type: type, ...scope });
  return {
    requests: [
      sample('tokenfuse_requests_total', tf('platform', { outcome: 'ok' }), 2),
      sample('tokenfuse_requests_total', tf('research', { outcome: 'ok' }), 1),
    ],
    tokens: [
      sample('tokenfuse_tokens_total', tf('platform', { type: 'input' }), 13),
      sample('tokenfuse_tokens_total', tf('platform', { type: 'output' }), 7),
      sample('tokenfuse_tokens_total', tf('research', { type: 'input' }), 5),
      sample('tokenfuse_tokens_total', tf('research', { type: 'output' }), 2),
    ],
    // gpt-4.1: $2/MTok input, $8/MTok output.
    cost: [
      sample('tokenfuse_cost_usd_total', tf('platform'), expect.closeTo(82e-6, 12)),
      sample('tokenfuse_cost_usd_total', tf('research'), expect.closeTo(26e-6, 12)),
    ],
    tokenUsageSum: [
      sample('gen_ai_client_token_usage_sum', usage('platform', 'input'), 13),
      sample('gen_ai_client_token_usage_sum', usage('platform', 'output'), 7),
      sample('gen_ai_client_token_usage_sum', usage('research', 'input'), 5),
      sample('gen_ai_client_token_usage_sum', usage('research', 'output'), 2),
    ],
    tokenUsageCount: [
      sample('gen_ai_client_token_usage_count', usage('platform', 'input'), 2),
      sample('gen_ai_client_token_usage_count', usage('platform', 'output'), 2),
      sample('gen_ai_client_token_usage_count', usage('research', 'input'), 1),
      sample('gen_ai_client_token_usage_count', usage('research', 'output'), 1),
    ],
  };
}
