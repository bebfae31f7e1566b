import { type Attributes, diag, type Meter, metrics } from '@opentelemetry/api';
import { createInstruments, type Instruments } from '../metrics/instruments.js';
import { LabelLimiter } from '../metrics/label-limiter.js';
import type { PriceBook } from '../pricing/price-book.js';
import type { MetricLabel, TagName } from '../types.js';
import type { AccountingResult, UsageRecord } from './usage-record.js';

const PACKAGE = 'tokenfuse';
/** Label value of a tag no source provided. */
export const UNATTRIBUTED = 'unknown';

const TAG_LABELS: readonly TagName[] = ['department', 'project', 'environment', 'user', 'feature'];

export interface AccountantOptions {
  prices: PriceBook;
  labels: readonly MetricLabel[];
  maxValuesPerLabel: number;
  /** Meter to record into; when omitted, the global meter provider's is used at first record. */
  meter?: Meter;
}

/**
 * Turns usage records into money and metrics. The single place where a call is
 * priced and counted, so "exactly once" is a property of who calls `account()`,
 * not of how many places know how to count.
 */
export class Accountant {
  private instruments: Instruments | undefined;
  private readonly limiter: LabelLimiter;
  private readonly labelSet: ReadonlySet<MetricLabel>;
  private readonly warnedUnpriced = new Set<string>();

  constructor(private readonly options: AccountantOptions) {
    this.labelSet = new Set(options.labels);
    this.limiter = new LabelLimiter(options.maxValuesPerLabel, (label, value) =>
      diag.warn(
        `tokenfuse: label '${label}' reached ${options.maxValuesPerLabel} distinct values; ` +
          `'${value}' and later new values are reported as 'other' (metrics.maxValuesPerLabel)`,
      ),
    );
    if (options.meter) this.instruments = createInstruments(options.meter);
  }

  /** Points the accountant at another meter (when the SDK's meter provider is set or replaced). */
  setMeter(meter: Meter): void {
    this.instruments = createInstruments(meter);
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
    const model = record.responseModel ?? record.model;
    let price = this.options.prices.price(record.provider, model, usage, record.startedAt);
    if (!price.priced && record.responseModel && record.responseModel !== record.model) {
      price = this.options.prices.price(record.provider, record.model, usage, record.startedAt);
    }
    if (price.error !== undefined) {
      diag.error(`tokenfuse: pricing ${record.provider}/${model} failed`, price.error);
    }
    if (!price.priced) this.warnUnpriced(record);
    return { costUsd: price.usd, priced: price.priced };
  }

  private record(record: UsageRecord, result: AccountingResult): void {
    this.instruments ??= createInstruments(metrics.getMeter(PACKAGE));
    const inst = this.instruments;
    const labels = this.labels(record);
    inst.requests.add(1, { ...labels, outcome: record.outcome });

    const semconv = this.semconvAttributes(record, labels);
    if (record.outcome !== 'blocked') {
      inst.operationDuration.record(
        record.durationS,
        record.errorType === undefined ? semconv : { ...semconv, 'error.type': record.errorType },
      );
      if (record.timeToFirstChunkS !== undefined) {
        inst.timeToFirstChunk.record(record.timeToFirstChunkS, semconv);
      }
    }

    const usage = record.usage;
    if (usage === undefined) return;
    if (usage.input > 0) inst.tokens.add(usage.input, { ...labels, type: 'input' });
    if (usage.cacheRead > 0) inst.tokens.add(usage.cacheRead, { ...labels, type: 'cache_read' });
    if (usage.cacheWrite > 0) inst.tokens.add(usage.cacheWrite, { ...labels, type: 'cache_write' });
    if (usage.output > 0) inst.tokens.add(usage.output, { ...labels, type: 'output' });
    if (result.costUsd > 0) inst.cost.add(result.costUsd, labels);
    if (!result.priced) inst.unpriced.add(1, labels);

    // Semconv: input tokens include cached ones.
    const totalInput = usage.input + usage.cacheRead + usage.cacheWrite;
    inst.tokenUsage.record(totalInput, { ...semconv, 'gen_ai.token.type': 'input' });
    if (record.operation !== 'embeddings') {
      inst.tokenUsage.record(usage.output, { ...semconv, 'gen_ai.token.type': 'output' });
    }
  }

  /** The allowlisted labels of a record, each value capped. */
  labels(record: UsageRecord): Attributes {
    const out: Attributes = {};
    for (const tag of TAG_LABELS) {
      if (this.labelSet.has(tag))
        out[tag] = this.limiter.fold(tag, record.tags[tag] ?? UNATTRIBUTED);
    }
    if (this.labelSet.has('provider'))
      out.provider = this.limiter.fold('provider', record.provider);
    if (this.labelSet.has('model')) out.model = this.limiter.fold('model', record.model);
    return out;
  }

  private semconvAttributes(record: UsageRecord, labels: Attributes): Attributes {
    const attrs: Attributes = {
      'gen_ai.operation.name': record.operation,
      'gen_ai.provider.name': record.providerName,
      'gen_ai.request.model': labels.model ?? this.limiter.fold('model', record.model),
    };
    for (const tag of TAG_LABELS) {
      if (labels[tag] !== undefined) attrs[tag] = labels[tag];
    }
    return attrs;
  }

  private warnUnpriced(record: UsageRecord): void {
    const key = `${record.provider}\u0000${record.model}`;
    if (this.warnedUnpriced.has(key)) return;
    this.warnedUnpriced.add(key);
    diag.warn(
      `tokenfuse: no price known for model '${record.responseModel ?? record.model}' at provider ` +
        `'${record.provider}'; its calls are counted in tokens and in tokenfuse_unpriced_total at $0. ` +
        `Add a pricing.overrides entry to price it.`,
    );
  }
}
