import {
  type Attributes,
  diag,
  type Meter,
  metrics,
  type ObservableResult,
} from '@opentelemetry/api';
import { createCounters, createHistograms, type Histograms } from '../metrics/instruments.js';
import { LabelLimiter } from '../metrics/label-limiter.js';
import { Series } from '../metrics/series.js';
import type { PriceBook } from '../pricing/price-book.js';
import type { MetricLabel, TagName } from '../types.js';
import type { AccountingResult, UsageRecord } from './usage-record.js';

const PACKAGE = 'tokenfuse';
/** Label value of a tag no source provided. */
export const UNATTRIBUTED = 'unknown';

const TAG_LABELS: readonly TagName[] = ['department', 'project', 'environment', 'user', 'feature'];
const LABEL_ORDER: readonly MetricLabel[] = [
  'department',
  'project',
  'environment',
  'user',
  'feature',
  'provider',
  'model',
];

export interface AccountantOptions {
  prices: PriceBook;
  labels: readonly MetricLabel[];
  maxValuesPerLabel: number;
  /** Meter to record into; when omitted, the global meter provider's is used at first record. */
  meter?: Meter;
  /** Which figure counts when the provider reports its own cost (`pricing.prefer`). @default 'catalog' */
  prefer?: 'catalog' | 'provider';
}

/**
 * Turns usage records into money and metrics. The single place where a call is
 * priced and counted, so "exactly once" is a property of who calls `account()`,
 * not of how many places know how to count.
 */
export class Accountant {
  private histograms: Histograms | undefined;
  private readonly series = new Map<string, Series>();
  private readonly limiter: LabelLimiter;
  /** Allowlisted labels, in a fixed order. */
  private readonly activeLabels: readonly MetricLabel[];
  private readonly warnedUnpriced = new Set<string>();

  constructor(private readonly options: AccountantOptions) {
    const allow = new Set(options.labels);
    this.activeLabels = LABEL_ORDER.filter((label) => allow.has(label));
    this.limiter = new LabelLimiter(options.maxValuesPerLabel, (label, value) =>
      diag.warn(
        `tokenfuse: label '${label}' reached ${options.maxValuesPerLabel} distinct values; ` +
          `'${value}' and later new values are reported as 'other' (metrics.maxValuesPerLabel)`,
      ),
    );
    if (options.meter) this.setMeter(options.meter);
  }

  /** Points the accountant at another meter (when the SDK's meter provider is set or replaced). */
  setMeter(meter: Meter): void {
    this.histograms = createHistograms(meter);
    const each =
      (observe: (s: Series, r: ObservableResult) => void) => (result: ObservableResult) => {
        for (const s of this.series.values()) observe(s, result);
      };
    createCounters(meter, {
      tokens: each((s, r) => s.observeTokens(r)),
      cost: each((s, r) => s.observeCost(r)),
      requests: each((s, r) => s.observeRequests(r)),
      unpriced: each((s, r) => s.observeUnpriced(r)),
    });
  }

  get prices(): PriceBook {
    return this.options.prices;
  }

  /** Prices the record and records every metric for it. Never throws. */
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
    const usage = record.usage;
    if (usage === undefined) return { costUsd: 0, priced: true };
    // What the provider says it ran first: an alias (`gpt-4o`) or an Azure
    // deployment name is answered by a dated snapshot, and the snapshot is what is
    // billed. The requested name is the fallback (no response model, or one the
    // catalog does not know). Overrides match either name (see PriceBook.priceFirst).
    const model = record.responseModel || record.model;
    const names = model === record.model ? [model] : [model, record.model];
    const price = this.options.prices.priceFirst(record.provider, names, usage, record.startedAt);
    if (price.error !== undefined) {
      diag.error(`tokenfuse: pricing ${record.provider}/${model} failed`, price.error);
    }
    const reported = record.providerCostUsd;
    if (reported === undefined) {
      if (!price.priced) this.warnUnpriced(record);
      return { costUsd: price.usd, priced: price.priced };
    }
    // The provider's own figure: what the invoice says, when asked to prefer it;
    // the catalog's is kept beside it so the two can be compared.
    if (this.options.prefer === 'provider') {
      return { costUsd: reported, priced: true, catalogUsd: price.usd };
    }
    if (!price.priced) this.warnUnpriced(record);
    return { costUsd: price.usd, priced: price.priced, catalogUsd: price.usd };
  }

  private record(record: UsageRecord, result: AccountingResult): void {
    if (this.histograms === undefined) this.setMeter(metrics.getMeter(PACKAGE));
    const histograms = this.histograms!;
    const series = this.seriesOf(record);
    series.requests[record.outcome] = (series.requests[record.outcome] ?? 0) + 1;

    if (record.outcome !== 'blocked') {
      histograms.operationDuration.record(
        record.durationS,
        record.errorType === undefined
          ? series.semconv
          : { ...series.semconv, 'error.type': record.errorType },
      );
      if (record.timeToFirstChunkS !== undefined) {
        histograms.timeToFirstChunk.record(record.timeToFirstChunkS, series.semconv);
      }
    }

    const usage = record.usage;
    if (usage === undefined) return;
    series.tokens.input += usage.input;
    series.tokens.cache_read += usage.cacheRead;
    series.tokens.cache_write += usage.cacheWrite;
    series.tokens.output += usage.output;
    // An unpriced call still reports its (zero) cost series, so `sum by (department)`
    // over cost lists every department that used tokens.
    series.cost += result.costUsd;
    series.costSeen = true;
    if (!result.priced) series.unpriced += 1;

    // Semconv: input tokens include cached ones.
    histograms.tokenUsage.record(
      usage.input + usage.cacheRead + usage.cacheWrite,
      series.semconvInput,
    );
    if (record.operation !== 'embeddings') {
      histograms.tokenUsage.record(usage.output, series.semconvOutput);
    }
  }

  /** The running totals of the record's label set (labels allowlisted, values capped). */
  private seriesOf(record: UsageRecord): Series {
    const values = this.labelValues(record);
    const key = `${values.join('\u0001')}\u0001${record.operation}\u0001${record.providerName}\u0001${record.budget ?? ''}`;
    let series = this.series.get(key);
    if (series === undefined) {
      const labels: Attributes = {};
      const semconv: Attributes = {
        'gen_ai.operation.name': record.operation,
        'gen_ai.provider.name': record.providerName,
        'gen_ai.request.model': this.limiter.fold('model', record.model),
      };
      this.activeLabels.forEach((label, i) => {
        labels[label] = values[i];
        if ((TAG_LABELS as readonly string[]).includes(label)) semconv[label] = values[i];
      });
      // Blocked calls also say which budget (or policy) stopped them.
      if (record.budget !== undefined) labels.budget = record.budget;
      series = new Series(labels, semconv);
      this.series.set(key, series);
    }
    return series;
  }

  private labelValues(record: UsageRecord): string[] {
    const values: string[] = [];
    for (const label of this.activeLabels) {
      const raw =
        label === 'provider'
          ? record.provider
          : label === 'model'
            ? record.model
            : (record.tags[label] ?? UNATTRIBUTED);
      values.push(this.limiter.fold(label, raw));
    }
    return values;
  }

  private warnUnpriced(record: UsageRecord): void {
    const key = `${record.provider}\u0000${record.model}`;
    if (this.warnedUnpriced.has(key)) return;
    this.warnedUnpriced.add(key);
    diag.warn(
      `tokenfuse: no price known for model '${record.model}' at provider ` +
        `'${record.provider}'; its calls are counted in tokens and in tokenfuse_unpriced_total at $0. ` +
        `Add a pricing.overrides entry to price it.`,
    );
  }
}
