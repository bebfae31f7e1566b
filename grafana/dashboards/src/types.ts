// Grafana's dashboard JSON model, the part these dashboards use. Hand-written: the dashboards
// are plain objects and `@grafana/schema` is not a dependency of this package.

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface DataSourceRef {
  type: 'prometheus';
  uid: string;
}

/**
 * Every panel and target queries the data source picked in `$datasource`. (Grafana's
 * `${datasource}`, concatenated so that no string looks like a mistyped template literal.)
 */
export const DATASOURCE: DataSourceRef = { type: 'prometheus', uid: '$' + '{datasource}' };

export interface Target {
  datasource: DataSourceRef;
  editorMode: 'code';
  expr: string;
  instant: boolean;
  legendFormat: string;
  range: boolean;
  refId: string;
}

export interface GridPos {
  h: number;
  w: number;
  x: number;
  y: number;
}

export type PanelType = 'stat' | 'timeseries' | 'piechart' | 'bargauge' | 'state-timeline';

export interface Panel {
  type: PanelType;
  id: number;
  title: string;
  description: string;
  datasource: DataSourceRef;
  gridPos: GridPos;
  fieldConfig: { defaults: JsonObject & { unit: string }; overrides: JsonObject[] };
  options: JsonObject;
  targets: Target[];
  timeFrom?: string;
  hideTimeOverride?: boolean;
}

export interface RowPanel {
  type: 'row';
  id: number;
  title: string;
  collapsed: false;
  gridPos: GridPos;
  panels: [];
}

export interface Variable extends JsonObject {
  name: string;
  type: 'datasource' | 'query';
}

export interface Dashboard {
  uid: string;
  title: string;
  description: string;
  tags: string[];
  panels: (Panel | RowPanel)[];
  templating: { list: Variable[] };
  [key: string]: Json | (Panel | RowPanel)[] | { list: Variable[] };
}
