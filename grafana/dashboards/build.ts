// Builds tokenfuse's Grafana dashboards from code.
//
//   node grafana/dashboards/build.ts           writes the three dashboard JSON files here
//   node grafana/dashboards/build.ts --check   exits 1, listing the files that differ (CI)
//
// The dashboards are in src/, one module per dashboard on shared panel, layout and variable
// builders; this entry renders, checks and writes them.
//
// Plain objects typed with @grafana/schema (src/types.ts), no SDK. Output is deterministic: keys
// sorted at every level (as Grafana's own "Export" does), 2-space JSON, trailing newline.
// Importing this module writes nothing; tests use `allQueries()` and `renderDashboards()`.
//
// Conventions every dashboard follows (test/dashboards.test.ts checks them):
// - a `$datasource` variable; every panel and target uses `{type: prometheus, uid: ${datasource}}`;
// - importable by hand as well as provisioned: `__inputs` asks for a Prometheus data source whose
//   uid becomes `$datasource`'s initial value, `__requires` lists Grafana, the Prometheus plugin
//   and each panel type used (src/import.ts says why the two paths need this pattern);
// - stable uids, and links to each other: a "tokenfuse" tag link on every board, data links from
//   the overview's department panels to the drill-down by uid;
// - `department`, `project`, `environment`, `model` variables from tokenfuse_requests_total; the
//   gen_ai_* histograms carry the model as `gen_ai_request_model`;
// - counters are summed across instances: each replica exports its own series and they add up;
// - budget gauges (limit, spent, utilization, fuse state) take `max` across instances. Today each
//   process keeps its own ledger and enforces the whole limit on its own calls, so the highest
//   replica is the one that trips first; with a shared ledger every replica reports the same
//   number. `max` is right in both cases, where `sum` would multiply a shared value by the
//   replica count;
// - `$__rate_interval` in every rate()/increase() of a time series; `$__range` only in instant
//   queries that total the panel's whole time range (stats, pie, bar gauges).
import { fileURLToPath } from 'node:url';
import { runBuild, staleOf, writeAll } from '../generated-files.ts';
import { budgetsAndFuses } from './src/budgets-fuses.ts';
import { costOverview } from './src/cost-overview.ts';
import { departmentDrillDown } from './src/department.ts';
import type { Dashboard } from './src/types.ts';

export { GRAFANA_VERSION } from './src/import.ts';
export type {
  Dashboard,
  DashboardInput,
  DataSourceRef,
  GridPos,
  Json,
  JsonObject,
  Panel,
  PanelType,
  Requirement,
  RowPanel,
  Target,
  Variable,
} from './src/types.ts';
export { DATASOURCE, DS_INPUT } from './src/types.ts';

/** The directory the dashboard JSON files live in (this file's). */
export const DASHBOARD_DIR = fileURLToPath(new URL('.', import.meta.url));

/** The dashboards, by file name. */
export function buildDashboards(): { file: string; dashboard: Dashboard }[] {
  return [
    { file: 'tokenfuse-cost-overview.json', dashboard: costOverview() },
    { file: 'tokenfuse-budgets-fuses.json', dashboard: budgetsAndFuses() },
    { file: 'tokenfuse-department.json', dashboard: departmentDrillDown() },
  ];
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}

/** Deterministic JSON: sorted keys, 2-space indent, trailing newline. */
export function render(dashboard: Dashboard): string {
  return `${JSON.stringify(sortKeys(dashboard), null, 2)}\n`;
}

/** Every dashboard's file name and the exact text build.ts writes for it. */
export function renderDashboards(): { file: string; text: string }[] {
  return buildDashboards().map(({ file, dashboard }) => ({ file, text: render(dashboard) }));
}

/** Every panel query: dashboard uid, panel title, refId, PromQL. */
export function allQueries(): { dashboard: string; panel: string; refId: string; expr: string }[] {
  return buildDashboards().flatMap(({ dashboard }) =>
    dashboard.panels.flatMap((p) =>
      p.type === 'row'
        ? []
        : p.targets.map((t) => ({
            dashboard: dashboard.uid,
            panel: p.title,
            refId: t.refId,
            expr: t.expr,
          })),
    ),
  );
}

/** File names in `dir` whose content differs from what build.ts generates (or are missing). */
export function staleFiles(dir = DASHBOARD_DIR): string[] {
  return staleOf(renderDashboards(), dir);
}

export function writeDashboards(dir = DASHBOARD_DIR): string[] {
  return writeAll(renderDashboards(), dir);
}

if (import.meta.main) {
  runBuild({
    what: 'Grafana dashboards',
    script: 'dashboards',
    path: 'grafana/dashboards',
    dir: DASHBOARD_DIR,
    render: renderDashboards,
  });
}
