// The committed dashboard JSON, read as Grafana reads it on each of its three ways in: "Import
// dashboard" by hand (which evaluates `__inputs` the way Grafana's DashTemplateEvaluator does),
// file provisioning and kube-prometheus-stack's sidecar (which load the JSON as it is). Every
// fact is computed from the files users get, not from the builders, so a panel type, data source
// or link added without its counterpart fails here.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DASHBOARD_DIR, GRAFANA_VERSION, renderDashboards } from '../grafana/dashboards/build.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Grafana's `${datasource}` (concatenated: it is not a template literal). */
const DS = { type: 'prometheus', uid: '$' + '{datasource}' };
const PLACEHOLDER = '$' + '{DS_PROMETHEUS}';

type JsonObject = Record<string, any>;

const FILES = [
  'tokenfuse-cost-overview.json',
  'tokenfuse-budgets-fuses.json',
  'tokenfuse-department.json',
];
const boards: { file: string; json: JsonObject }[] = FILES.map((file) => ({
  file,
  json: JSON.parse(readFileSync(join(DASHBOARD_DIR, file), 'utf8')),
}));

/** Every panel, rows' nested panels included. */
function panelsOf(json: JsonObject): JsonObject[] {
  return (json.panels as JsonObject[]).flatMap((p) => [p, ...((p.panels as JsonObject[]) ?? [])]);
}
const dataPanelsOf = (json: JsonObject) => panelsOf(json).filter((p) => p.type !== 'row');

/** Every string in a JSON value, with its path. */
function strings(value: unknown, path = ''): { path: string; text: string }[] {
  if (typeof value === 'string') return [{ path, text: value }];
  if (Array.isArray(value)) return value.flatMap((v, i) => strings(v, `${path}[${i}]`));
  if (value && typeof value === 'object')
    return Object.entries(value).flatMap(([k, v]) => strings(v, `${path}.${k}`));
  return [];
}

/** Every value under a `datasource` key, with its path. */
function datasourceRefs(value: unknown, path = ''): { path: string; ref: unknown }[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => datasourceRefs(v, `${path}[${i}]`));
  if (value && typeof value === 'object')
    return Object.entries(value).flatMap(([k, v]) => [
      ...(k === 'datasource' ? [{ path: `${path}.${k}`, ref: v }] : []),
      ...datasourceRefs(v, `${path}.${k}`),
    ]);
  return [];
}

/**
 * What Grafana's "Import dashboard" does with the inputs the form collected
 * (pkg/services/dashboardimport/utils/dash_template_evaluator.go): every declared input must be
 * given, each `${NAME}` in any string becomes its value, and `__inputs` is dropped.
 */
function importByHand(json: JsonObject, given: Record<string, string>): JsonObject {
  const values = new Map<string, string>();
  for (const input of json.__inputs as JsonObject[]) {
    const value = given[input.name];
    if (value === undefined)
      throw new Error(`Dashboard input variable: ${input.name} missing from import command`);
    values.set(`\${${input.name}}`, value);
  }
  const evaluate = (v: unknown): unknown => {
    if (typeof v === 'string') return v.replace(/\$\{.+?\}/g, (m) => values.get(m) ?? m);
    if (Array.isArray(v)) return v.map(evaluate);
    if (v && typeof v === 'object')
      return Object.fromEntries(
        Object.entries(v)
          .filter(([k]) => k !== '__inputs')
          .map(([k, x]) => [k, evaluate(x)]),
      );
    return v;
  };
  return evaluate(json) as JsonObject;
}

describe('hand import (__inputs)', () => {
  it('asks for exactly one input: a Prometheus data source named DS_PROMETHEUS', () => {
    for (const { file, json } of boards) {
      expect(json.__inputs, file).toEqual([
        {
          name: 'DS_PROMETHEUS',
          label: 'Prometheus',
          description: "The Prometheus data source that scrapes tokenfuse's /metrics.",
          type: 'datasource',
          pluginId: 'prometheus',
          pluginName: 'Prometheus',
        },
      ]);
    }
  });

  it('every placeholder is $datasource, a data-link macro or the declared input', () => {
    for (const { file, json } of boards) {
      const declared = new Set((json.__inputs as JsonObject[]).map((i) => i.name));
      const used = new Set<string>();
      for (const { path, text } of strings(json)) {
        for (const [, name] of text.matchAll(/\$\{(\w+)/g)) {
          if (name === 'datasource' || name!.startsWith('__')) continue;
          expect(declared, `${file}${path}: \${${name}}`).toContain(name);
          used.add(name!);
          // The placeholder is only the data source variable's initial value (see the next tests).
          expect(path, file).toMatch(/^\.templating\.list\[0\]\.current\.(text|value)$/);
        }
      }
      expect([...used], `${file}: an input nothing uses`).toEqual([...declared]);
    }
  });

  it('imported with a picked data source, $datasource starts on it and every query follows', () => {
    for (const { file, json } of boards) {
      expect(() => importByHand(json, {}), file).toThrow('DS_PROMETHEUS missing');
      const imported = importByHand(json, { DS_PROMETHEUS: 'prom-uid-7' });
      expect(imported.__inputs, file).toBeUndefined();
      const ds = imported.templating.list[0];
      expect(ds, file).toMatchObject({
        name: 'datasource',
        type: 'datasource',
        query: 'prometheus',
        current: { text: 'prom-uid-7', value: 'prom-uid-7' },
      });
      expect(JSON.stringify(imported), file).not.toContain('DS_PROMETHEUS');
      const refs = datasourceRefs(imported);
      expect(refs.length, file).toBeGreaterThan(10);
      for (const { path, ref } of refs) expect(ref, `${file}${path}`).toEqual(DS);
    }
  });

  it('provisioned as it is, no data source reference names the unresolved placeholder', () => {
    // Provisioning and the sidecar do not evaluate __inputs (grafana/grafana#10786): a panel on
    // ${DS_PROMETHEUS} would find no data source there. Every reference is $datasource instead;
    // the placeholder in its initial value matches no data source, so Grafana selects one.
    for (const { file, json } of boards) {
      for (const { path, ref } of datasourceRefs(json)) expect(ref, `${file}${path}`).toEqual(DS);
      const variables = json.templating.list as JsonObject[];
      expect(
        variables.filter((v) => v.type === 'datasource'),
        file,
      ).toEqual([
        expect.objectContaining({
          name: 'datasource',
          query: 'prometheus',
          current: { selected: false, text: PLACEHOLDER, value: PLACEHOLDER },
        }),
      ]);
    }
  });

  it('the sidecar ConfigMaps carry the same JSON, inputs and requires included', () => {
    const docs = readFileSync(join(ROOT, 'grafana/kubernetes/grafana-dashboards.yaml'), 'utf8')
      .split(/^---$/m)
      .map((doc) => parse(doc) as { data: Record<string, string> });
    const shipped = Object.assign({}, ...docs.map((d) => d.data));
    for (const { file, text } of renderDashboards()) expect(shipped[file], file).toBe(text);
  });
});

describe('__requires', () => {
  it('lists Grafana, the Prometheus plugin and exactly the panel types used, sorted by id', () => {
    const names: Record<string, string> = {
      bargauge: 'Bar gauge',
      piechart: 'Pie chart',
      stat: 'Stat',
      'state-timeline': 'State timeline',
      timeseries: 'Time series',
    };
    for (const { file, json } of boards) {
      const panelTypes = [...new Set(dataPanelsOf(json).map((p) => p.type as string))];
      const pluginTypes = [...new Set(datasourceRefs(json).map(({ ref }) => (ref as DsRef).type))];
      expect(pluginTypes, file).toEqual(['prometheus']);
      const expected = [
        { type: 'grafana', id: 'grafana', name: 'Grafana', version: GRAFANA_VERSION },
        { type: 'datasource', id: 'prometheus', name: 'Prometheus', version: '1.0.0' },
        ...panelTypes.map((id) => ({ type: 'panel', id, name: names[id], version: '' })),
      ].sort((a, b) => a.id.localeCompare(b.id));
      for (const r of expected) expect(r.name, `${file}: no name for panel ${r.id}`).toBeTruthy();
      expect(json.__requires, file).toEqual(expected);
    }
  });

  it("names the Grafana version the repository's compose stack runs", () => {
    const compose = parse(readFileSync(join(ROOT, 'grafana/docker-compose.yml'), 'utf8'));
    expect(compose.services.grafana.image).toBe(`grafana/grafana:${GRAFANA_VERSION}`);
  });
});

type DsRef = { type: string; uid: string };

describe('uids and links', () => {
  it('uids are stable, unique and the file names', () => {
    expect(boards.map(({ json }) => json.uid)).toEqual([
      'tokenfuse-cost-overview',
      'tokenfuse-budgets-fuses',
      'tokenfuse-department',
    ]);
    for (const { file, json } of boards) expect(`${json.uid}.json`).toBe(file);
  });

  it("each board's dashboard links resolve to the two other boards", () => {
    // A `dashboards` link lists the dashboards carrying all its tags, the current one left out.
    for (const { file, json } of boards) {
      const reached = new Set<string>();
      for (const link of json.links as JsonObject[]) {
        expect(link.type, file).toBe('dashboards');
        expect(link, file).toMatchObject({ includeVars: true, keepTime: true });
        for (const other of boards) {
          const tagged = (link.tags as string[]).every((t) => other.json.tags.includes(t));
          if (tagged && other.json.uid !== json.uid) reached.add(other.json.uid);
        }
      }
      expect([...reached].sort(), file).toEqual(
        boards
          .map((b) => b.json.uid)
          .filter((uid) => uid !== json.uid)
          .sort(),
      );
    }
  });

  it('data links open a board by uid, with variables that board has', () => {
    const byUid = new Map(boards.map(({ json }) => [json.uid as string, json]));
    let count = 0;
    for (const { file, json } of boards) {
      for (const panel of dataPanelsOf(json)) {
        for (const link of (panel.fieldConfig.defaults.links as JsonObject[]) ?? []) {
          const m = /^\/d\/([\w-]+)\/[\w-]+\?(.*)$/.exec(link.url);
          expect(m, `${file} / ${panel.title}: ${link.url}`).not.toBeNull();
          const target = byUid.get(m![1]!);
          expect(target, `${file} / ${panel.title}: no board ${m![1]}`).toBeDefined();
          const names = new Set(target!.templating.list.map((v: JsonObject) => v.name));
          for (const [, name] of m![2]!.matchAll(/var-(\w+)=/g)) expect(names).toContain(name);
          count++;
        }
      }
    }
    expect(count).toBeGreaterThan(0);
  });
});

describe('panels, as the files have them', () => {
  it('every panel has a unit and queries through $datasource', () => {
    for (const { file, json } of boards) {
      const panels = dataPanelsOf(json);
      expect(panels.length, file).toBeGreaterThan(5);
      for (const p of panels) {
        const where = `${file} / ${p.title}`;
        expect(p.fieldConfig?.defaults?.unit, where).toMatch(/^\w+$/);
        expect(p.datasource, where).toEqual(DS);
        expect(p.targets.length, where).toBeGreaterThan(0);
        for (const t of p.targets) expect(t.datasource, where).toEqual(DS);
      }
    }
  });

  it('range queries use $__rate_interval; instant totals $__range; no fixed windows', () => {
    for (const { file, json } of boards) {
      for (const p of dataPanelsOf(json)) {
        for (const t of p.targets as JsonObject[]) {
          const where = `${file} / ${p.title} ${t.refId}: ${t.expr}`;
          expect(t.range, where).toBe(!t.instant);
          const windows = [
            ...(t.expr as string).matchAll(/\b(rate|irate|increase|delta)\([^[]*\[([^\]]+)\]/g),
          ].map((m) => m[2]);
          expect(windows.length, where).toBe(
            (t.expr as string).match(/\b(rate|irate|increase|delta)\(/g)?.length ?? 0,
          );
          // Grafana picks the range: the step of a range query, the panel's time range of an
          // instant total. A fixed `[5m]` would be too short at long ranges and hide spikes.
          for (const w of windows)
            expect(t.instant ? ['$__rate_interval', '$__range'] : ['$__rate_interval']).toContain(
              w,
            );
        }
      }
    }
  });
});
