import { diag } from '@opentelemetry/api';
import { internalError } from '../internal-errors.js';
import { logValue } from '../log-text.js';
import type { PricingIssues } from '../metrics/pricing-issues.js';
import type { PriceBook } from '../pricing/price-book.js';
import { DEFAULT_SERVICE_TIERS, tierFactor } from '../pricing/service-tiers.js';
import type { AccountingResult, UsageRecord } from './usage-record.js';

/** Distinct (provider, model) pairs warned about as unpriced, at most. */
const MAX_UNPRICED_WARNINGS = 1000;

/** Options of {@link CallPricer}: the pricing part of the accountant's options. */
export interface CallPricerOptions {
  prices: PriceBook;
  /** Price factor per service tier (`pricing.serviceTiers`). @default DEFAULT_SERVICE_TIERS */
  serviceTiers?: Readonly<Record<string, number>>;
  /** Where fallbacks (a tier without a factor) are counted. */
  issues?: PricingIssues;
  /** Which figure counts when the provider reports its own cost (`pricing.prefer`). @default 'catalog' */
  prefer?: 'catalog' | 'provider';
}

/**
 * The money half of accounting: which model name is priced, at which service
 * tier, and whether the provider's own figure or the catalog's counts. Kept apart
 * from the metrics half because it needs no meter and no label sets, and a span
 * may want a price before its call is recorded.
 */
export class CallPricer {
  private readonly warnedUnpriced = new Set<string>();
  private readonly warnedTiers = new Set<string>();

  constructor(private readonly options: CallPricerOptions) {}

  /** Prices a record; logs (once per pair or tier) what could not be priced as asked. */
  price(record: UsageRecord): AccountingResult {
    const usage = record.usage;
    if (usage === undefined) return { costUsd: 0, priced: true };
    // What the provider says it ran first: an alias (`gpt-4o`) or an Azure
    // deployment name is answered by a dated snapshot, and the snapshot is what is
    // billed. The requested name is the fallback (no response model, or one the
    // catalog does not know). Overrides match either name (see PriceBook.priceFirst).
    const model = record.responseModel || record.model;
    const { prices } = this.options;
    // One name is `priceFirst` of one name, with no array made per call.
    const price =
      model === record.model
        ? prices.price(record.provider, model, usage, record.startedAt)
        : prices.priceFirst(record.provider, [model, record.model], usage, record.startedAt);
    if (price.error !== undefined) {
      internalError(
        'accounting',
        'pricing a call failed; it is counted as unpriced',
        price.error,
        `${logValue(record.provider)}/${logValue(model)}`,
      );
    }
    // The catalog's figure at the call's service tier (the Batch API is the tier `batch`).
    const catalogUsd = price.usd * this.tierFactor(record.serviceTier);
    const reported = record.providerCostUsd;
    if (reported === undefined) {
      if (!price.priced) this.warnUnpriced(record);
      return { costUsd: catalogUsd, priced: price.priced };
    }
    // The provider's own figure: what the invoice says, when asked to prefer it;
    // the catalog's is kept beside it so the two can be compared.
    if (this.options.prefer === 'provider') {
      return { costUsd: reported, priced: true, catalogUsd, fromProvider: true };
    }
    if (!price.priced) this.warnUnpriced(record);
    return { costUsd: catalogUsd, priced: price.priced, catalogUsd };
  }

  /** The one place a service tier (or the Batch API) changes a price. */
  private tierFactor(tier: string | undefined): number {
    const factor = tierFactor(this.options.serviceTiers ?? DEFAULT_SERVICE_TIERS, tier);
    if (factor !== undefined) return factor;
    this.options.issues?.note('tier_unknown');
    if (tier !== undefined && !this.warnedTiers.has(tier) && this.warnedTiers.size < 100) {
      this.warnedTiers.add(tier);
      diag.warn(
        `tokenfuse: calls on service tier ${logValue(tier)} are priced at the standard rate: ` +
          `the catalog has no ${logValue(tier)} prices and pricing.serviceTiers gives no factor for it`,
      );
    }
    return 1;
  }

  private warnUnpriced(record: UsageRecord): void {
    const provider = logValue(record.provider);
    const model = logValue(record.model);
    const key = `${provider}\u0000${model}`;
    // Bounded: model names can come from anyone's spans; tokenfuse_unpriced_total
    // still counts every unpriced call after the warnings stop.
    if (this.warnedUnpriced.has(key) || this.warnedUnpriced.size >= MAX_UNPRICED_WARNINGS) return;
    this.warnedUnpriced.add(key);
    diag.warn(
      `tokenfuse: no price known for model ${model} at provider ` +
        `${provider}; its calls are counted in tokens and in tokenfuse_unpriced_total at $0. ` +
        `Add a pricing.overrides entry to price it.`,
    );
  }
}
