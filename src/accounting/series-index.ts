/**
 * Which series a usage record's counts go to: its label values bounded (length and
 * count per label), its exported label set found or made, and the histogram-only
 * attributes (operation, provider name) folded beside them. Kept apart from the
 * accountant, which prices and records, because this half is about cardinality and
 * is the same whoever records into the series.
 */
import { type Attributes, diag } from '@opentelemetry/api';
import { logValue } from '../log-text.js';
import { SEMCONV_VALUES_CAP } from '../metrics/cardinality.js';
import { METRIC_LABELS, SEMCONV_METRIC_ATTRIBUTES, TAG_NAMES } from '../metrics/contract.js';
import { type FoldNote, LabelLimiter, OVERFLOW_VALUE } from '../metrics/label-limiter.js';
import type { MetricsEngine } from '../metrics/metrics-engine.js';
import type { RecordSeries } from '../metrics/series.js';
import type { MetricLabel } from '../types.js';
import type { UsageRecord } from './usage-record.js';

/** The contract's names of the histograms' GenAI attributes (`SEMCONV_METRIC_ATTRIBUTES`). */
const [OPERATION_NAME, PROVIDER_NAME, REQUEST_MODEL] = SEMCONV_METRIC_ATTRIBUTES;
/** The token-usage histogram's attribute that tells input from output. */
const TOKEN_TYPE = 'gen_ai.token.type';

/** Label value of a tag no source provided. */
export const UNATTRIBUTED = 'unknown';

// Tags first, then the call's own labels: the order label sets are keyed and exported in.
const LABEL_ORDER: readonly MetricLabel[] = [
  ...TAG_NAMES,
  ...METRIC_LABELS.filter((label) => !(TAG_NAMES as readonly string[]).includes(label)),
];

// Distinct values kept of each histogram-only attribute (operation, provider name,
// error type). Our own calls use a handful; the cap is for foreign spans, which may
// set anything, and does not follow `maxValuesPerLabel` so a small label cap does
// not merge operations. In metrics/ because the SDK's cardinality limits count it.

/**
 * Most raw label-value combinations whose folded series are remembered; past it (a
 * runaway tag), calls fold their values each time, as they all did before.
 */
const SEEN_KEYS_CAP = 10_000;

/** What happened to one call's label values, counted once per call and reason. */
export interface FoldOutcome extends FoldNote {
  /** The call went to the overflow label set (`maxSeries`). */
  overflow: boolean;
}

/** A record's series and what folding its values noted (shared by every call alike: read only). */
export interface FoldedSeries extends FoldOutcome {
  readonly series: RecordSeries;
}

/** Raw values, one level per part of a record's key, down to the folded series. */
type SeenLevel = Map<string, SeenLevel | FoldedSeries>;

/** Options of {@link SeriesIndex}: the cardinality part of the accountant's options. */
export interface SeriesIndexOptions {
  labels: readonly MetricLabel[];
  maxValuesPerLabel: number;
  /** Longest label value; longer ones are cut (prefix + hash). @default unbounded */
  maxLabelValueLength?: number;
  /** Most label sets kept; calls of new ones past it go to the overflow set. @default unbounded */
  maxSeries?: number;
}

/**
 * The record → series lookup. Folding is deterministic for given raw values (a
 * label's kept values and the series only grow), so its outcome, and what it noted,
 * is remembered per raw values and reused for the next call alike, looked up level
 * by level with no key built per call.
 */
export class SeriesIndex {
  /** Record key → its exported totals and histogram attributes. */
  private readonly series = new Map<string, RecordSeries>();
  private readonly limiter: LabelLimiter;
  /** For histogram-only attributes: not configurable labels, but foreign spans set them. */
  private readonly semconvLimiter: LabelLimiter;
  /** Allowlisted labels, in a fixed order. */
  readonly activeLabels: readonly MetricLabel[];
  private readonly modelIsLabel: boolean;
  /** Raw values of a record, level by level → its series and what folding noted. */
  private readonly seen: SeenLevel = new Map();
  private seenCount = 0;
  /** Levels of a raw key: operation, provider name, budget, the labels, and the model when no label. */
  private readonly depth: number;
  /** Where calls of new label sets go once `maxSeries` is reached. */
  private overflow: RecordSeries | undefined;

  constructor(
    private readonly engine: MetricsEngine,
    private readonly options: SeriesIndexOptions,
  ) {
    const allow = new Set(options.labels);
    this.activeLabels = LABEL_ORDER.filter((label) => allow.has(label));
    this.modelIsLabel = this.activeLabels.includes('model');
    this.depth = 3 + this.activeLabels.length + (this.modelIsLabel ? 0 : 1);
    const maxLength = options.maxLabelValueLength ?? Number.POSITIVE_INFINITY;
    this.limiter = new LabelLimiter(options.maxValuesPerLabel, maxLength, {
      onOverflow: (label, value) =>
        diag.warn(
          `tokenfuse: label '${label}' reached ${options.maxValuesPerLabel} distinct values; ` +
            `${logValue(value)} and later new values are reported as 'other' ` +
            `(metrics.maxValuesPerLabel; counted in tokenfuse_series_dropped_total)`,
        ),
      onTruncate: (label, value) =>
        diag.warn(
          `tokenfuse: label '${label}' got a value of ${value.length} characters, ` +
            `${logValue(value)}; values longer than ${maxLength} are cut to a prefix and a ` +
            `hash (metrics.maxLabelValueLength; counted in tokenfuse_series_dropped_total). ` +
            `Logged once per label.`,
        ),
    });
    this.semconvLimiter = new LabelLimiter(SEMCONV_VALUES_CAP, maxLength, {
      onOverflow: (attribute, value) =>
        diag.warn(
          `tokenfuse: attribute '${attribute}' reached ${SEMCONV_VALUES_CAP} distinct values; ` +
            `${logValue(value)} and later new values are reported as 'other' ` +
            `(counted in tokenfuse_series_dropped_total)`,
        ),
      onTruncate: (attribute, value) =>
        diag.warn(
          `tokenfuse: attribute '${attribute}' got a value of ${value.length} characters, ` +
            `${logValue(value)}; values longer than ${maxLength} are cut to a prefix and a ` +
            `hash (metrics.maxLabelValueLength). Logged once per attribute.`,
        ),
    });
  }

  /** A label's value as exported: cut and capped as every label value is. */
  foldLabel(label: string, value: string): string {
    return this.limiter.fold(label, value);
  }

  /** A histogram-only attribute's value (`error.type`), bounded as operation and provider name are. */
  foldAttribute(attribute: string, value: string, note: FoldNote): string {
    return this.semconvLimiter.fold(attribute, value, note);
  }

  /**
   * The record's series: its key holds what tells histogram data points apart
   * (labels, operation, provider name, budget); its totals are shared with every
   * other key that exports the same label set. Every part of the key is bounded
   * (length and count), whether it came from our own calls or a foreign span.
   */
  of(record: UsageRecord): FoldedSeries {
    let level = this.seen;
    const last = this.depth - 1;
    for (let i = 0; i < last; i++) {
      const next = level.get(this.keyPart(record, i)) as SeenLevel | undefined;
      if (next === undefined) return this.fresh(record);
      level = next;
    }
    return (
      (level.get(this.keyPart(record, last)) as FoldedSeries | undefined) ?? this.fresh(record)
    );
  }

  /** Part `i` of a record's raw key (what {@link foldSeries} reads), before folding. */
  private keyPart(record: UsageRecord, i: number): string {
    if (i === 0) return record.operation;
    if (i === 1) return record.providerName;
    if (i === 2) return record.budget ?? '';
    const label = this.activeLabels[i - 3];
    // The model is part of the histograms' attributes even when it is no label.
    return label === undefined ? record.model : rawValue(record, label);
  }

  /** Folds a record's values afresh, and remembers the outcome while under the cap. */
  private fresh(record: UsageRecord): FoldedSeries {
    const note: FoldOutcome = { truncated: false, folded: false, overflow: false };
    const series = this.foldSeries(record, note);
    const folded: FoldedSeries = { ...note, series };
    if (this.seenCount >= SEEN_KEYS_CAP) return folded;
    let level = this.seen;
    const last = this.depth - 1;
    for (let i = 0; i < last; i++) {
      const part = this.keyPart(record, i);
      let next = level.get(part) as SeenLevel | undefined;
      if (next === undefined) {
        next = new Map();
        level.set(part, next);
      }
      level = next;
    }
    level.set(this.keyPart(record, last), folded);
    this.seenCount++;
    return folded;
  }

  private foldSeries(record: UsageRecord, note: FoldOutcome): RecordSeries {
    const values = this.labelValues(record, note);
    const operation = this.semconvLimiter.fold(OPERATION_NAME, record.operation, note);
    const providerName = this.semconvLimiter.fold(PROVIDER_NAME, record.providerName, note);
    const key = `${values.join('\u0001')}\u0001${operation}\u0001${providerName}\u0001${record.budget ?? ''}`;
    let series = this.series.get(key);
    if (series !== undefined) return series;
    if (this.series.size >= (this.options.maxSeries ?? Number.POSITIVE_INFINITY)) {
      note.overflow = true;
      return this.overflowSeries();
    }
    const labels: Attributes = {};
    const modelIndex = this.activeLabels.indexOf('model');
    const semconv: Attributes = {
      [OPERATION_NAME]: operation,
      [PROVIDER_NAME]: providerName,
      [REQUEST_MODEL]:
        modelIndex >= 0 ? values[modelIndex] : this.limiter.fold('model', record.model, note),
    };
    this.activeLabels.forEach((label, i) => {
      labels[label] = values[i];
      if ((TAG_NAMES as readonly string[]).includes(label)) semconv[label] = values[i];
    });
    // Blocked calls also say which budget (or policy) stopped them.
    if (record.budget !== undefined) labels.budget = record.budget;
    series = this.recordSeries(labels, semconv);
    this.series.set(key, series);
    return series;
  }

  private recordSeries(labels: Attributes, semconv: Attributes): RecordSeries {
    return {
      // Label names are fixed per index and inserted in one order, so the values
      // (and whether a budget is present) identify the set.
      totals: this.engine.totalsOf(labels),
      semconv,
      semconvInput: { ...semconv, [TOKEN_TYPE]: 'input' },
      semconvOutput: { ...semconv, [TOKEN_TYPE]: 'output' },
    };
  }

  /** The one label set (every value `other`) that calls of new label sets share past `maxSeries`. */
  private overflowSeries(): RecordSeries {
    if (this.overflow === undefined) {
      const labels: Attributes = {};
      const semconv: Attributes = {
        [OPERATION_NAME]: OVERFLOW_VALUE,
        [PROVIDER_NAME]: OVERFLOW_VALUE,
        [REQUEST_MODEL]: OVERFLOW_VALUE,
      };
      for (const label of this.activeLabels) {
        labels[label] = OVERFLOW_VALUE;
        if ((TAG_NAMES as readonly string[]).includes(label)) semconv[label] = OVERFLOW_VALUE;
      }
      this.overflow = this.recordSeries(labels, semconv);
      diag.warn(
        `tokenfuse: ${this.options.maxSeries} label sets reached (metrics.maxSeries); calls of ` +
          `new label sets are counted under one set whose values are all 'other' ` +
          `(counted in tokenfuse_series_dropped_total{reason="max_series"})`,
      );
    }
    return this.overflow;
  }

  private labelValues(record: UsageRecord, note: FoldNote): string[] {
    const values: string[] = [];
    for (const label of this.activeLabels)
      values.push(this.limiter.fold(label, rawValue(record, label), note));
    return values;
  }
}

/** A label's value in a record, before folding. */
function rawValue(record: UsageRecord, label: string): string {
  if (label === 'provider') return record.provider;
  if (label === 'model') return record.model;
  return record.tags[label as keyof UsageRecord['tags']] ?? UNATTRIBUTED;
}
