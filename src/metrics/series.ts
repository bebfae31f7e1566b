import type { Attributes } from '@opentelemetry/api';
import { OUTCOMES, TOKEN_TYPES, type TokenType } from './contract.js';
import type { HistogramPoint } from './metrics-engine.js';

// Contract values; re-exported for existing importers.
export { OUTCOMES, TOKEN_TYPES, type TokenType };

/**
 * An attribute set a data point is exported with, and the bytes of its Prometheus label
 * text once the endpoint has written them (prometheus-text.ts): the attribute objects
 * are built once and never changed, so their text is made once, on the first scrape,
 * and kept where the next scrape finds it without a lookup.
 */
export interface ExportedAttributes {
  readonly attributes: Attributes;
  labelBytes: Uint8Array | undefined;
}

function exported(attributes: Attributes): ExportedAttributes {
  return { attributes, labelBytes: undefined };
}

/**
 * Running totals of one EXPORTED label set, with the attribute objects of its data
 * points built once. The hot path only adds numbers to these fields.
 *
 * There is exactly one of these per attribute set the counters export, so totals
 * kept apart by something that is not a label (the operation, a provider left out of
 * `metrics.labels`, two values folded into `other`) are never exported twice.
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

  /** The data point of `labels` alone (cost, unpriced requests). */
  readonly exported: ExportedAttributes;
  private readonly tokenPoints: Record<TokenType, ExportedAttributes>;
  private readonly outcomePoints: Record<string, ExportedAttributes>;

  constructor(readonly labels: Attributes) {
    this.exported = exported(labels);
    this.tokenPoints = {} as Record<TokenType, ExportedAttributes>;
    for (const type of TOKEN_TYPES) this.tokenPoints[type] = exported({ ...labels, type });
    this.outcomePoints = {};
    for (const outcome of OUTCOMES) this.outcomePoints[outcome] = exported({ ...labels, outcome });
  }

  /** This label set's data point of token `type`. */
  tokenPoint(type: TokenType): ExportedAttributes {
    return this.tokenPoints[type];
  }

  /** This label set's data point of `outcome`. */
  outcomePoint(outcome: string): ExportedAttributes {
    return this.outcomePoints[outcome]!;
  }

  /** The attribute object of this label set's data point of token `type`. */
  tokenAttributes(type: TokenType): Attributes {
    return this.tokenPoints[type].attributes;
  }

  /** The attribute object of this label set's data point of `outcome`. */
  outcomeAttributes(outcome: string): Attributes {
    return this.outcomePoints[outcome]!.attributes;
  }
}

/**
 * What one record key (labels plus the histogram-only semconv fields: operation,
 * provider name) resolves to: the shared totals of its exported label set, and the
 * semconv attributes of its histogram data points, and those points once bound (on
 * first use, so an instrument shows only what was recorded; keys that share an
 * attribute set share its point).
 */
export interface RecordSeries {
  totals: Series;
  semconv: Attributes;
  semconvInput: Attributes;
  semconvOutput: Attributes;
  duration?: HistogramPoint;
  timeToFirstChunk?: HistogramPoint;
  tokensInput?: HistogramPoint;
  tokensOutput?: HistogramPoint;
  /** Duration points of failed calls, by (folded) error type. */
  errorDurations?: Map<string, HistogramPoint>;
}
