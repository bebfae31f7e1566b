// Panel builders: one function per panel type, each turning a short spec into a Grafana panel
// (before layout gives it an id and a grid position), plus the styles dashboards share.
import {
  type FieldColor,
  FieldColorModeId,
  type Threshold,
  ThresholdsMode,
  type ValueMapping,
} from '@grafana/schema';
import { UTILIZATION_BASE_COLOR, UTILIZATION_THRESHOLDS } from '../../thresholds.ts';
import {
  DATASOURCE,
  type FieldConfigSource,
  type JsonObject,
  type Panel,
  type PanelType,
  type Target,
} from './types.ts';

type Overrides = FieldConfigSource['overrides'];

interface TargetSpec {
  expr: string;
  legend?: string;
}

export interface PanelSpec {
  title: string;
  description: string;
  unit: string;
  w: number;
  h: number;
  targets: TargetSpec[];
  /** Instant query (one value at the end of the range) rather than a range query. */
  instant?: boolean;
  decimals?: number;
  min?: number;
  max?: number;
  thresholds?: Threshold[];
  noValue?: string;
  mappings?: ValueMapping[];
  color?: FieldColor;
  overrides?: Overrides;
  links?: { title: string; url: string }[];
  /** Panel-level relative time ("Query options → Relative time"), e.g. `now/M`. */
  timeFrom?: string;
}

/** A panel before layout: everything but `id` and `gridPos`. */
export type Unplaced = Omit<Panel, 'id' | 'gridPos'> & { w: number; h: number };
export type UnplacedRow = { type: 'row'; title: string };
export type Item = Unplaced | UnplacedRow;

const REF_IDS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

function targets(spec: PanelSpec): Target[] {
  return spec.targets.map((t, i) => ({
    datasource: DATASOURCE,
    editorMode: 'code',
    expr: t.expr,
    instant: spec.instant === true,
    legendFormat: t.legend ?? '__auto',
    range: spec.instant !== true,
    refId: REF_IDS[i]!,
  }));
}

const GREEN_ONLY: Threshold[] = [{ color: 'green', value: null }];

function panel(type: PanelType, spec: PanelSpec, options: JsonObject, custom?: JsonObject): Item {
  const defaults: FieldConfigSource['defaults'] = {
    unit: spec.unit,
    color: spec.color ?? { mode: FieldColorModeId.PaletteClassic },
    mappings: spec.mappings ?? [],
    thresholds: { mode: ThresholdsMode.Absolute, steps: spec.thresholds ?? GREEN_ONLY },
  };
  if (custom) defaults.custom = custom;
  if (spec.decimals !== undefined) defaults.decimals = spec.decimals;
  if (spec.min !== undefined) defaults.min = spec.min;
  if (spec.max !== undefined) defaults.max = spec.max;
  if (spec.noValue !== undefined) defaults.noValue = spec.noValue;
  if (spec.links) defaults.links = spec.links;
  const p: Unplaced = {
    type,
    title: spec.title,
    description: spec.description,
    datasource: DATASOURCE,
    fieldConfig: { defaults, overrides: spec.overrides ?? [] },
    options,
    targets: targets(spec),
    w: spec.w,
    h: spec.h,
  };
  if (spec.timeFrom) {
    p.timeFrom = spec.timeFrom;
    p.hideTimeOverride = false;
  }
  return p;
}

const reduceLast = { calcs: ['lastNotNull'], fields: '', values: false };

export function stat(spec: PanelSpec & { sparkline?: boolean }): Item {
  return panel(
    'stat',
    {
      ...spec,
      instant: spec.instant ?? !spec.sparkline,
      color:
        spec.color ??
        (spec.thresholds
          ? { mode: FieldColorModeId.Thresholds }
          : { fixedColor: 'blue', mode: FieldColorModeId.Fixed }),
    },
    {
      colorMode: 'value',
      graphMode: spec.sparkline ? 'area' : 'none',
      justifyMode: 'auto',
      orientation: 'auto',
      reduceOptions: reduceLast,
      showPercentChange: false,
      textMode: 'auto',
      wideLayout: true,
    },
  );
}

export function timeseries(
  spec: PanelSpec & { stack?: boolean; bars?: boolean; thresholdLines?: boolean; axis?: string },
): Item {
  return panel(
    'timeseries',
    spec,
    {
      legend: {
        calcs: spec.bars ? ['sum'] : ['mean', 'max', 'lastNotNull'],
        displayMode: 'table',
        placement: 'bottom',
        showLegend: true,
      },
      tooltip: { mode: 'multi', sort: 'desc' },
    },
    {
      axisLabel: spec.axis ?? '',
      axisSoftMin: 0,
      drawStyle: spec.bars ? 'bars' : 'line',
      fillOpacity: spec.stack || spec.bars ? 60 : 10,
      lineWidth: 1,
      showPoints: 'never',
      spanNulls: false,
      stacking: { group: 'A', mode: spec.stack ? 'normal' : 'none' },
      thresholdsStyle: { mode: spec.thresholdLines ? 'dashed' : 'off' },
    },
  );
}

export function piechart(spec: PanelSpec): Item {
  return panel(
    'piechart',
    { ...spec, instant: true },
    {
      displayLabels: ['percent'],
      legend: {
        displayMode: 'table',
        placement: 'right',
        showLegend: true,
        values: ['value', 'percent'],
      },
      pieType: 'donut',
      reduceOptions: reduceLast,
      tooltip: { mode: 'single', sort: 'none' },
    },
  );
}

export function bargauge(spec: PanelSpec): Item {
  return panel(
    'bargauge',
    {
      ...spec,
      instant: spec.instant ?? true,
      color: spec.color ?? { mode: FieldColorModeId.Thresholds },
    },
    {
      displayMode: 'gradient',
      maxVizHeight: 300,
      minVizHeight: 16,
      minVizWidth: 8,
      namePlacement: 'auto',
      orientation: 'horizontal',
      reduceOptions: reduceLast,
      showUnfilled: true,
      sizing: 'auto',
      valueMode: 'color',
    },
  );
}

export function stateTimeline(spec: PanelSpec): Item {
  return panel(
    'state-timeline',
    { ...spec, color: spec.color ?? { mode: FieldColorModeId.Thresholds } },
    {
      alignValue: 'center',
      legend: { displayMode: 'list', placement: 'bottom', showLegend: true },
      mergeValues: true,
      rowHeight: 0.8,
      showValue: 'auto',
      tooltip: { mode: 'single', sort: 'none' },
    },
    { fillOpacity: 80, lineWidth: 0 },
  );
}

export function row(title: string): Item {
  return { type: 'row', title };
}

/** Utilization colours, changing at the thresholds the alert rules fire at. */
export const UTILIZATION_STEPS: Threshold[] = [
  { color: UTILIZATION_BASE_COLOR, value: null },
  ...UTILIZATION_THRESHOLDS.map(({ at, color }) => ({ color, value: at })),
];

export const OUTCOME_COLORS: Overrides = [
  ['ok', 'green'],
  ['error', 'red'],
  ['blocked', 'orange'],
].map(([name, color]) => ({
  matcher: { id: 'byName', options: name! },
  properties: [{ id: 'color', value: { fixedColor: color!, mode: FieldColorModeId.Fixed } }],
}));

/** Calls per second by outcome (ok, error, blocked), stacked, on `tokenfuse_requests_total`. */
export function requestsByOutcome(filter: string, description: string): Item {
  return timeseries({
    title: 'Requests by outcome',
    description,
    unit: 'reqps',
    w: 12,
    h: 8,
    stack: true,
    overrides: OUTCOME_COLORS,
    targets: [
      {
        expr: `sum by (outcome) (rate(tokenfuse_requests_total${filter}[$__rate_interval]))`,
        legend: '{{outcome}}',
      },
    ],
  });
}

/**
 * Month-to-date spend. PromQL range selectors need a literal duration, so the month start
 * cannot be computed in the query. The panel instead sets Grafana's relative time override
 * `timeFrom: "now/M"` ("This month so far": Grafana's rangeutil.describeTextRange accepts
 * `now/M` as a standard range, from the start of the month to now), and queries
 * `increase(...[$__range])` as an instant query at "now": `$__range` is then exactly the time
 * since the month started. Caveats, in the description: the month starts in the browser's time
 * zone, and the override applies only while the dashboard's own range is relative (`now-…`).
 * Alternatives rejected: `increase(...[31d])` counts part of last month; `tokenfuse_budget_spent
 * {window="month"}` exists only if a monthly USD budget matching every call is configured.
 */
export function monthToDate(selector: string, w: number, h: number): Item {
  return stat({
    title: 'Month-to-date spend',
    description:
      'Spend since the start of the current month: increase of tokenfuse_cost_usd_total over the ' +
      'panel\'s own time range "This month so far" (relative time now/M), whatever range the ' +
      "dashboard shows. The month starts in the browser's time zone; the override applies only " +
      'while the dashboard range is relative (e.g. "Last 24 hours"). Needs Prometheus retention ' +
      'of at least a month.',
    unit: 'currencyUSD',
    decimals: 2,
    w,
    h,
    timeFrom: 'now/M',
    targets: [{ expr: `sum(increase(tokenfuse_cost_usd_total${selector}[$__range]))` }],
  });
}
