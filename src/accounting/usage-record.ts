import type { Outcome } from '../metrics/contract.js';
import type { NormalizedUsage } from '../pricing/usage.js';
import type { Tags } from '../types.js';

/** How a call ended (the metrics contract's `outcome` values). */
export type { Outcome };

/**
 * One LLM call, as accounted: what the instrumentation (or the span processor, for
 * other instrumentations' GenAI spans) hands to the accountant exactly once per call.
 */
export interface UsageRecord {
  /** GenAI operation: `chat`, `embeddings`, `responses`, … */
  operation: string;
  /** Our provider id (`openai`, `azure`, a declared relay, `openai_compatible`). */
  provider: string;
  /** `gen_ai.provider.name` value. */
  providerName: string;
  /** Model the call asked for. */
  model: string;
  /** Model the provider says answered (a dated snapshot, often). */
  responseModel?: string | undefined;
  tags: Tags;
  /** Token usage; undefined when the call failed before any usage was known. */
  usage: NormalizedUsage | undefined;
  /** True when usage was counted by tokenfuse's tokenizer, not reported by the provider. */
  estimated: boolean;
  outcome: Outcome;
  /** `error.type` of a failed call. */
  errorType?: string | undefined;
  /** Seconds from call to completion (end of stream for streams). */
  durationS: number;
  /** Seconds to the first streamed chunk, for streams. */
  timeToFirstChunkS?: number | undefined;
  /** Budget or policy that blocked the call (outcome `blocked`). */
  budget?: string | undefined;
  /** When the call started, a Date or epoch milliseconds (prices can depend on it). */
  startedAt?: Date | number | undefined;
  /**
   * Service tier the call ran on (the response's `service_tier`, else the
   * request's); `batch` for Batch API results. Priced by `pricing.serviceTiers`.
   */
  serviceTier?: string | undefined;
  /** Batch the result belongs to: a Batch API line, which has no duration of its own. */
  batchId?: string | undefined;
  /** The provider's own cost figure for the call (USD), when the response carried one. */
  providerCostUsd?: number | undefined;
}

/** What accounting a record produced. */
export interface AccountingResult {
  /** The figure metrics and budgets use (see `pricing.prefer`). */
  costUsd: number;
  priced: boolean;
  /** The catalog's (or an override's) figure, when the record carried a provider figure too. */
  catalogUsd?: number | undefined;
  /** `costUsd` is the provider's own figure (`pricing.prefer: provider`), not computed here. */
  fromProvider?: boolean;
}
