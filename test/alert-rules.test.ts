// The shipped alerting: grafana/prometheus/tokenfuse-rules.yml (checked and unit-tested by
// promtool), grafana/alertmanager/alertmanager.yml (checked and routed by amtool) and
// grafana/runbook.md (a section per alert, valid PromQL). Needs promtool and amtool on PATH
// (Debian/Ubuntu: `apt-get install prometheus prometheus-alertmanager`); without them the
// suite fails rather than skips, so CI cannot pass without running them.
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { ROOT } from './helpers/processes.js';

const RULES = join(ROOT, 'grafana/prometheus/tokenfuse-rules.yml');
const RULE_TESTS = join(ROOT, 'grafana/prometheus/tokenfuse-rules.test.yml');
const ALERTMANAGER = join(ROOT, 'grafana/alertmanager/alertmanager.yml');
const RUNBOOK = join(ROOT, 'grafana/runbook.md');
// The repository named once, in package.json: every runbook link is built from it.
const PACKAGE = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const RUNBOOK_URL = `${PACKAGE.repository.url.replace(/^git\+/, '').replace(/\.git$/, '')}/blob/main/grafana/runbook.md#`;

/** Receiver of each severity in the example Alertmanager configuration. */
const RECEIVER_OF: Record<string, string> = {
  critical: 'llm-pager',
  warning: 'llm-alerts-slack',
  info: 'llm-spend-slack',
};

interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const rules: AlertRule[] = (
  parse(readFileSync(RULES, 'utf8')) as { groups: Array<{ rules: AlertRule[] }> }
).groups.flatMap((g) => g.rules);
const runbook = readFileSync(RUNBOOK, 'utf8');

const tmp = mkdtempSync(join(tmpdir(), 'tokenfuse-alert-rules-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs promtool or amtool; fails (with the command's output) unless it exits 0. */
function tool(name: 'promtool' | 'amtool', args: string[]): string {
  const result: SpawnSyncReturns<string> = spawnSync(name, args, {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  if ((result.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    throw new Error(
      `${name} is not installed (or not on PATH). The alerting tests need promtool and amtool: ` +
        'run `apt-get install prometheus prometheus-alertmanager` (Debian/Ubuntu), or install ' +
        'them from https://prometheus.io/download/.',
    );
  }
  if (result.error) throw result.error;
  const output = `$ ${name} ${args.join(' ')}\n(exit ${result.status})\n${result.stdout}${result.stderr}`;
  expect(result.status, output).toBe(0);
  return result.stdout;
}

/** GitHub's anchors of the runbook's headings. */
function anchors(markdown: string): Set<string> {
  return new Set(
    [...markdown.matchAll(/^#{1,6} (.+)$/gm)].map((m) =>
      m[1]!
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N}\s_-]/gu, '')
        .replace(/\s/g, '-'),
    ),
  );
}

describe('Prometheus rules', () => {
  it('pass promtool check rules, lint included', () => {
    const out = tool('promtool', ['check', 'rules', '--lint=all', '--lint-fatal', RULES]);
    expect(out).toContain(`SUCCESS: ${rules.length} rules found`);
  });

  it('pass their promtool unit tests', () => {
    expect(tool('promtool', ['test', 'rules', RULE_TESTS])).toContain('SUCCESS');
  });

  it('are the expected alerts, all named LLM…', () => {
    expect(rules.map((r) => r.alert)).toEqual([
      'LLMBudget50Percent',
      'LLMBudget75Percent',
      'LLMBudget90Percent',
      'LLMBudgetExhausted',
      'LLMFuseOpen',
      'LLMBudgetWouldBlock',
      'LLMBudgetValueOverLimit',
      'LLMBudgetProjectedOverrun',
      'LLMUnpricedUsage',
      'LLMSpendSpike',
      'LLMMetricsOverflow',
      'LLMInternalErrors',
    ]);
  });

  it.each(rules.map((r) => [r.alert, r] as const))(
    '%s has severity, for, summary, description and a runbook_url to its section',
    (name, rule) => {
      expect(Object.keys(RECEIVER_OF)).toContain(rule.labels?.severity);
      expect(rule.for).toMatch(/^[1-9]\d*[smh]$/);
      const a = rule.annotations ?? {};
      expect(Object.keys(a).sort()).toEqual(['description', 'runbook_url', 'summary']);
      // One sentence, no template: the same for every instance of the alert.
      expect(a.summary).toMatch(/^[A-Z][^\n{}]*\.$/);
      expect(a.summary!.slice(0, -1)).not.toMatch(/\.\s/);
      expect(a.description).toMatch(/\{\{ \$(labels\.\w+|value)\b/);
      expect(a.runbook_url).toBe(`${RUNBOOK_URL}${name.toLowerCase()}`);
      expect(anchors(runbook)).toContain(name.toLowerCase());
      // Generic over budgets and departments.
      expect(rule.expr).not.toMatch(/(budget|department)\s*=~?\s*"/);
    },
  );

  it('has a runbook section for every alert and no section for an alert that does not exist', () => {
    const sections = [...runbook.matchAll(/^## (LLM\w+)$/gm)].map((m) => m[1]).sort();
    expect(sections).toEqual(rules.map((r) => r.alert).sort());
  });
});

describe('Alertmanager example configuration', () => {
  const config = parse(readFileSync(ALERTMANAGER, 'utf8'));

  it('passes amtool check-config', () => {
    expect(tool('amtool', ['check-config', ALERTMANAGER])).toContain('SUCCESS');
  });

  it.each(rules.map((r) => [r.alert, r.labels!.severity] as const))(
    'routes %s (%s) to the receiver of its severity',
    (alertname, severity) => {
      const receiver = RECEIVER_OF[severity!]!;
      const out = tool('amtool', [
        'config',
        'routes',
        'test',
        `--config.file=${ALERTMANAGER}`,
        `--verify.receivers=${receiver}`,
        `severity=${severity}`,
        `alertname=${alertname}`,
        'budget=marketing-hourly',
        'department=marketing',
      ]);
      expect(out.trim()).toBe(receiver);
    },
  );

  it('leaves alerts that are not tokenfuse’s to the default receiver, not the pager', () => {
    const out = tool('amtool', [
      'config',
      'routes',
      'test',
      `--config.file=${ALERTMANAGER}`,
      'severity=critical',
      'alertname=KubePodCrashLooping',
    ]);
    expect(out.trim()).toBe('llm-alerts-slack');
  });

  it('inhibits by budget, naming only alerts that exist', () => {
    const names = new Set(rules.map((r) => r.alert));
    const inhibit = config.inhibit_rules as Array<{
      source_matchers: string[];
      target_matchers: string[];
      equal: string[];
    }>;
    expect(inhibit.length).toBeGreaterThan(0);
    for (const rule of inhibit) {
      expect(rule.equal).toEqual(['budget']);
      for (const matcher of [...rule.source_matchers, ...rule.target_matchers]) {
        const m = /^alertname(=~?)"(.+)"$/.exec(matcher);
        expect(m, matcher).not.toBeNull();
        for (const name of m![2]!.split('|')) expect(names, matcher).toContain(name);
      }
    }
    const targets = (source: string) =>
      inhibit
        .filter((r) => r.source_matchers.some((m) => m.includes(source)))
        .flatMap((r) => r.target_matchers.flatMap((m) => /"(.+)"/.exec(m)![1]!.split('|')));
    expect(targets('LLMBudgetExhausted')).toEqual(
      expect.arrayContaining(['LLMBudget50Percent', 'LLMBudget75Percent', 'LLMBudget90Percent']),
    );
    expect(targets('LLMFuseOpen')).toContain('LLMBudgetExhausted');
  });

  it('has notification templates that render (check-config does not parse them)', () => {
    const rule = rules.find((r) => r.alert === 'LLMBudget90Percent')!;
    const labels = {
      alertname: rule.alert,
      severity: 'warning',
      budget: 'support-daily',
      window: 'day',
      unit: 'usd',
      department: 'support',
    };
    const data = join(tmp, 'template-data.json');
    writeFileSync(
      data,
      JSON.stringify({
        receiver: 'llm-alerts-slack',
        status: 'firing',
        alerts: [
          {
            status: 'firing',
            labels,
            annotations: { ...rule.annotations, description: 'Budget support-daily at 95%.' },
            startsAt: '2026-01-01T00:00:00Z',
          },
        ],
        groupLabels: { alertname: rule.alert, budget: 'support-daily', department: 'support' },
        commonLabels: labels,
        commonAnnotations: {},
        externalURL: 'http://alertmanager.example.internal:9093',
      }),
    );
    const empty = join(tmp, 'no-templates.tmpl');
    writeFileSync(empty, '');
    const fields = (config.receivers as Array<Record<string, unknown>>).flatMap((receiver) =>
      ['slack_configs', 'webhook_configs', 'pagerduty_configs', 'discord_configs'].flatMap((key) =>
        ((receiver[key] as Array<Record<string, unknown>> | undefined) ?? []).flatMap((c) =>
          Object.entries(c)
            .filter(([, v]) => typeof v === 'string' && v.includes('{{'))
            .map(([field, text]) => ({ where: `${receiver.name}.${key}.${field}`, text })),
        ),
      ),
    );
    expect(fields.length).toBeGreaterThan(0);
    for (const { where, text } of fields) {
      const out = tool('amtool', [
        'template',
        'render',
        `--template.glob=${empty}`,
        `--template.data=${data}`,
        `--template.text=${text}`,
      ]);
      expect(out.trim(), where).not.toBe('');
      expect(out, where).not.toContain('<no value>');
    }
  });
});

describe('runbook', () => {
  it('has only PromQL that parses', () => {
    const queries = [...runbook.matchAll(/^```promql\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
    expect(queries.length).toBeGreaterThan(10);
    const file = join(tmp, 'runbook-queries.yml');
    writeFileSync(
      file,
      stringify({
        groups: [
          {
            name: 'runbook',
            rules: queries.map((expr, i) => ({ record: `runbook:query_${i}`, expr })),
          },
        ],
      }),
    );
    tool('promtool', ['check', 'rules', file]);
  });

  it('links only to anchors it has', () => {
    const own = anchors(runbook);
    for (const [, anchor] of runbook.matchAll(/\]\(#([^)]+)\)/g)) expect(own).toContain(anchor);
  });
});
