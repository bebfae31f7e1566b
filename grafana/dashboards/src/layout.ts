// Placement of panels on Grafana's 24-column grid, and the frame every dashboard shares.
import { importInputs, requirements } from './import.ts';
import type { Item } from './panels.ts';
import type { Dashboard, Panel, RowPanel, Variable } from './types.ts';
import { datasourceVariable } from './variables.ts';

/** Places panels left to right, wrapping at 24 columns; a row starts a new line. Ids from 1. */
export function layout(items: Item[]): (Panel | RowPanel)[] {
  const out: (Panel | RowPanel)[] = [];
  let x = 0;
  let y = 0;
  let lineHeight = 0;
  const newLine = () => {
    y += lineHeight;
    x = 0;
    lineHeight = 0;
  };
  for (const item of items) {
    const id = out.length + 1;
    if (item.type === 'row') {
      if (x > 0) newLine();
      out.push({
        type: 'row',
        id,
        title: item.title,
        collapsed: false,
        gridPos: { h: 1, w: 24, x: 0, y },
        panels: [],
      });
      lineHeight = 1;
      newLine();
      continue;
    }
    const { w, h, ...rest } = item;
    if (x + w > 24) newLine();
    out.push({ ...rest, id, gridPos: { h, w, x, y } });
    x += w;
    lineHeight = Math.max(lineHeight, h);
    if (x >= 24) newLine();
  }
  return out;
}

export function dashboard(spec: {
  uid: string;
  title: string;
  description: string;
  tags: string[];
  variables: Variable[];
  items: Item[];
  time?: string;
}): Dashboard {
  const panels = layout(spec.items);
  return {
    __inputs: importInputs(),
    __requires: requirements(panels),
    uid: spec.uid,
    title: spec.title,
    description: spec.description,
    tags: ['tokenfuse', ...spec.tags],
    // Grafana adds its built-in "Annotations & Alerts" query on load; none hard-coded here.
    annotations: { list: [] },
    editable: true,
    fiscalYearStartMonth: 0,
    graphTooltip: 1,
    links: [
      {
        asDropdown: false,
        icon: 'external link',
        includeVars: true,
        keepTime: true,
        tags: ['tokenfuse'],
        targetBlank: false,
        title: 'tokenfuse',
        tooltip: '',
        type: 'dashboards',
        url: '',
      },
    ],
    liveNow: false,
    panels,
    refresh: '1m',
    schemaVersion: 39,
    templating: { list: [datasourceVariable(), ...spec.variables] },
    time: { from: spec.time ?? 'now-24h', to: 'now' },
    timepicker: {},
    timezone: 'browser',
    version: 1,
    weekStart: '',
  };
}
