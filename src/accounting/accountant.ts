import { diag, type Meter, metrics } from '@opentelemetry/api';
import { internalError } from '../internal-errors.js';
import { logValue } from '../log-text.js';
import { createHealthCounters, type HealthCounters } from '../metrics/instruments.js';
import { type HistogramPoint, MetricsEngine } from '../metrics/metrics-engine.js';
import { LatestGenAiMetrics } from '../metrics/semconv-latest.js';
import type { RecordSeries } from '../metrics/series.js';
import { onEstimateBounded } from '../pricing/estimate-bounds.js';
import type { PriceBook } from '../pricing/price-book.js';
import { inputTokens, MAX_USAGE_TOKENS, outputTokens } from '../pricing/usage.js';
import { CallPricer, type CallPricerOptions } from './call-pricer.js';
import { SeriesIndex, type SeriesIndexOptions, UNATTRIBUTED } from './series-index.js';
import type { AccountingResult, UsageRecord } from './usage-record.js';

const PACKAGE = 'tokenfuse';

export { UNATTRIBUTED };

/** Attributes of `tokenfuse_series_dropped_total`, by reason. */
const DROPPED = {
  valueTooLong: { reason: 'value_too_long' },
  maxValuesPerLabel: { reason: 'max_values_per_label' },
  maxSeries: { reason: 'max_series' },
} as const;

export interface AccountantOptions extends CallPricerOptions, SeriesIndexOptions {
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
  /** `provider\0field` pairs already logged as sending invalid usage. */
  private readonly warnedInvalid = new Set<string>();
  /** Which series a record's counts go to. */
  private readonly index: SeriesIndex;
  private readonly pricer: CallPricer;

  constructor(private readonly options: AccountantOptions) {
    this.pricer = new CallPricer(options);
    this.engine = options.engine ?? new MetricsEngine();
    this.index = new SeriesIndex(this.engine, options);
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
    // No placeholder result per call: one is made only when pricing itself failed.
    let result: AccountingResult | undefined;
    try {
      result = this.price(record);
      this.record(record, result);
    } catch (err) {
      internalError('accounting', 'accounting failed; the call itself is unaffected', err);
    }
    return result ?? { costUsd: 0, priced: false };
  }

  /** Prices a record without recording it (for spans that need the cost before they end). */
  price(record: UsageRecord): AccountingResult {
    return this.pricer.price(record);
  }

  private record(record: UsageRecord, result: AccountingResult): void {
    if (this.health === undefined) this.setMeter(metrics.getMeter(PACKAGE));
    const folded = this.index.of(record);
    const series = folded.series;
    let { truncated, folded: foldedValue } = folded;
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
        const note = { truncated: false, folded: false };
        errorType = this.index.foldAttribute('error.type', record.errorType, note);
        truncated ||= note.truncated;
        foldedValue ||= note.folded;
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

    if (truncated || foldedValue || folded.overflow)
      this.countDropped(truncated, foldedValue, folded.overflow);

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

  private countDropped(truncated: boolean, folded: boolean, overflow: boolean): void {
    const counter = this.health!.seriesDropped;
    if (truncated) counter.add(1, DROPPED.valueTooLong);
    if (folded) counter.add(1, DROPPED.maxValuesPerLabel);
    if (overflow) counter.add(1, DROPPED.maxSeries);
  }

  /** Counts and (once per provider and field) logs usage fields that were rejected. */
  private countInvalid(record: UsageRecord, series: RecordSeries): void {
    const labels = series.totals.labels;
    const provider = String(labels.provider ?? this.index.foldLabel('provider', record.provider));
    const model = String(labels.model ?? this.index.foldLabel('model', record.model));
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
