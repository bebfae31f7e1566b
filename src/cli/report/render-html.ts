/**
 * The report as one self-contained HTML file: the table, a bar chart of spend per
 * group, a share chart and a daily-spend line per group. The charts are Vega-Lite
 * specs compiled and rendered to SVG here, at report time, and inlined: the file
 * loads nothing when opened (no script, font or image from anywhere), prints on
 * white, and follows the reader's light or dark mode (the SVGs draw in
 * `currentColor`).
 */
import type { Report } from './figures.js';
import { columns, groupName, usd } from './render-text.js';

type VegaLiteSpec = Record<string, unknown>;

/** Axis, legend and title colours follow the page's text colour (light and dark mode). */
const CONFIG = {
  background: null,
  font: 'system-ui, -apple-system, "Segoe UI", sans-serif',
  view: { stroke: null },
  axis: {
    labelColor: 'currentColor',
    titleColor: 'currentColor',
    domainColor: 'currentColor',
    tickColor: 'currentColor',
    gridColor: 'currentColor',
    gridOpacity: 0.15,
    labelFontSize: 11,
    titleFontSize: 12,
  },
  legend: { labelColor: 'currentColor', titleColor: 'currentColor', labelFontSize: 11 },
  title: { color: 'currentColor', fontSize: 14, anchor: 'start' },
  range: { category: { scheme: 'tableau10' } },
};

/** Compiles a Vega-Lite spec and renders it to an SVG string, headless. */
async function svgOf(spec: VegaLiteSpec): Promise<string> {
  const [vega, vegaLite] = await Promise.all([import('vega'), import('vega-lite')]);
  const compiled = vegaLite.compile({ config: CONFIG, ...spec } as never).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

function escapeHtml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

/** The three charts' specs. */
function chartSpecs(report: Report): Array<{ id: string; title: string; spec: VegaLiteSpec }> {
  const groups = report.rows.map((r) => ({
    group: groupName(r.group),
    cost: r.costUsd,
    share: r.sharePct / 100,
  }));
  const order = groups.map((g) => g.group);
  const color = {
    field: 'group',
    type: 'nominal',
    title: report.by.join(' / '),
    scale: { domain: order },
  };
  const daily = report.rows.flatMap((r) =>
    r.dailyUsd.map((cost, i) => ({ group: groupName(r.group), day: report.days[i], cost })),
  );
  return [
    {
      id: 'spend',
      title: 'Spend per group',
      spec: {
        width: 560,
        height: Math.max(60, 28 * groups.length),
        data: { values: groups },
        mark: { type: 'bar', tooltip: true },
        encoding: {
          y: { field: 'group', type: 'nominal', sort: order, title: null },
          x: {
            field: 'cost',
            type: 'quantitative',
            title: 'cost (USD)',
            axis: { format: '$,.4~f' },
          },
          color: { ...color, legend: null },
        },
      },
    },
    {
      id: 'share',
      title: 'Share of the total',
      spec: {
        width: 260,
        height: 260,
        data: { values: groups },
        mark: { type: 'arc', innerRadius: 60, stroke: null },
        encoding: {
          theta: { field: 'cost', type: 'quantitative', stack: true },
          color,
          order: { field: 'cost', type: 'quantitative', sort: 'descending' },
          tooltip: [
            { field: 'group', type: 'nominal' },
            { field: 'share', type: 'quantitative', format: '.1%' },
          ],
        },
      },
    },
    {
      id: 'daily',
      title: 'Spend per day',
      spec: {
        width: 560,
        height: 240,
        data: { values: daily },
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'day', type: 'ordinal', title: null, sort: report.days },
          y: {
            field: 'cost',
            type: 'quantitative',
            title: 'cost (USD)',
            axis: { format: '$,.4~f' },
          },
          color,
        },
      },
    },
  ];
}

const STYLE = `
:root { color-scheme: light dark; --fg: #1b1f24; --bg: #ffffff; --muted: #57606a; --rule: #d0d7de; --stripe: #f6f8fa; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6edf3; --bg: #0d1117; --muted: #8d96a0; --rule: #30363d; --stripe: #161b22; }
}
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); margin: 2rem auto; max-width: 1200px; padding: 0 1rem; }
h1 { font-size: 1.4rem; margin: 0 0 .25rem; }
.meta, .notes { color: var(--muted); }
table { border-collapse: collapse; margin: 1.25rem 0; font-variant-numeric: tabular-nums; width: 100%; }
th, td { padding: .35rem .6rem; border-bottom: 1px solid var(--rule); white-space: nowrap; }
th { text-align: left; font-weight: 600; border-bottom: 2px solid var(--rule); }
td.n, th.n { text-align: right; }
tbody tr:nth-child(even) { background: var(--stripe); }
tfoot td { font-weight: 700; border-top: 2px solid var(--rule); }
.charts { display: flex; flex-wrap: wrap; gap: 2rem; }
figure { margin: 0; break-inside: avoid; page-break-inside: avoid; }
figcaption { font-weight: 600; margin-bottom: .5rem; }
figure svg { max-width: 100%; height: auto; }
@media print {
  :root { --fg: #000; --bg: #fff; --muted: #333; --rule: #999; --stripe: #f2f2f2; }
  body { margin: 0; max-width: none; font-size: 10pt; }
  table { page-break-inside: auto; } tr { page-break-inside: avoid; }
  tbody tr:nth-child(even) { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
`;

/** The whole page. */
export async function renderHtml(report: Report): Promise<string> {
  const { heads, numeric, cells } = columns(report);
  const th = heads
    .map((h, i) => `<th${numeric[i] ? ' class="n"' : ''} scope="col">${escapeHtml(h)}</th>`)
    .join('');
  const tr = (cs: string[]) =>
    `<tr>${cs.map((c, i) => `<td${numeric[i] ? ' class="n"' : ''}>${escapeHtml(c)}</td>`).join('')}</tr>`;
  const charts = await Promise.all(
    chartSpecs(report).map(
      async (c) =>
        `<figure id="chart-${c.id}"><figcaption>${escapeHtml(c.title)}</figcaption>${await svgOf(c.spec)}</figure>`,
    ),
  );
  const title = `LLM spend ${report.period.label}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<p class="meta">By ${escapeHtml(report.by.join(', '))} · ${escapeHtml(report.period.timeZone)} · ${escapeHtml(report.period.from)} to ${escapeHtml(report.period.to)} · total ${escapeHtml(usd(report.total.costUsd))} · from Prometheus at ${escapeHtml(report.source)}</p>
<table id="report">
<thead><tr>${th}</tr></thead>
<tbody>
${report.rows.map((r) => tr(cells(r, false))).join('\n')}
</tbody>
<tfoot>${tr(cells(report.total, true))}</tfoot>
</table>
<div class="charts">
${charts.join('\n')}
</div>
<ul class="notes">
${report.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('\n')}
</ul>
</body>
</html>
`;
}
