/**
 * The Prometheus text of a collection, written as the OpenTelemetry Prometheus
 * exporter writes it (its default options: no prefix, no timestamps, scope labels,
 * `target_info`), byte for byte, but fast enough for tens of thousands of series
 * and in pieces, so a scrape can hand the event loop back between them.
 *
 * The exporter's serializer builds every line from `Object.entries`, three regular
 * expressions per label and a fresh object per histogram bucket, then copies the
 * whole text twice (`join`, `trim`): at 10,000 label sets that is seconds of work
 * and garbage in one stall. Here each data point's label text is built once per
 * attribute object (tokenfuse's own attribute objects are built once and never
 * changed, so it is kept between scrapes for them) and lines go straight into
 * chunks of about {@link CHUNK_CHARS} characters.
 */
import { type Attributes, type AttributeValue, diag } from '@opentelemetry/api';
import {
  DataPointType,
  type Histogram,
  type MetricData,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { LAZY_METRICS } from './metrics-engine.js';

/** Characters per chunk handed to the writer: small enough to yield often, large enough to be cheap. */
export const CHUNK_CHARS = 1 << 16;

/** Scope whose attribute objects are immutable (ours), so their label text is kept between scrapes. */
const OWN_SCOPE = 'tokenfuse';

interface Family {
  help: string;
  unit: string;
  type: string;
  metrics: Array<{
    metric: MetricData;
    scope: { name: string; version?: string; schemaUrl?: string };
  }>;
}

const keptLabels = new WeakMap<Attributes, string>();
const sanitized = new Map<string, string>();

function sanitizeName(name: string): string {
  let out = sanitized.get(name);
  if (out === undefined) {
    out = name.replace(/[^a-z0-9_]/gi, '_').replace(/_{2,}/g, '_');
    if (sanitized.size < 10_000) sanitized.set(name, out);
  }
  return out;
}

const NEEDS_ESCAPE = /[\\\n"]/;

function escapeString(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function escapeValue(value: AttributeValue | undefined = ''): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return NEEDS_ESCAPE.test(text) ? escapeString(text).replace(/"/g, '\\"') : text;
}

function labelText(attributes: Attributes): string {
  let out = '';
  for (const key in attributes) {
    if (!Object.hasOwn(attributes, key)) continue;
    out += `${out.length > 0 ? ',' : ''}${sanitizeName(key)}="${escapeValue(attributes[key])}"`;
  }
  return out;
}

function valueText(value: number): string {
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return `${value}`;
}

function prometheusType(metric: MetricData): string {
  switch (metric.dataPointType) {
    case DataPointType.SUM:
      return metric.isMonotonic ? 'counter' : 'gauge';
    case DataPointType.GAUGE:
      return 'gauge';
    case DataPointType.HISTOGRAM:
      return 'histogram';
    default:
      return 'untyped';
  }
}

function metricName(metric: MetricData): string | undefined {
  let name = sanitizeName(escapeString(metric.descriptor.name));
  if (name === '' || name === '_') {
    diag.error(`Normalization for metric "${metric.descriptor.name}" resulted in an invalid name`);
    return undefined;
  }
  if (name[0]! >= '0' && name[0]! <= '9') name = `_${name}`;
  if (!name.endsWith('_total') && metric.dataPointType === DataPointType.SUM && metric.isMonotonic)
    name += '_total';
  return name;
}

/** Families by Prometheus name, as the exporter groups them (a type conflict drops the family). */
function families(resourceMetrics: ResourceMetrics): Map<string, Family | undefined> {
  const out = new Map<string, Family | undefined>();
  out.set('target_info', { help: 'Target metadata', unit: '', type: 'gauge', metrics: [] });
  for (const scopeMetrics of resourceMetrics.scopeMetrics) {
    for (const metric of scopeMetrics.metrics) {
      const name = metricName(metric);
      if (name === undefined) continue;
      const type = prometheusType(metric);
      if (!out.has(name)) {
        const { description, unit } = metric.descriptor;
        out.set(name, {
          help: description,
          unit,
          type,
          metrics: [{ metric, scope: scopeMetrics.scope }],
        });
        continue;
      }
      const family = out.get(name);
      if (family === undefined) continue;
      if (family.type !== type) {
        diag.warn(`Conflicting TYPE comments for metric "${name}"; dropping the metric.`);
        out.set(name, undefined);
        continue;
      }
      family.metrics.push({ metric, scope: scopeMetrics.scope });
    }
  }
  for (const family of out.values()) {
    if (family === undefined) continue;
    for (const { metric } of family.metrics) {
      const { description, unit } = metric.descriptor;
      if (description && !family.help) family.help = description;
      if (unit && !family.unit) family.unit = unit;
    }
  }
  return out;
}

/** Collects text into chunks of about {@link CHUNK_CHARS} characters. */
class Chunks {
  private parts: string[] = [];
  private size = 0;

  push(text: string): void {
    this.parts.push(text);
    this.size += text.length;
  }

  get full(): boolean {
    return this.size >= CHUNK_CHARS;
  }

  /** The text so far, emptied. */
  take(): string {
    const text = this.parts.join('');
    this.parts = [];
    this.size = 0;
    return text;
  }
}

/**
 * The Prometheus text of `resourceMetrics`, in chunks whose concatenation is what the
 * OpenTelemetry exporter's `PrometheusSerializer.serialize` returns for it. A generator,
 * so the caller may write each piece and yield before asking for the next.
 */
export function* prometheusText(resourceMetrics: ResourceMetrics): Generator<string, void, void> {
  const chunks = new Chunks();
  let wrote = false;
  for (const [name, family] of families(resourceMetrics)) {
    if (family === undefined) continue;
    let header = `# HELP ${name} ${escapeString(family.help || 'description missing')}${
      family.unit ? `\n# UNIT ${name} ${escapeString(family.unit)}` : ''
    }\n# TYPE ${name} ${family.type}\n`;
    if (name === 'target_info') {
      chunks.push(
        `${header}target_info${braced(labelText(resourceMetrics.resource.attributes))} 1\n`,
      );
      header = '';
    }
    for (const { metric, scope } of family.metrics) {
      let scopeText = `otel_scope_name="${escapeValue(scope.name)}"`;
      if (scope.schemaUrl) scopeText += `,otel_scope_schema_url="${escapeValue(scope.schemaUrl)}"`;
      if (scope.version) scopeText += `,otel_scope_version="${escapeValue(scope.version)}"`;
      const keep = scope.name === OWN_SCOPE;
      // tokenfuse's own per-call metrics, read from the live aggregation as they are written.
      const lazy = LAZY_METRICS.get(metric);
      const dataPoints: Iterable<{ attributes: Attributes; value: unknown }> =
        lazy?.points() ?? metric.dataPoints;
      const points = lazy ? 1 : metric.dataPoints.length;
      if (points === 0 && header === '') continue;
      // The exporter trims each metric's text: a metric without points is its header alone.
      chunks.push(header);
      header = '';
      wrote = true;
      if (metric.dataPointType === DataPointType.HISTOGRAM) {
        for (const point of dataPoints) {
          writeHistogram(
            chunks,
            name,
            labelsOf(point.attributes, keep),
            scopeText,
            point.value as Histogram,
          );
          if (chunks.full) yield chunks.take();
        }
      } else if (
        metric.dataPointType === DataPointType.SUM ||
        metric.dataPointType === DataPointType.GAUGE
      ) {
        for (const point of dataPoints) {
          const labels = labelsOf(point.attributes, keep);
          chunks.push(
            `${name}{${labels}${labels ? ',' : ''}${scopeText}} ${valueText(point.value as number)}\n`,
          );
          if (chunks.full) yield chunks.take();
        }
      } else {
        diag.error(`Unrecognizable DataPointType: ${metric.dataPointType} for metric "${name}"`);
      }
    }
  }
  if (!wrote) chunks.push('# no registered metrics');
  const rest = chunks.take();
  if (rest) yield rest;
}

function braced(labels: string): string {
  return labels ? `{${labels}}` : '';
}

function labelsOf(attributes: Attributes, keep: boolean): string {
  if (!keep) return labelText(attributes);
  let text = keptLabels.get(attributes);
  if (text === undefined) {
    text = labelText(attributes);
    keptLabels.set(attributes, text);
  }
  return text;
}

function writeHistogram(
  chunks: Chunks,
  name: string,
  labels: string,
  scopeText: string,
  histogram: Histogram,
): void {
  const inner = `${labels}${labels ? ',' : ''}${scopeText}`;
  chunks.push(`${name}_count{${inner}} ${valueText(histogram.count)}\n`);
  if (histogram.sum != null) chunks.push(`${name}_sum{${inner}} ${valueText(histogram.sum)}\n`);
  const { boundaries, counts } = histogram.buckets;
  const bucket = `${name}_bucket{${inner},le="`;
  let cumulative = 0;
  let infiniteSeen = false;
  for (let i = 0; i < counts.length; i++) {
    cumulative += counts[i]!;
    const upper = boundaries[i];
    if (upper === undefined && infiniteSeen) break;
    if (upper === Number.POSITIVE_INFINITY) infiniteSeen = true;
    const le = upper === undefined || upper === Number.POSITIVE_INFINITY ? '+Inf' : String(upper);
    chunks.push(`${bucket}${le}"} ${valueText(cumulative)}\n`);
  }
}
