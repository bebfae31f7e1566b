import { type Attributes, diag, type Meter, metrics } from '@opentelemetry/api';
import { logValue } from '../log-text.js';
import { SEMCONV_VALUES_CAP } from '../metrics/cardinality.js';
import { METRIC_LABELS, TAG_NAMES } from '../metrics/contract.js';
import { createHealthCounters, type HealthCounters } from '../metrics/instruments.js';
import { type FoldNote, LabelLimiter, OVERFLOW_VALUE } from '../metrics/label-limiter.js';
import { type HistogramPoint, MetricsEngine } from '../metrics/metrics-engine.js';
import { LatestGenAiMetrics } from '../metrics/semconv-latest.js';
import type { RecordSeries, Series } from '../metrics/series.js';
import { onEstimateBounded } from '../pricing/estimate-bounds.js';
import type { PriceBook } from '../pricing/price-book.js';
import { inputTokens, MAX_USAGE_TOKENS, outputTokens } from '../pricing/usage.js';
import type { MetricLabel } from '../types.js';
import { CallPricer, type CallPricerOptions } from './call-pricer.js';
import type { AccountingResult, UsageRecord } from './usage-record.js';

const PACKAGE = 'tokenfuse';
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

/** Attributes of `tokenfuse_series_dropped_total`, by reason. */
const DROPPED = {
  valueTooLong: { reason: 'value_too_long' },
  maxValuesPerLabel: { reason: 'max_values_per_label' },
  maxSeries: { reason: 'max_series' },
} as const;

/**
 * Most raw label-value keys whose folded series are remembered; past it (a runaway
 * tag), calls fold their values each time, as they all did before.
 */
const SEEN_KEYS_CAP = 10_000;

/** What happened to one call's label values, counted once per call and reason. */
interface Note extends FoldNote {
  /** The call went to the overflow label set (`maxSeries`). */
  overflow: boolean;
}

export interface AccountantOptions extends CallPricerOptions {
  labels: readonly MetricLabel[];
  maxValuesPerLabel: number;
  /** Longest label value; longer ones are cut (prefix + hash). @default unbounded */
  maxLabelValueLength?: number;
  /** Most label sets kept; calls of new ones past it go to the overflow set. @default unbounded */
  maxSeries?: number;
  /** Meter of the health counters; when omitted, the global meter provider's is used at first record. */
  meter?: Meter;
  /**
   * Also record the latest experimental GenAI conventions' metrics
   * (`OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental`, read at start). @default false
   */
  genAiLatest?: boolean;
  /** Where the per-call metrics are aggregated. @default one of its own, with no cardinality limit */
  engine?: MetricsEngine;
}

/**
 * Turns usage records into money and metrics. The single place where a call is
 * priced and counted, so "exactly once" is a property of who calls `account()`,
 * not of how many places know how to count.
 */
export class Accountant {
  /** The per-call histograms and counters; readers collect them through its producer. */
  readonly engine: MetricsEngine;
  private health: HealthCounters | undefined;
  /** The opt-in metrics (`genAiLatest`). */
  private latest: LatestGenAiMetrics | undefined;
  private stopCountingBounds: (() => void) | undefined;
  /** Record key → its exported totals and histogram attributes. */
  private readonly series = new Map<string, RecordSeries>();
  private readonly limiter: LabelLimiter;
  /** For histogram-only attributes: not configurable labels, but foreign spans set them. */
  private readonly semconvLimiter: LabelLimiter;
  /** Allowlisted labels, in a fixed order. */
  private readonly activeLabels: readonly MetricLabel[];
  /** `provider\0field` pairs already logged as sending invalid usage. */
  private readonly warnedInvalid = new Set<string>();
  /** Raw values of a record → its series and what folding them noted ({@link seriesOf}). */
  private readonly seen = new Map<string, Note & { series: RecordSeries }>();
  private readonly modelIsLabel: boolean;
  /** Where calls of new label sets go once `maxSeries` is reached. */
  private overflow: RecordSeries | undefined;
  private readonly pricer: CallPricer;

  constructor(private readonly options: AccountantOptions) {
    this.pricer = new CallPricer(options);
    this.engine = options.engine ?? new MetricsEngine();
    const allow = new Set(options.labels);
    this.activeLabels = LABEL_ORDER.filter((label) => allow.has(label));
    this.modelIsLabel = this.activeLabels.includes('model');
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
    if (options.meter) this.setMeter(options.meter);
  }

  /** Points the accountant at another meter (when the SDK's meter provider is set or replaced). */
  setMeter(meter: Meter): void {
    this.health = createHealthCounters(meter);
    if (this.options.genAiLatest) this.latest = new LatestGenAiMetrics(meter);
    this.countBoundedEstimates(true);
  }

  /**
   * Counts the process's bounded estimates (tokenfuse_estimate_bounded_total) while
   * on; off when the instrumentation is disabled, so a closed runtime is not kept
   * alive by the listener.
   */
  countBoundedEstimates(on: boolean): void {
    this.stopCountingBounds?.();
    this.stopCountingBounds = undefined;
    const health = this.health;
    if (on && health) {
      this.stopCountingBounds = onEstimateBounded((reason) =>
        health.estimateBounded.add(1, { reason }),
      );
    }
  }

  get prices(): PriceBook {
    return this.options.prices;
  }

  /** Whether the latest experimental GenAI conventions were opted in to (spans follow them too). */
  get genAiLatest(): boolean {
    return this.options.genAiLatest === true;
  }

  /** Prices the record (see {@link CallPricer}) and records every metric for it. Never throws. */
  account(record: UsageRecord): AccountingResult {
    let result: AccountingResult = { costUsd: 0, priced: false };
    try {
      result = this.price(record);
      this.record(record, result);
    } catch (err) {
      diag.error('tokenfuse: accounting failed; the call itself is unaffected', err);
    }
    return result;
  }

  /** Prices a record without recording it (for spans that need the cost before they end). */
  price(record: UsageRecord): AccountingResult {
    return this.pricer.price(record);
  }

  private record(record: UsageRecord, result: AccountingResult): void {
    if (this.health === undefined) this.setMeter(metrics.getMeter(PACKAGE));
    const note: Note = { truncated: false, folded: false, overflow: false };
    const series = this.seriesOf(record, note);
    if (record.usage?.invalid) this.countInvalid(record, series);
    const totals = series.totals;
    totals.requests[record.outcome] = (totals.requests[record.outcome] ?? 0) + 1;
    const histograms = this.engine.histograms;

    let errorType: string | undefined;
    // A batch line ran inside the batch's own time: it has no call duration.
    if (record.outcome !== 'blocked' && record.batchId === undefined) {
      if (record.errorType === undefined) {
        series.duration ??= histograms.operationDuration.bind(series.semconv);
        series.duration.record(record.durationS);
      } else {
        errorType = this.semconvLimiter.fold('error.type', record.errorType, note);
        this.errorDuration(series, errorType).record(record.durationS);
      }
      if (record.timeToFirstChunkS !== undefined) {
        series.timeToFirstChunk ??= histograms.timeToFirstChunk.bind(series.semconv);
        series.timeToFirstChunk.record(record.timeToFirstChunkS);
      }
    }
    // A blocked call never reached its provider: no inference operation to record.
    if (this.latest !== undefined && record.outcome !== 'blocked')
      this.latest.record(record, series.semconv, errorType);

    if (note.truncated || note.folded || note.overflow) this.countDropped(note);

    const usage = record.usage;
    if (usage === undefined) return;
    totals.tokens.input += usage.input;
    totals.tokens.cache_read += usage.cacheRead;
    totals.tokens.cache_write += usage.cacheWrite;
    totals.tokens.output += usage.output;
    totals.tokens.input_audio += usage.inputAudio ?? 0;
    totals.tokens.output_audio += usage.outputAudio ?? 0;
    // An unpriced call still reports its (zero) cost series, so `sum by (department)`
    // over cost lists every department that used tokens.
    totals.cost += result.costUsd;
    totals.costSeen = true;
    if (!result.priced) totals.unpriced += 1;

    // Semconv: input tokens include cached ones.
    series.tokensInput ??= histograms.tokenUsage.bind(series.semconvInput);
    series.tokensInput.record(inputTokens(usage));
    if (record.operation !== 'embeddings') {
      series.tokensOutput ??= histograms.tokenUsage.bind(series.semconvOutput);
      series.tokensOutput.record(outputTokens(usage));
    }
  }

  /** The duration point of a failed call of `series`, bound once per error type. */
  private errorDuration(series: RecordSeries, errorType: string): HistogramPoint {
    series.errorDurations ??= new Map();
    let point = series.errorDurations.get(errorType);
    if (point === undefined) {
      point = this.engine.histograms.operationDuration.bind({
        ...series.semconv,
        'error.type': errorType,
      });
      series.errorDurations.set(errorType, point);
    }
    return point;
  }

  /**
   * The record's series: its key holds what tells histogram data points apart
   * (labels, operation, provider name, budget); its totals are shared with every
   * other key that exports the same label set. Every part of the key is bounded
   * (length and count), whether it came from our own calls or a foreign span.
   */
  private seriesOf(record: UsageRecord, note: Note): RecordSeries {
    // Folding is deterministic for a given raw key (a label's kept values and the series
    // only grow), so its outcome, and what it noted, is reused for the next call alike.
    const raw = this.rawKey(record);
    const seen = this.seen.get(raw);
    if (seen !== undefined) {
      if (seen.truncated) note.truncated = true;
      if (seen.folded) note.folded = true;
      if (seen.overflow) note.overflow = true;
      return seen.series;
    }
    const fresh: Note = { truncated: false, folded: false, overflow: false };
    const series = this.foldSeries(record, fresh);
    if (fresh.truncated) note.truncated = true;
    if (fresh.folded) note.folded = true;
    if (fresh.overflow) note.overflow = true;
    if (this.seen.size < SEEN_KEYS_CAP) this.seen.set(raw, { ...fresh, series });
    return series;
  }

  /** The record's values before folding, as one key (what {@link foldSeries} reads). */
  private rawKey(record: UsageRecord): string {
    let key = `${record.operation}\u0001${record.providerName}\u0001${record.budget ?? ''}`;
    for (const label of this.activeLabels) key += `\u0001${rawValue(record, label)}`;
    // The model is part of the histograms' attributes even when it is no label.
    return this.modelIsLabel ? key : `${key}\u0001${record.model}`;
  }

  private foldSeries(record: UsageRecord, note: Note): RecordSeries {
    const values = this.labelValues(record, note);
    const operation = this.semconvLimiter.fold('gen_ai.operation.name', record.operation, note);
    const providerName = this.semconvLimiter.fold(
      'gen_ai.provider.name',
      record.providerName,
      note,
    );
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
      'gen_ai.operation.name': operation,
      'gen_ai.provider.name': providerName,
      'gen_ai.request.model':
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
      totals: this.totalsOf(labels),
      semconv,
      semconvInput: { ...semconv, 'gen_ai.token.type': 'input' },
      semconvOutput: { ...semconv, 'gen_ai.token.type': 'output' },
    };
  }

  /** The one label set (every value `other`) that calls of new label sets share past `maxSeries`. */
  private overflowSeries(): RecordSeries {
    if (this.overflow === undefined) {
      const labels: Attributes = {};
      const semconv: Attributes = {
        'gen_ai.operation.name': OVERFLOW_VALUE,
        'gen_ai.provider.name': OVERFLOW_VALUE,
        'gen_ai.request.model': OVERFLOW_VALUE,
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

  private countDropped(note: Note): void {
    const counter = this.health!.seriesDropped;
    if (note.truncated) counter.add(1, DROPPED.valueTooLong);
    if (note.folded) counter.add(1, DROPPED.maxValuesPerLabel);
    if (note.overflow) counter.add(1, DROPPED.maxSeries);
  }

  /** The one running-totals object of an exported label set. */
  private totalsOf(labels: Attributes): Series {
    // Label names are fixed per accountant and inserted in one order, so the
    // values (and whether a budget is present) identify the set.
    return this.engine.totalsOf(labels);
  }

  private labelValues(record: UsageRecord, note: FoldNote): string[] {
    const values: string[] = [];
    for (const label of this.activeLabels)
      values.push(this.limiter.fold(label, rawValue(record, label), note));
    return values;
  }

  /** Counts and (once per provider and field) logs usage fields that were rejected. */
  private countInvalid(record: UsageRecord, series: RecordSeries): void {
    const labels = series.totals.labels;
    const provider = String(labels.provider ?? this.limiter.fold('provider', record.provider));
    const model = String(labels.model ?? this.limiter.fold('model', record.model));
    for (const { field, value } of record.usage?.invalid ?? []) {
      this.health!.usageInvalid.add(1, { provider, model, field });
      const key = `${provider}\u0000${field}`;
      if (this.warnedInvalid.has(key)) continue;
      this.warnedInvalid.add(key);
      diag.warn(
        `tokenfuse: provider ${logValue(provider)} (model ${logValue(record.model)}) reported ` +
          `usage field '${field}' = ${logValue(value)}, which is not a token count (a whole ` +
          `number from 0 to ${MAX_USAGE_TOKENS}); the field counts as 0 and the call is ` +
          `recorded as estimated. Counted in tokenfuse_usage_invalid_total; logged once per ` +
          `provider and field.`,
      );
    }
  }
}

/** A label's value in a record, before folding. */
function rawValue(record: UsageRecord, label: string): string {
  if (label === 'provider') return record.provider;
  if (label === 'model') return record.model;
  return record.tags[label as keyof UsageRecord['tags']] ?? UNATTRIBUTED;
}
