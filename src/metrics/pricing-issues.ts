import type { Meter, ObservableResult } from '@opentelemetry/api';
import { PRICING_ISSUES_METRIC, type PricingIssue } from './contract.js';

export type { PricingIssue };

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
      .createObservableCounter(PRICING_ISSUES_METRIC.otel, {
        description: PRICING_ISSUES_METRIC.help,
      })
      .addCallback((result: ObservableResult) => {
        for (const [reason, n] of this.counts) result.observe(n, { reason });
      });
  }
}
