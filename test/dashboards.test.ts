// The Grafana dashboards in grafana/dashboards/: generated from build.ts, in step with the
// committed JSON, and every query on the metrics contract with the conventions docs/ and
// build.ts describe. PromQL syntax is checked with promtool (Debian's `prometheus` package, as
// for the end-to-end alerting suite).
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import {
  allQueries,
  buildDashboards,
  DASHBOARD_DIR,
  type Panel,
  type RowPanel,
  renderDashboards,
  staleFiles,
} from '../grafana/dashboards/build.js';
import { CONTRACT_METRICS } from '../src/tokenfuse.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Grafana's `${datasource}` (concatenated: it is not a template literal). */
const DS = { type: 'prometheus', uid: '$' + '{datasource}' };

const dashboards = buildDashboards();
const queries = allQueries();
const dataPanels = dashboards.flatMap(({ dashboard }) =>
  dashboard.panels
    .filter((p): p is Panel => p.type !== 'row')
    .map((panel) => ({ uid: dashboard.uid, panel })),
);
/** "uid/panel title" of the panels whose targets are instant queries. */
const instantPanels = new Set(
  dataPanels
    .filter(({ panel }) => panel.targets[0]!.instant)
    .map((p) => `${p.uid}/${p.panel.title}`),
);

/** Prometheus names on /metrics: histograms appear as _bucket, _sum and _count. */
const CONTRACT_NAMES = new Set(
  CONTRACT_METRICS.flatMap((m) =>
    m.type === 'histogram' ? ['_bucket', '_sum', '_count'].map((s) => m.name + s) : [m.name],
  ),
);
const PROMQL_KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset']);

/** Metric names an expression selects: identifiers that are not functions, keywords, labels. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // range selectors
    .replace(/"[^"]*"/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  return [...bare.matchAll(/\b([a-zA-Z_:][\w:]*)\b(?!\s*\()/g)]
    .map((m) => m[1]!)
    .filter((name) => !PROMQL_KEYWORDS.has(name));
}

/** Every `metric{matchers}` in an expression (matchers '' when there are none). */
function selectors(expr: string): { metric: string; matchers: string }[] {
  const noGrouping = expr.replace(/\b(by|without)\s*\([^)]*\)/g, ' ');
  // A name followed by `=`, `!=`, `=~` or `!~` is a label inside a matcher, not a metric.
  const selector = /\b((?:tokenfuse|gen_ai)_\w+)\b(?!\s*[=!])(\{[^}]*\})?/g;
  return [...noGrouping.matchAll(selector)].map((m) => ({
    metric: m[1]!,
    matchers: m[2] ?? '',
  }));
}

describe('generated files', () => {
  it('the committed JSON is exactly what build.ts generates', () => {
    for (const { file, text } of renderDashboards()) {
      expect(readFileSync(join(DASHBOARD_DIR, file), 'utf8'), file).toBe(text);
    }
    expect(staleFiles()).toEqual([]);
  });

  it('`build.ts --check` passes on the committed files and names a file that differs', () => {
    const check = (args: string[]) =>
      spawnSync(process.execPath, ['grafana/dashboards/build.ts', '--check', ...args], {
        cwd: ROOT,
        encoding: 'utf8',
      });
    const ok = check([]);
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);

    const dir = mkdtempSync(join(tmpdir(), 'tokenfuse-dashboards-'));
    try {
      for (const { file } of renderDashboards())
        copyFileSync(join(DASHBOARD_DIR, file), join(dir, file));
      expect(staleFiles(dir)).toEqual([]);
      writeFileSync(join(dir, 'tokenfuse-department.json'), '{}\n');
      rmSync(join(dir, 'tokenfuse-budgets-fuses.json'));
      expect(staleFiles(dir)).toEqual([
        'tokenfuse-budgets-fuses.json',
        'tokenfuse-department.json',
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is deterministic: sorted keys, 2-space indent, trailing newline', () => {
    for (const { text } of renderDashboards()) {
      expect(text.endsWith('}\n')).toBe(true);
      expect(text).toBe(`${JSON.stringify(JSON.parse(text), null, 2)}\n`);
      const walk = (v: unknown): void => {
        if (Array.isArray(v)) v.forEach(walk);
        else if (v && typeof v === 'object') {
          const keys = Object.keys(v);
          expect(keys).toEqual([...keys].sort());
          Object.values(v).forEach(walk);
        }
      };
      walk(JSON.parse(text));
    }
    expect(renderDashboards()).toEqual(renderDashboards());
  });
});

describe('dashboards', () => {
  it('have stable uids, titles and schemaVersion 39', () => {
    expect(
      dashboards.map(({ file, dashboard }) => [file, dashboard.uid, dashboard.schemaVersion]),
    ).toEqual([
      ['tokenfuse-cost-overview.json', 'tokenfuse-cost-overview', 39],
      ['tokenfuse-budgets-fuses.json', 'tokenfuse-budgets-fuses', 39],
      ['tokenfuse-department.json', 'tokenfuse-department', 39],
    ]);
    for (const { dashboard } of dashboards) expect(dashboard.tags).toContain('tokenfuse');
  });

  it('select the data source with $datasource everywhere: no hard-coded data source uid', () => {
    for (const { dashboard } of dashboards) {
      const ds = dashboard.templating.list.find((v) => v.name === 'datasource')!;
      expect(ds).toMatchObject({ type: 'datasource', query: 'prometheus' });
      const refs: unknown[] = [];
      const walk = (v: unknown): void => {
        if (Array.isArray(v)) v.forEach(walk);
        else if (v && typeof v === 'object') {
          for (const [key, value] of Object.entries(v)) {
            if (key === 'datasource') refs.push(value);
            walk(value);
          }
        }
      };
      walk(JSON.parse(readFileSync(join(DASHBOARD_DIR, `${dashboard.uid}.json`), 'utf8')));
      expect(refs.length).toBeGreaterThan(10);
      for (const ref of refs) expect(ref, dashboard.uid).toEqual(DS);
    }
  });

  it('have department, project, environment and model variables from tokenfuse_requests_total', () => {
    for (const { dashboard } of dashboards) {
      const vars = new Map(dashboard.templating.list.map((v) => [v.name, v]));
      for (const name of ['department', 'project', 'environment', 'model']) {
        const v = vars.get(name)!;
        expect(v, `${dashboard.uid} $${name}`).toMatchObject({ type: 'query', datasource: DS });
        expect(v.query).toMatch(
          new RegExp(`^label_values\\(tokenfuse_requests_total(\\{[^}]*\\})?, ${name}\\)$`),
        );
        const single = dashboard.uid === 'tokenfuse-department' && name === 'department';
        if (single) expect(v).toMatchObject({ multi: false, includeAll: false });
        else expect(v).toMatchObject({ multi: true, includeAll: true, allValue: '.*' });
      }
    }
    const budgets = dashboards.find((d) => d.dashboard.uid === 'tokenfuse-budgets-fuses')!;
    expect(budgets.dashboard.templating.list.find((v) => v.name === 'budget')).toMatchObject({
      // Per-value budgets export tokenfuse_budget_values, not tokenfuse_budget_limit.
      query: 'label_values({__name__=~"tokenfuse_budget_limit|tokenfuse_budget_values"}, budget)',
      multi: true,
      includeAll: true,
      allValue: '.*',
    });
  });

  it('give every panel a unit, a description, the $datasource and queries', () => {
    expect(dataPanels.length).toBeGreaterThan(30);
    for (const { uid, panel } of dataPanels) {
      const where = `${uid} / ${panel.title}`;
      expect(panel.fieldConfig.defaults.unit, where).toMatch(/^\w+$/);
      expect(panel.description.length, where).toBeGreaterThan(20);
      expect(panel.datasource, where).toEqual(DS);
      expect(panel.targets.length, where).toBeGreaterThan(0);
      for (const t of panel.targets) expect(t.datasource, where).toEqual(DS);
    }
  });

  it('lay panels out on the 24-column grid without overlaps', () => {
    for (const { dashboard } of dashboards) {
      const boxes = dashboard.panels.map((p: Panel | RowPanel) => p.gridPos);
      for (const b of boxes) expect(b.x + b.w).toBeLessThanOrEqual(24);
      for (let i = 0; i < boxes.length; i++) {
        for (let j = i + 1; j < boxes.length; j++) {
          const a = boxes[i]!;
          const b = boxes[j]!;
          const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
          expect(overlap, `${dashboard.uid}: panels ${i + 1} and ${j + 1}`).toBe(false);
        }
      }
      expect(dashboard.panels.map((p) => p.id)).toEqual(dashboard.panels.map((_, i) => i + 1));
    }
  });
});

describe('queries', () => {
  it('are listed by allQueries() with dashboard, panel and refId', () => {
    expect(queries.length).toBe(dataPanels.reduce((n, { panel }) => n + panel.targets.length, 0));
    const keys = queries.map((q) => `${q.dashboard}/${q.panel}/${q.refId}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('use only metrics of the contract, and every one of them', () => {
    const used = new Set<string>();
    for (const q of queries) {
      const names = metricNames(q.expr);
      expect(names.length, q.expr).toBeGreaterThan(0);
      for (const name of names) {
        expect(CONTRACT_NAMES.has(name), `${q.dashboard} / ${q.panel}: ${name}`).toBe(true);
        used.add(name.replace(/_(bucket|sum|count)$/, ''));
      }
    }
    expect([...used].sort()).toEqual(CONTRACT_METRICS.map((m) => m.name).sort());
  });

  it('use $__rate_interval in every rate()/increase(), $__range only in instant totals', () => {
    for (const q of queries) {
      const where = `${q.dashboard} / ${q.panel} ${q.refId}: ${q.expr}`;
      const calls = q.expr.match(/\b(rate|increase|irate|delta)\(/g) ?? [];
      const ranges = [...q.expr.matchAll(/\b(rate|increase)\(\w+(?:\{[^}]*\})?\[([^\]]+)\]\)/g)];
      expect(ranges.length, where).toBe(calls.length);
      const instant = instantPanels.has(`${q.dashboard}/${q.panel}`);
      for (const [, , range] of ranges) {
        expect(instant ? ['$__rate_interval', '$__range'] : ['$__rate_interval'], where).toContain(
          range,
        );
      }
      // The only other range selector: predict_linear's fit window.
      const others = [...q.expr.matchAll(/(\w+)\((?:[^()[]|\([^()]*\))*\[([^\]]+)\]/g)].filter(
        ([, fn]) => fn !== 'rate' && fn !== 'increase',
      );
      for (const [, fn] of others) expect(fn, where).toBe('predict_linear');
    }
  });

  it('filter by the tag variables; histograms by gen_ai_request_model; budgets by $budget', () => {
    for (const q of queries) {
      const drill = q.dashboard === 'tokenfuse-department';
      const dept = drill ? 'department="$department"' : 'department=~"$department"';
      for (const { metric, matchers } of selectors(q.expr)) {
        const where = `${q.dashboard} / ${q.panel}: ${metric}${matchers}`;
        if (/^tokenfuse_(tokens|cost_usd|requests|unpriced)_total$/.test(metric)) {
          for (const m of [
            dept,
            'project=~"$project"',
            'environment=~"$environment"',
            'model=~"$model"',
          ])
            expect(matchers, where).toContain(m);
        } else if (metric.startsWith('gen_ai_')) {
          for (const m of [
            dept,
            'project=~"$project"',
            'environment=~"$environment"',
            'gen_ai_request_model=~"$model"',
          ])
            expect(matchers, where).toContain(m);
          expect(matchers, where).not.toMatch(/[{ ]model=/);
        } else if (
          /^tokenfuse_(ledger_errors|internal_errors|usage_invalid|series_dropped|series_overflow|estimate_bounded|webhook_dropped|price_catalog_errors|cost_provider_usd|cost_provider_catalog_usd|pricing_issues|manual_actions)_total$|^tokenfuse_(price_catalog_age_seconds|instrumentation_info|instrumentation_replaced)$/.test(
            metric,
          )
        ) {
          // The ledger's errors, internal failures, the input-health, webhook, pricing-fallback and price-catalog
          // counters and the SDK versions loaded are per process, and the provider-cost pair per provider, not per budget or
          // department: no filter applies.
          expect(matchers, where).toBe('');
        } else if (q.dashboard === 'tokenfuse-budgets-fuses') {
          expect(matchers, where).toContain('budget=~"$budget"');
        } else {
          expect(matchers, where).toContain('department="$department"');
        }
      }
    }
  });

  it('are valid PromQL (promtool check rules)', () => {
    const promtool = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' });
    if (promtool.status !== 0)
      throw new Error('promtool is not installed; install it with: apt-get install prometheus');
    const concrete = (expr: string) =>
      expr.replaceAll('$__rate_interval', '1m').replaceAll('$__range', '1h').replace(/\$\w+/g, 'x');
    const dir = mkdtempSync(join(tmpdir(), 'tokenfuse-dashboards-'));
    try {
      const file = join(dir, 'queries.yml');
      const rules = queries.map((q, i) => ({
        record: `dashboard:query_${i}`,
        expr: concrete(q.expr),
      }));
      writeFileSync(file, stringify({ groups: [{ name: 'dashboards', rules }] }));
      const res = spawnSync(promtool.stdout.trim(), ['check', 'rules', file], { encoding: 'utf8' });
      expect(res.stdout + res.stderr).toContain(`SUCCESS: ${queries.length} rules found`);
      expect(res.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
