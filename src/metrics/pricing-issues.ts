import type { Meter, ObservableResult } from '@opentelemetry/api';

/** Why a figure was priced or attributed on a fallback; the `reason` label. */
export type PricingIssue =
  /** A call ran on a service tier with no configured factor: priced at the standard rate. */
  | 'tier_unknown'
  /** A batch's metadata had no room for tokenfuse's attribution keys. */
  | 'batch_metadata_full'
  /** Batch results were read but their batch (and so its attribution) was not found. */
  | 'batch_not_found'
  /** Batch results could not be read (not JSONL, or the body failed). */
  | 'batch_output_unreadable'
  /** The shared ledger could not say whether another process already counted a result file. */
  | 'batch_once_unavailable';

/** `tokenfuse.pricing.issues`: every fallback that makes a dollar figure less than exact is counted. */
export const PRICING_ISSUES_METRIC = 'tokenfuse.pricing.issues';

/**
 * Counts pricing and attribution fallbacks by reason (`tokenfuse_pricing_issues_total`),
 * so what the log says once stays visible as a number.
 */
export class PricingIssues {
  private readonly counts = new Map<PricingIssue, number>();

  note(reason: PricingIssue, n = 1): void {
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + n);
  }

  /** How many of `reason` have been counted. */
  count(reason: PricingIssue): number {
    return this.counts.get(reason) ?? 0;
  }

  setMeter(meter: Meter): void {
    meter
      .createObservableCounter(PRICING_ISSUES_METRIC, {
        description:
          'Calls or batch results priced or attributed on a fallback (see the reason label)',
      })
      .addCallback((result: ObservableResult) => {
        for (const [reason, n] of this.counts) result.observe(n, { reason });
      });
  }
}
