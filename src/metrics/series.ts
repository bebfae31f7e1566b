import type { Attributes, ObservableResult } from '@opentelemetry/api';
import { OUTCOMES, TOKEN_TYPES, type TokenType } from './contract.js';

// Contract values; re-exported for existing importers.
export { OUTCOMES, TOKEN_TYPES, type TokenType };

/**
 * Running totals of one EXPORTED label set, with the attribute objects of its data
 * points built once. The hot path only adds numbers to these fields.
 *
 * There must be exactly one of these per attribute set the counters export: an
 * observable callback that reports the same attribute set twice does not add the two
 * observations (the SDK keeps the last one), so totals kept apart by something that is
 * not a label (the operation, a provider left out of `metrics.labels`, two values
 * folded into `other`) would undercount.
 */
export class Series {
  readonly tokens: Record<TokenType, number> = {
    input: 0,
    cache_read: 0,
    cache_write: 0,
    output: 0,
    input_audio: 0,
    output_audio: 0,
  };
  readonly requests: Record<string, number> = { ok: 0, error: 0, blocked: 0, observed: 0 };
  cost = 0;
  unpriced = 0;
  /** Whether any call with usage was recorded (blocked-only series report no cost). */
  costSeen = false;

  private readonly tokenAttrs: Record<TokenType, Attributes>;
  private readonly outcomeAttrs: Record<string, Attributes>;

  constructor(readonly labels: Attributes) {
    this.tokenAttrs = {} as Record<TokenType, Attributes>;
    for (const type of TOKEN_TYPES) this.tokenAttrs[type] = { ...labels, type };
    this.outcomeAttrs = {};
    for (const outcome of OUTCOMES) this.outcomeAttrs[outcome] = { ...labels, outcome };
  }

  observeTokens(result: ObservableResult): void {
    for (const type of TOKEN_TYPES) {
      const value = this.tokens[type];
      if (value > 0) result.observe(value, this.tokenAttrs[type]);
    }
  }

  observeRequests(result: ObservableResult): void {
    for (const outcome of OUTCOMES) {
      const value = this.requests[outcome] ?? 0;
      if (value > 0) result.observe(value, this.outcomeAttrs[outcome]);
    }
  }

  observeCost(result: ObservableResult): void {
    if (this.costSeen) result.observe(this.cost, this.labels);
  }

  observeUnpriced(result: ObservableResult): void {
    if (this.unpriced > 0) result.observe(this.unpriced, this.labels);
  }
}

/**
 * What one record key (labels plus the histogram-only semconv fields: operation,
 * provider name) resolves to: the shared totals of its exported label set, and the
 * semconv attributes of its histogram data points (synchronous instruments, which the
 * SDK itself sums per attribute set).
 */
export interface RecordSeries {
  totals: Series;
  semconv: Attributes;
  semconvInput: Attributes;
  semconvOutput: Attributes;
}
