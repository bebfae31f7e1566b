/** The `pricing` and `providers` sections: price overrides, tiers, the catalog, relays. */
import { z } from 'zod';
import { configObject, duration, expecting, isPriceCatalog, text } from '../fields.js';
import { EXPECTED, expectedMessage } from '../messages.js';

/** Price fields of a price override; at least one must be given. */
export const PRICE_FIELDS = [
  'input_mtok',
  'output_mtok',
  'cache_read_mtok',
  'cache_write_mtok',
] as const;

/** Provider ids are used verbatim as a metric label value, hence the narrow alphabet. */
export const PROVIDER_ID_PATTERN = /^[a-z0-9_.-]+$/;

const price = () => z.number(expecting(EXPECTED.price)).min(0, expecting(EXPECTED.price));

const priceOverrideSchema = configObject({
  model: text(),
  provider: text().optional(),
  input_mtok: price().optional(),
  output_mtok: price().optional(),
  cache_read_mtok: price().optional(),
  cache_write_mtok: price().optional(),
}).refine((override) => PRICE_FIELDS.some((field) => override[field] !== undefined), {
  error: `no price given; set at least one of ${PRICE_FIELDS.join(', ')}`,
  // Run even when another field of the override is invalid, so all problems are
  // listed at once; but not when an unknown key is present, which is most likely
  // a misspelt price field already reported with a suggestion.
  when: (payload) =>
    typeof payload.value === 'object' &&
    payload.value !== null &&
    !payload.issues.some(
      // this object's own issues have no path yet (nested ones are prefixed)
      (issue) => issue.code === 'unrecognized_keys' && !issue.path?.length,
    ),
});

/** `pricing`. */
export const pricingSchema = configObject({
  overrides: z.array(priceOverrideSchema, expecting(EXPECTED.overrides)).optional(),
  serviceTiers: z
    .record(
      z.string(),
      z
        .number(expecting(EXPECTED.tierFactor))
        .positive(expecting(EXPECTED.tierFactor))
        .finite(expecting(EXPECTED.tierFactor)),
      expecting(EXPECTED.serviceTiers),
    )
    .superRefine((tiers, ctx) => {
      // Checked here rather than as the record's key schema, so the message names the key.
      for (const name of Object.keys(tiers)) {
        if (!/^[a-z0-9_-]+$/.test(name))
          ctx.addIssue({
            code: 'custom',
            path: [name],
            message: expectedMessage(EXPECTED.tierName, name),
          });
      }
    })
    .optional(),
  catalog: z
    .string(expecting(EXPECTED.priceCatalog))
    .refine(isPriceCatalog, {
      error: (issue) =>
        typeof issue.input === 'string' && issue.input.includes('@')
          ? `expected ${EXPECTED.priceCatalog}, got a string that is not one`
          : expectedMessage(EXPECTED.priceCatalog, issue.input),
    })
    .optional(),
  prefer: z.enum(['catalog', 'provider'], expecting(EXPECTED.pricePrefer)).optional(),
  refresh: duration().optional(),
});

/** One entry of `providers`. */
export const providerSchema = configObject({
  id: z
    .string(expecting(EXPECTED.providerId))
    .regex(PROVIDER_ID_PATTERN, expecting(EXPECTED.providerId)),
  hosts: z.array(text(), expecting(EXPECTED.hosts)).min(1, expecting(EXPECTED.hosts)),
  pricesFrom: text().optional(),
});
