// End to end, with real servers: an app under `node --import tokenfuse/register` runs a
// department past its budget against the local fake LLM server; a real Prometheus scrapes
// it and evaluates the shipped alert rules; a real Alertmanager delivers the critical page
// to a webhook receiver here. Then every PromQL expression of every dashboard panel and
// every rule is run against that Prometheus.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type FakeOpenAI, startFakeOpenAI } from '../examples/shared/fake-openai-server.mjs';
import { allQueries } from '../grafana/dashboards/build.js';
import { CONTRACT_METRICS } from '../src/tokenfuse.js';
import { App, childEnv, freePort, ROOT } from './helpers/processes.js';
import {
  type AlertmanagerServer,
  type PrometheusServer,
  startAlertmanager,
  startPrometheus,
} from './helpers/prometheus.js';

const RULES = join(ROOT, 'grafana/prometheus/tokenfuse-rules.yml');

interface Delivered {
  status: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

let llm: FakeOpenAI;
let app: App;
let prometheus: PrometheusServer;
let alertmanager: AlertmanagerServer;
let receiver: Server;
const delivered: Delivered[] = [];

beforeAll(async () => {
  llm = await startFakeOpenAI();
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      delivered.push(...(JSON.parse(body) as { alerts: Delivered[] }).alerts);
      res.end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/page`;

  // The test's Alertmanager pages every critical alert to the webhook at once; short
  // waits are for the test only (the shipped example config groups more patiently).
  alertmanager = await startAlertmanager(
    [
      'route:',
      '  receiver: ignore',
      '  group_by: [alertname, budget, department]',
      '  group_wait: 1s',
      '  group_interval: 1s',
      '  repeat_interval: 1h',
      '  routes:',
      '    - matchers: [severity="critical"]',
      '      receiver: pager',
      'receivers:',
      '  - name: ignore',
      '  - name: pager',
      '    webhook_configs:',
      `      - url: ${JSON.stringify(hook)}`,
      '        send_resolved: false',
      '',
    ].join('\n'),
  );

  const metricsPort = await freePort();
  app = new App(
    ['--import', 'tokenfuse/register', 'test/fixtures/apps/e2e-app.mjs'],
    childEnv({
      LLM_BASE_URL: `${llm.url}/v1`,
      OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort),
      OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
      TOKENFUSE_CONFIG: 'test/fixtures/e2e.config.yaml',
    }),
  );
  expect(JSON.parse(await app.firstLine())).toEqual({ ready: true, blocked: 1 });

  prometheus = await startPrometheus({
    targets: [`127.0.0.1:${metricsPort}`],
    ruleFiles: [RULES],
    alertmanager: alertmanager.address,
  });
  await prometheus.waitForTargets();
}, 90_000);

afterAll(async () => {
  await app?.kill();
  await prometheus?.stop();
  await alertmanager?.stop();
  await new Promise((r) => receiver?.close(r));
  await llm?.close();
});

describe('alerting', () => {
  it('pages the on-call through Alertmanager when a budget fuse opens', async () => {
    const deadline = Date.now() + 150_000;
    const page = () =>
      delivered.find(
        (a) => a.labels.alertname === 'LLMFuseOpen' && a.labels.budget === 'marketing-hourly',
      );
    while (!page() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
    const alert = page();
    expect(
      alert,
      `no page; prometheus alerts: ${JSON.stringify(await prometheus.alerts())}`,
    ).toBeDefined();
    expect(alert!.status).toBe('firing');
    expect(alert!.labels).toMatchObject({
      alertname: 'LLMFuseOpen',
      severity: 'critical',
      budget: 'marketing-hourly',
      department: 'marketing',
    });
    expect(alert!.annotations.runbook_url).toMatch(/grafana\/runbook\.md#llmfuseopen$/);
    // The monitor budget reports an open fuse too, but blocks nothing: no page for it.
    expect(
      delivered.filter(
        (a) => a.labels.budget === 'qa-trial' && a.labels.alertname === 'LLMFuseOpen',
      ),
    ).toEqual([]);
    // The app keeps calling for marketing (gpt-4.1, max_tokens 1) every 500 ms: all blocked
    // in the process, none reached the LLM server.
    expect(
      llm.requests.filter((r) => r.body?.model === 'gpt-4.1' && r.body?.max_tokens === 1),
    ).toEqual([]);
  }, 180_000);

  it('fires the threshold alerts for the budgets at 60%, 80% and 95%, one each', async () => {
    // The bands have `for: 2m`: wait until the last one has fired.
    const deadline = Date.now() + 150_000;
    let firing = await prometheus.alerts();
    while (
      Date.now() < deadline &&
      !['LLMBudget50Percent', 'LLMBudget75Percent', 'LLMBudget90Percent'].every((name) =>
        firing.some((a) => a.labels.alertname === name && a.state === 'firing'),
      )
    ) {
      await new Promise((r) => setTimeout(r, 1000));
      firing = await prometheus.alerts();
    }
    firing = firing.filter((a) => a.labels.budget !== undefined);
    const by = (name: string) =>
      firing
        .filter((a) => a.labels.alertname === name)
        .map((a) => `${a.labels.budget}:${a.state}`)
        .sort();
    expect(by('LLMBudget50Percent')).toEqual(['search-hourly:firing']);
    expect(by('LLMBudget75Percent')).toEqual(['support-hourly:firing']);
    expect(by('LLMBudget90Percent')).toEqual(['data-hourly:firing']);
    expect(by('LLMBudgetExhausted')).toEqual(['marketing-hourly:firing']);
  }, 180_000);
});

// Expressions that are correct but have no data in this scenario, and why.
const EXPECTED_EMPTY: Record<string, string> = {
  LLMSpendSpike: 'needs a day of spend history to compare against',
  'tokenfuse-budgets-fuses/Half-open fuses':
    'no fuse is half-open: that lasts only while probes are in flight',
  'tokenfuse-budgets-fuses/Shared ledger errors':
    'the scenario uses the in-memory ledger, which has no errors to count',
  // Both counters are proven exact on /metrics in test/hostile/numbers.test.ts.
  'tokenfuse-budgets-fuses/Invalid usage fields':
    'the fake server reports only valid usage in this scenario',
  'tokenfuse-budgets-fuses/Calls not under their own labels':
    'the scenario uses few, short tag values: nothing is cut or folded',
  // Proven exact in test/hostile/host-safety.test.ts and test/cost-truth.test.ts.
  'tokenfuse-budgets-fuses/Webhook messages dropped':
    'the scenario configures no webhook, so the counter is not exported',
  // Proven exact on /metrics in test/batch-and-tiers.test.ts and test/metrics-contract.test.ts.
  'tokenfuse-budgets-fuses/Pricing and attribution fallbacks':
    'the scenario uses no unknown service tier and no batches: nothing is priced on a fallback',
  'tokenfuse-budgets-fuses/Provider-reported minus catalog cost':
    "the fake server reports no provider cost (OpenRouter's usage.cost) in this scenario",
  // Proven on /metrics in test/cardinality-and-scrape.test.ts, and by promtool cases.
  LLMMetricsOverflow: 'the limits are sized from the caps: nothing is folded in this scenario',
  // Counted exactly on /metrics in test/accounting.test.ts, and by promtool cases.
  LLMInternalErrors: 'nothing fails inside tokenfuse in this scenario',
};

describe('every dashboard and rule expression, against real data', () => {
  const contract = new Set(
    CONTRACT_METRICS.flatMap((m) =>
      m.type === 'histogram' ? [`${m.name}_bucket`, `${m.name}_sum`, `${m.name}_count`] : [m.name],
    ),
  );
  const rules = (
    parse(readRules()) as {
      groups: Array<{ rules: Array<{ alert?: string; record?: string; expr: string }> }>;
    }
  ).groups
    .flatMap((g) => g.rules)
    .map((r) => ({
      where: `rule ${r.alert ?? r.record}`,
      key: r.alert ?? r.record ?? '',
      expr: r.expr,
    }));
  const panels = allQueries().map((q) => ({
    where: `dashboard ${q.dashboard} / ${q.panel} / ${q.refId}`,
    key: `${q.dashboard}/${q.panel}`,
    expr: q.expr,
  }));

  it.each([...rules, ...panels])('$where', async ({ key, expr }) => {
    // Metric names are the identifiers right before a selector or range: `name{` / `name[`.
    for (const [, name] of expr.matchAll(/\b((?:tokenfuse|gen_ai)_[a-z_]+)\s*[{[]/g)) {
      expect(contract, `${name} is not in the metrics contract`).toContain(name);
    }
    const result = await prometheus.query(grafanaToPromQL(expr));
    if (key in EXPECTED_EMPTY) expect(result, EXPECTED_EMPTY[key]).toEqual([]);
    else expect(result.length, `no data for: ${expr}`).toBeGreaterThan(0);
  });
});

function readRules(): string {
  return readFileSync(RULES, 'utf8');
}

/** Grafana's macros and template variables, as Grafana would expand them for "All". */
function grafanaToPromQL(expr: string): string {
  return (
    expr
      .replaceAll('$__rate_interval', '1m')
      .replaceAll('$__interval', '15s')
      .replaceAll('$__range', '10m')
      // The drill-down's single-select department: one with a budget and blocked calls.
      .replaceAll('="$department"', '="marketing"')
      .replace(/\$\{?(department|project|environment|model|budget)(?::\w+)?\}?/g, '.*')
  );
}
