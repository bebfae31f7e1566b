// What lets a dashboard file be imported by hand ("Dashboards → New → Import") as well as
// provisioned from disk or by kube-prometheus-stack's sidecar.
//
// The two paths treat placeholders differently. "Import dashboard" reads `__inputs`, asks for a
// Prometheus data source and replaces every `${DS_PROMETHEUS}` string in the JSON with the
// picked data source's uid (Grafana's DashTemplateEvaluator). Provisioning and the sidecar load
// the JSON as it is: nothing replaces `${DS_PROMETHEUS}` there, so a panel that named it would
// find no data source (grafana/grafana#10786). Hence the pattern of popular community
// dashboards: every panel, target and query variable uses the `$datasource` variable, and the
// only `${DS_PROMETHEUS}` is that variable's initial value. Imported, it becomes the picked
// data source; provisioned, it matches no option and Grafana selects the first Prometheus data
// source it lists, which the "Data source" drop-down changes.
import {
  type DashboardInput,
  DS_INPUT,
  type Panel,
  type PanelType,
  type Requirement,
  type RowPanel,
  type Variable,
} from './types.ts';

/**
 * The Grafana these dashboards are built for: the image grafana/docker-compose.yml runs (a test
 * holds the two equal). Grafana's own export writes the version it runs; the import form shows
 * it and does not refuse other versions.
 */
export const GRAFANA_VERSION = '12.2.1';

/** Each panel plugin's display name, as Grafana's export writes it into `__requires`. */
const PANEL_NAMES: Record<PanelType, string> = {
  bargauge: 'Bar gauge',
  piechart: 'Pie chart',
  stat: 'Stat',
  'state-timeline': 'State timeline',
  timeseries: 'Time series',
};

export function importInputs(): DashboardInput[] {
  return [
    {
      name: DS_INPUT,
      label: 'Prometheus',
      description: "The Prometheus data source that scrapes tokenfuse's /metrics.",
      type: 'datasource',
      pluginId: 'prometheus',
      pluginName: 'Prometheus',
    },
  ];
}

/** The data source variable's initial value: the import placeholder (see the header). */
export function importedDatasource(): Variable['current'] {
  const placeholder = `\${${DS_INPUT}}`;
  return { selected: false, text: placeholder, value: placeholder };
}

/**
 * Grafana, the Prometheus data source plugin and every panel type the dashboard uses, sorted by
 * id as Grafana's export sorts them. Computed from the panels, so a new panel type is listed.
 */
export function requirements(panels: (Panel | RowPanel)[]): Requirement[] {
  const types = new Set(panels.flatMap((p): PanelType[] => (p.type === 'row' ? [] : [p.type])));
  const required: Requirement[] = [
    { type: 'grafana', id: 'grafana', name: 'Grafana', version: GRAFANA_VERSION },
    // Core plugins have no version of their own; Grafana's export writes 1.0.0 for Prometheus.
    { type: 'datasource', id: 'prometheus', name: 'Prometheus', version: '1.0.0' },
    ...[...types].map(
      (id): Requirement => ({ type: 'panel', id, name: PANEL_NAMES[id], version: '' }),
    ),
  ];
  return required.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
