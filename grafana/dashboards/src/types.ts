// Grafana's dashboard JSON model, from `@grafana/schema` (a dev dependency: only this build uses
// it), narrowed to what these dashboards always set, so that the builders cannot leave out a
// field and the tests read fields without optional chaining.
//
// Three places where the published types and Grafana's own export disagree, kept as Grafana
// exports them (the JSON must not change): a panel's `targets` are `Record<string, unknown>[]`
// there, which an interface is not assignable to; a variable's `current` is `{}` until Grafana
// picks a value, where the schema requires `text` and `value`; and query variables carry
// `definition` (the query as the editor shows it), which the schema lacks.
import type * as grafana from '@grafana/schema';

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
/** Panel options and `custom` field config: per panel plugin, `Record<string, unknown>` in the schema. */
export type JsonObject = { [key: string]: Json };

export interface DataSourceRef extends grafana.DataSourceRef {
  type: 'prometheus';
  uid: string;
}

/**
 * Every panel and target queries the data source picked in `$datasource`. (Grafana's
 * `${datasource}`, concatenated so that no string looks like a mistyped template literal.)
 */
export const DATASOURCE: DataSourceRef = { type: 'prometheus', uid: '$' + '{datasource}' };

/** A Prometheus query: Grafana's DataQuery with the fields of the Prometheus data source. */
export interface Target extends grafana.DataQuery {
  datasource: DataSourceRef;
  editorMode: 'code';
  expr: string;
  instant: boolean;
  legendFormat: string;
  range: boolean;
  refId: string;
}

export type GridPos = Required<Pick<grafana.GridPos, 'h' | 'w' | 'x' | 'y'>>;

export type PanelType = 'stat' | 'timeseries' | 'piechart' | 'bargauge' | 'state-timeline';

/** Field config every panel has: a unit, and no `custom` but the panel type's own options. */
export interface FieldConfigSource extends grafana.FieldConfigSource<JsonObject> {
  defaults: grafana.FieldConfig<JsonObject> & { unit: string };
}

export interface Panel extends Omit<grafana.Panel, 'targets'> {
  type: PanelType;
  id: number;
  title: string;
  description: string;
  datasource: DataSourceRef;
  gridPos: GridPos;
  fieldConfig: FieldConfigSource;
  options: JsonObject;
  targets: Target[];
}

export interface RowPanel extends grafana.RowPanel {
  title: string;
  collapsed: false;
  gridPos: GridPos;
  panels: [];
}

/** The `DS_PROMETHEUS` placeholder Grafana's "Import dashboard" replaces with the picked uid. */
export const DS_INPUT = 'DS_PROMETHEUS';

export interface Variable extends Omit<grafana.VariableModel, 'current'> {
  type: 'datasource' | 'query';
  /**
   * `{}` for query variables: Grafana picks the current value when the dashboard loads. The
   * data source variable's is the import placeholder (see ./import.ts).
   */
  current: Record<string, never> | { selected: false; text: string; value: string };
  definition?: string;
}

/**
 * An input "Import dashboard" prompts for (Grafana's `__inputs`, which @grafana/schema does not
 * model: the import form and the export for sharing externally are its only users).
 */
export interface DashboardInput {
  name: typeof DS_INPUT;
  label: string;
  description: string;
  type: 'datasource';
  pluginId: 'prometheus';
  pluginName: 'Prometheus';
}

/** What a dashboard needs installed (Grafana's `__requires`, as its export writes them). */
export interface Requirement {
  type: 'grafana' | 'datasource' | 'panel';
  id: string;
  name: string;
  version: string;
}

export interface Dashboard extends Omit<grafana.Dashboard, 'panels' | 'templating'> {
  __inputs: DashboardInput[];
  __requires: Requirement[];
  uid: string;
  title: string;
  description: string;
  tags: string[];
  panels: (Panel | RowPanel)[];
  templating: { list: Variable[] };
}
