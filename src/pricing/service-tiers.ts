/**
 * Price factors of service tiers. OpenAI runs a call on the tier the request
 * asks for (`service_tier`: `flex`, `priority`, …) and says in the response which
 * one it actually ran on; the Batch API runs every line at its own rate. The
 * catalog (`@pydantic/genai-prices` 0.1.x) prices the standard tier only: it has
 * no tier variants and no batch prices (its comments mention them in words), so a
 * tier is priced as the standard price times a configured factor.
 */

/**
 * Factors used when `pricing.serviceTiers` does not say otherwise. `flex` and
 * `batch` are half price for every model OpenAI offers them for. `priority` has
 * no default: its markup differs per model (1.7× to 2×), so a guess would be a
 * wrong number presented as a right one; configure it.
 */
export const DEFAULT_SERVICE_TIERS: Readonly<Record<string, number>> = Object.freeze({
  flex: 0.5,
  batch: 0.5,
});

/** The tier that Batch API lines are priced at (`pricing.serviceTiers.batch`). */
export const BATCH_TIER = 'batch';

/** Tiers that mean "the standard price" unless configured otherwise. */
const STANDARD_TIERS = new Set(['default', 'auto', 'standard']);

/**
 * The factor of `tier`, or undefined when nothing says what it costs.
 * No tier (the API did not say) is the standard price.
 */
export function tierFactor(
  tiers: Readonly<Record<string, number>>,
  tier: string | undefined,
): number | undefined {
  if (tier === undefined) return 1;
  const factor = Object.hasOwn(tiers, tier) ? tiers[tier] : undefined;
  if (factor !== undefined) return factor;
  return STANDARD_TIERS.has(tier) ? 1 : undefined;
}
