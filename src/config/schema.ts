/**
 * Validation of {@link TokenfuseOptions}: a zod schema whose messages name the
 * expected and the actual value, so a config error can be fixed from the message
 * alone, and the conversion of zod's issues into tokenfuse's. Each section's schema
 * lives in src/config/sections/, built from the fields of `fields.ts`.
 */
import { z } from 'zod';
import { describeSecretValue, isSecretPath } from '../errors/redact.js';
import type { TokenfuseOptions } from '../types.js';
import { boolean, configObject, expecting, text } from './fields.js';
import { describeValue, EXPECTED } from './messages.js';
import { adminSchema } from './sections/admin.js';
import { apiKeysSchema } from './sections/api-keys.js';
import { attributionSchema } from './sections/attribution.js';
import { budgetsSchema, policiesSchema } from './sections/budgets.js';
import { ledgerSchema } from './sections/ledger.js';
import { metricsSchema } from './sections/metrics.js';
import { pricingSchema, providerSchema } from './sections/pricing.js';
import { webhookDeliverySchema, webhooksSchema } from './sections/webhooks.js';

export { configObject };

const contentSchema = configObject({
  capture: boolean().optional(),
});

/**
 * Shape of the top-level object. Exported so that later sections can be added
 * without restating the existing ones:
 * `configObject({ ...tokenfuseOptionsShape, budgets: budgetsSchema.optional() })`.
 */
export const tokenfuseOptionsShape = {
  enabled: boolean().optional(),
  serviceName: text().optional(),
  attribution: attributionSchema.optional(),
  metrics: metricsSchema.optional(),
  pricing: pricingSchema.optional(),
  providers: z.array(providerSchema, expecting(EXPECTED.providers)).optional(),
  content: contentSchema.optional(),
  budgets: budgetsSchema.optional(),
  policies: policiesSchema.optional(),
  webhooks: webhooksSchema.optional(),
  webhookDelivery: webhookDeliverySchema.optional(),
  ledger: ledgerSchema.optional(),
  apiKeys: apiKeysSchema.optional(),
  admin: adminSchema.optional(),
};

/** Schema of {@link TokenfuseOptions}: strict at every level, every default left to the resolver. */
export const tokenfuseOptionsSchema = configObject(
  tokenfuseOptionsShape,
) satisfies z.ZodType<TokenfuseOptions>;

// `satisfies` above only checks that what the schema accepts is valid options; this
// also fails when TokenfuseOptions gains a field the schema does not know (or the
// reverse), so the two cannot drift apart.
type Equal<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Expand<T> = T extends readonly (infer E)[]
  ? Expand<E>[]
  : T extends object
    ? { [K in keyof T]: Expand<T[K]> }
    : T;
const schemaMatchesOptions: Equal<
  Expand<z.output<typeof tokenfuseOptionsSchema>>,
  Expand<TokenfuseOptions>
> = true;
void schemaMatchesOptions;

/** One validation problem, with the path as segments (for locating it in a file). */
export interface OptionsIssue {
  /** Path of the field, e.g. `['pricing', 'overrides', 1, 'input_mtok']`; `[]` for the top level. */
  path: (string | number)[];
  message: string;
  /**
   * Path of the node that best locates the problem in a file, when it differs from
   * `path`: the first unknown key of an object, rather than the object.
   */
  locate?: (string | number)[];
}

/** Result of {@link validateOptions}. */
export type OptionsValidation =
  | { success: true; data: TokenfuseOptions }
  | { success: false; issues: OptionsIssue[] };

/**
 * Validates options against {@link tokenfuseOptionsSchema}, returning every
 * problem rather than the first.
 */
export function validateOptions(input: unknown): OptionsValidation {
  const result = tokenfuseOptionsSchema.safeParse(input, { reportInput: true });
  if (result.success) return { success: true, data: result.data };
  return {
    success: false,
    issues: result.error.issues.map((issue) => {
      const path = issue.path.map((segment) =>
        typeof segment === 'number' ? segment : String(segment),
      );
      const converted: OptionsIssue = { path, message: hideSecretValue(issue, path) };
      if (issue.code === 'unrecognized_keys' && issue.keys[0] !== undefined) {
        converted.locate = [...path, issue.keys[0]];
      }
      return converted;
    }),
  };
}

/**
 * The issue's message with the value it echoes replaced by its shape when the field
 * may hold a secret (a password, a URL with a token): any field, present or added
 * later, named like one (see isSecretPath).
 */
function hideSecretValue(issue: z.core.$ZodIssue, path: readonly (string | number)[]): string {
  const input = (issue as { input?: unknown }).input;
  if (input === undefined || !isSecretPath(path)) return issue.message;
  const hidden = describeSecretValue(input);
  return hidden === undefined ? issue.message : issue.message.replace(describeValue(input), hidden);
}
