/**
 * Validation of {@link TokenfuseOptions}: a zod schema whose messages name the
 * expected and the actual value, so a config error can be fixed from the message
 * alone, and the conversion of zod's issues into tokenfuse's.
 */
import { z } from 'zod';
import { parseDuration } from '../budgets/duration.js';
import { describeSecretValue, isSecretPath } from '../errors/redact.js';
import { METRIC_LABELS, TAG_NAMES } from '../metrics/contract.js';
import type { TagName, TokenfuseOptions } from '../types.js';

// The tag and label names are the metrics contract's; re-exported for the config modules.
export { METRIC_LABELS, TAG_NAMES };

/** Price fields of a price override; at least one must be given. */
export const PRICE_FIELDS = [
  'input_mtok',
  'output_mtok',
  'cache_read_mtok',
  'cache_write_mtok',
] as const;

/** Provider ids are used verbatim as a metric label value, hence the narrow alphabet. */
export const PROVIDER_ID_PATTERN = /^[a-z0-9_.-]+$/;

/**
 * What each field expects, in words. Shared with the environment-variable parser
 * so that a bad value reads the same whether it came from a file or from the env.
 */
export const EXPECTED = {
  object: 'an object',
  boolean: 'true or false',
  text: 'a non-empty string',
  exporter: "'prometheus' or 'none'",
  port: 'an integer 1..65535',
  endpoint: "a path starting with '/'",
  label: `one of ${METRIC_LABELS.map((l) => `'${l}'`).join(', ')}`,
  labels: 'an array of labels',
  positiveInteger: 'a positive integer',
  labelValueLength: 'an integer >= 16',
  overrides: 'an array of price overrides',
  price: 'a number >= 0 (USD per million tokens)',
  providers: 'an array of provider declarations',
  providerId: "a lowercase id of a-z, 0-9, '_', '.', '-'",
  hosts: 'a non-empty array of hostnames',
  budgets: 'an array of budgets',
  budgetName: "a name of letters, digits, '_', '.', ':', '-'",
  window: "'minute', 'hour', 'day', 'month' or { rolling: '<duration>' }",
  duration: "a duration such as '90s', '5m', '1h', '7d'",
  limit: 'a number > 0',
  thresholds: 'an array of fractions in (0, 1]',
  action: "'block' or 'monitor'",
  timeZone: "an IANA time zone such as 'UTC' or 'Europe/Berlin'",
  policies: 'an array of model policies',
  globs: 'an array of model names or globs',
  webhooks: 'an array of webhooks',
  url: 'an http(s) URL',
  webhookFormat: "'json', 'slack' or 'discord'",
  ledgerStore: "'memory' or 'redis'",
  redisUrl: 'a redis:// or rediss:// URL',
  onFailure: "'open' or 'closed'",
  tls: 'true, false or an object of TLS options',
  prometheusUrl: 'an http:// or https:// URL of the Prometheus API',
  nonNegativeInteger: 'an integer >= 0',
  serviceTiers: 'an object of tier name to price factor',
  tierName: "a lowercase tier name of a-z, 0-9, '_', '-'",
  tierFactor: 'a number > 0 (the price factor of the tier)',
  priceCatalog: "'bundled', a file path, or an http(s) URL of a genai-prices catalog JSON",
  pricePrefer: "'catalog' or 'provider'",
} as const;

/**
 * Whether `value` is a `pricing.catalog`: `bundled`, an http(s) URL, or a file path
 * (anything else with a `scheme://` is a URL tokenfuse cannot fetch).
 */
export function isPriceCatalog(value: string): boolean {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return isHttpUrl(value);
  return value.trim() !== '';
}

/** Whether `value` is an http(s) URL (of a webhook, of the Prometheus API). */
export function isHttpUrl(value: string): boolean {
  return /^https?:\/\/./i.test(value) && URL.canParse(value);
}

/**
 * `expected an http:// or https:// URL …, got "…"`: the value is echoed unless it
 * may hold credentials (`user:password@`).
 */
export function prometheusUrlMessage(value: unknown): string {
  if (typeof value === 'string' && value.includes('@'))
    return `expected ${EXPECTED.prometheusUrl}, got a string that is not one`;
  return expectedMessage(EXPECTED.prometheusUrl, value);
}

/** Whether `value` is a URL a Redis client connects to. */
export function isRedisUrl(value: string): boolean {
  return /^rediss?:\/\//.test(value) && URL.canParse(value);
}

/**
 * Describes a value for an error message: strings quoted, with the type, so that
 * `"8080" (string)` and `8080 (number)` are told apart.
 */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return value.length === 0 ? 'an empty array' : 'an array';
  switch (typeof value) {
    case 'string': {
      const shown = value.length > 60 ? `${value.slice(0, 57)}...` : value;
      return `${JSON.stringify(shown)} (string)`;
    }
    case 'number':
    case 'boolean':
      return `${String(value)} (${typeof value})`;
    case 'bigint':
      return `${value}n (bigint)`;
    case 'object':
      return Object.keys(value).length === 0 ? 'an empty object' : 'an object';
    default:
      return `a ${typeof value}`;
  }
}

/** `expected <what>, got <value>`, or `missing` when a required field is absent. */
export function expectedMessage(what: string, input: unknown): string {
  return input === undefined
    ? `missing (expected ${what})`
    : `expected ${what}, got ${describeValue(input)}`;
}

/**
 * zod params giving every issue of a schema (type and checks alike) one message.
 * A field has a single expectation; which of zod's checks failed does not matter
 * to the reader.
 */
function expecting(what: string) {
  return { error: (issue: { input?: unknown }) => expectedMessage(what, issue.input) };
}

const text = () => z.string(expecting(EXPECTED.text)).min(1, expecting(EXPECTED.text));
const boolean = () => z.boolean(expecting(EXPECTED.boolean));
const price = () => z.number(expecting(EXPECTED.price)).min(0, expecting(EXPECTED.price));

/**
 * Optimal-string-alignment distance (Levenshtein plus adjacent transpositions),
 * so `prot` is one edit from `port`.
 */
function editDistance(a: string, b: string): number {
  // Three rolling rows rather than a matrix: this runs for every unknown key of a
  // file against every known key, so it should allocate little.
  let before = new Array<number>(b.length + 1).fill(0);
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  let current = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    current[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, before[j - 2]! + 1);
      }
      current[j] = best;
    }
    [before, previous, current] = [previous, current, before];
  }
  return previous[b.length]!;
}

/** Lowercase without `_`/`-`, so `max_values_per_label` and `stripheaders` match their camelCase keys. */
function normaliseKey(key: string): string {
  return key.toLowerCase().replace(/[_-]/g, '');
}

/**
 * The known key `unknown` most likely meant, if any: same key in another case or
 * spelling convention, else the closest key within 1 edit (2 for keys of 5+ chars).
 */
export function suggestKey(unknown: string, known: readonly string[]): string | undefined {
  const wanted = normaliseKey(unknown);
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const key of known) {
    const allowed = key.length >= 5 ? 2 : 1;
    const candidate = normaliseKey(key);
    // The distance is at least the difference in length.
    if (Math.abs(candidate.length - wanted.length) > allowed) continue;
    const distance = editDistance(wanted, candidate);
    if (distance <= allowed && distance < bestDistance) {
      best = key;
      bestDistance = distance;
    }
  }
  return best;
}

/**
 * Unknown keys named (and given a suggestion) in one message; the rest are counted.
 * A file of 100,000 stray keys must not cost 100,000 suggestion searches nor
 * produce a megabyte of message.
 */
export const MAX_LISTED_KEYS = 10;

/** Longest key echoed in a message; a megabyte-long key is shown by its start. */
const MAX_SHOWN_KEY_CHARS = 60;

/** A key as quoted in a message, truncated past {@link MAX_SHOWN_KEY_CHARS}. */
export function showKey(key: string): string {
  return `'${key.length > MAX_SHOWN_KEY_CHARS ? `${key.slice(0, MAX_SHOWN_KEY_CHARS - 3)}...` : key}'`;
}

/**
 * `unknown field 'prot'; did you mean 'port'?` for each key, joined when there are
 * several; past {@link MAX_LISTED_KEYS} keys, `… and 9,990 more`.
 */
export function unknownKeysMessage(keys: readonly string[], known: readonly string[]): string {
  // A key too long to be a typo of a known one is not searched (editDistance is quadratic).
  const suggest = (key: string) => (key.length <= 64 ? suggestKey(key, known) : undefined);
  if (keys.length === 1) {
    const suggestion = suggest(keys[0]!);
    return `unknown field ${showKey(keys[0]!)}${suggestion ? `; did you mean '${suggestion}'?` : ''}`;
  }
  const parts = keys.slice(0, MAX_LISTED_KEYS).map((key) => {
    const suggestion = suggest(key);
    return suggestion ? `${showKey(key)} (did you mean '${suggestion}'?)` : showKey(key);
  });
  const more = keys.length - parts.length;
  return `unknown fields ${parts.join(', ')}${more > 0 ? ` … and ${more.toLocaleString('en-US')} more` : ''}`;
}

/**
 * A strict object (unknown keys rejected) whose unknown-key message names each key
 * and suggests the known key it is a near miss of. Every object of the config is
 * built with this; use it for new sections too so they reject typos the same way.
 */
export function configObject<Shape extends z.ZodRawShape>(shape: Shape) {
  const known = Object.keys(shape);
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? unknownKeysMessage(issue.keys, known)
        : expectedMessage(EXPECTED.object, issue.input),
  });
}

const tagsSchema = configObject(
  Object.fromEntries(TAG_NAMES.map((tag) => [tag, text().optional()])) as Record<
    TagName,
    z.ZodOptional<ReturnType<typeof text>>
  >,
);

const attributionSchema = configObject({
  defaults: tagsSchema.optional(),
  headers: boolean().optional(),
  stripHeaders: boolean().optional(),
  baggage: boolean().optional(),
});

/** A whole number > 0, with the message every such field gives. */
const positiveInteger = () =>
  z
    .number(expecting(EXPECTED.positiveInteger))
    .int(expecting(EXPECTED.positiveInteger))
    .positive(expecting(EXPECTED.positiveInteger));
/** A whole number >= 0, with the message every such field gives. */
const nonNegativeInteger = () =>
  z
    .number(expecting(EXPECTED.nonNegativeInteger))
    .int(expecting(EXPECTED.nonNegativeInteger))
    .min(0, expecting(EXPECTED.nonNegativeInteger));

const metricsSchema = configObject({
  exporter: z.enum(['prometheus', 'none'], expecting(EXPECTED.exporter)).optional(),
  host: text().optional(),
  port: z
    .number(expecting(EXPECTED.port))
    .int(expecting(EXPECTED.port))
    .min(1, expecting(EXPECTED.port))
    .max(65535, expecting(EXPECTED.port))
    .optional(),
  endpoint: z
    .string(expecting(EXPECTED.endpoint))
    .startsWith('/', expecting(EXPECTED.endpoint))
    .optional(),
  labels: z
    .array(z.enum(METRIC_LABELS, expecting(EXPECTED.label)), expecting(EXPECTED.labels))
    .optional(),
  maxValuesPerLabel: positiveInteger().optional(),
  // 16: room for a readable prefix next to the hash suffix a cut value gets.
  maxLabelValueLength: z
    .number(expecting(EXPECTED.labelValueLength))
    .int(expecting(EXPECTED.labelValueLength))
    .min(16, expecting(EXPECTED.labelValueLength))
    .optional(),
  maxSeries: positiveInteger().optional(),
});

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

const pricingSchema = configObject({
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
  // `duration()` below is declared later in the file.
  refresh: z
    .string(expecting(EXPECTED.duration))
    .refine((v) => parseDuration(v) !== undefined, {
      error: (issue) => expectedMessage(EXPECTED.duration, issue.input),
    })
    .optional(),
});

const providerSchema = configObject({
  id: z
    .string(expecting(EXPECTED.providerId))
    .regex(PROVIDER_ID_PATTERN, expecting(EXPECTED.providerId)),
  hosts: z.array(text(), expecting(EXPECTED.hosts)).min(1, expecting(EXPECTED.hosts)),
  pricesFrom: text().optional(),
});

const limitNumber = () =>
  z
    .number(expecting(EXPECTED.limit))
    .positive(expecting(EXPECTED.limit))
    .finite(expecting(EXPECTED.limit));
const duration = () =>
  z.string(expecting(EXPECTED.duration)).refine((v) => parseDuration(v) !== undefined, {
    error: (issue) => expectedMessage(EXPECTED.duration, issue.input),
  });
const budgetName = () =>
  z
    .string(expecting(EXPECTED.budgetName))
    .regex(/^[a-zA-Z0-9_.:-]+$/, expecting(EXPECTED.budgetName));

const matchShape = {
  department: text().optional(),
  project: text().optional(),
  environment: text().optional(),
  provider: text().optional(),
};
const budgetMatchSchema = configObject({ ...matchShape, model: text().optional() });
const policyMatchSchema = configObject(matchShape);

const windowSchema = z.union(
  [z.enum(['minute', 'hour', 'day', 'month']), configObject({ rolling: duration() })],
  expecting(EXPECTED.window),
);

const budgetLimitSchema = configObject({
  tokens: limitNumber().optional(),
  usd: limitNumber().optional(),
  requests: limitNumber().optional(),
}).refine(
  (limit) => limit.tokens !== undefined || limit.usd !== undefined || limit.requests !== undefined,
  {
    error: 'no limit given; set at least one of tokens, usd, requests',
  },
);

const budgetSchema = configObject({
  name: budgetName(),
  match: budgetMatchSchema.optional(),
  window: windowSchema,
  limit: budgetLimitSchema,
  thresholds: z
    .array(
      z
        .number(expecting(EXPECTED.thresholds))
        .gt(0, expecting(EXPECTED.thresholds))
        .lte(1, expecting(EXPECTED.thresholds)),
      expecting(EXPECTED.thresholds),
    )
    .optional(),
  action: z.enum(['block', 'monitor'], expecting(EXPECTED.action)).optional(),
  timeZone: z
    .string(expecting(EXPECTED.timeZone))
    .refine(isTimeZone, {
      error: (issue) => expectedMessage(EXPECTED.timeZone, issue.input),
    })
    .optional(),
  cooldown: duration().optional(),
  probes: positiveInteger().optional(),
  cutOffStreams: boolean().optional(),
});

const policySchema = configObject({
  name: budgetName(),
  match: policyMatchSchema.optional(),
  allowModels: z.array(text(), expecting(EXPECTED.globs)).optional(),
  denyModels: z.array(text(), expecting(EXPECTED.globs)).optional(),
});

const webhookSchema = configObject({
  url: z.string(expecting(EXPECTED.url)).refine((v) => /^https?:\/\//.test(v) && URL.canParse(v), {
    error: (issue) => expectedMessage(EXPECTED.url, issue.input),
  }),
  format: z.enum(['json', 'slack', 'discord'], expecting(EXPECTED.webhookFormat)).optional(),
});

const webhookDeliverySchema = configObject({
  concurrency: positiveInteger().optional(),
  maxQueue: positiveInteger().optional(),
  retries: nonNegativeInteger().optional(),
  timeoutMs: positiveInteger().optional(),
});

/** Names must be unique: they are metric labels and what errors and alerts refer to. */
function uniqueNames<T extends { name: string }>(what: string) {
  return (items: T[], ctx: z.RefinementCtx) => {
    const seen = new Map<string, number>();
    items.forEach((item, i) => {
      const first = seen.get(item.name);
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [i, 'name'],
          message: `duplicate ${what} name ${JSON.stringify(item.name)} (also ${what}s[${first}])`,
        });
      } else seen.set(item.name, i);
    });
  };
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/**
 * Fields of `ledger`. Exported so that later options extend it without restating
 * these: `configObject({ ...ledgerShape, restore: restoreSchema.optional() })`.
 */
export const ledgerShape = {
  store: z.enum(['memory', 'redis'], expecting(EXPECTED.ledgerStore)).optional(),
  url: z
    .string(expecting(EXPECTED.redisUrl))
    .refine(isRedisUrl, {
      // The value is not echoed: a Redis URL can hold a password.
      error: `expected ${EXPECTED.redisUrl}, got a string that is not one`,
    })
    .optional(),
  keyPrefix: text().optional(),
  timeoutMs: positiveInteger().optional(),
  onFailure: z.enum(['open', 'closed'], expecting(EXPECTED.onFailure)).optional(),
  connectTimeoutMs: positiveInteger().optional(),
  shutdownTimeoutMs: positiveInteger().optional(),
  tls: z.union([boolean(), z.record(z.string(), z.unknown())], expecting(EXPECTED.tls)).optional(),
  username: text().optional(),
  password: text().optional(),
};

/** `ledger.restore`: spend read back from Prometheus (in-memory store only; the resolver checks that). */
const restoreSchema = configObject({
  prometheus: z
    .string({ error: (issue) => prometheusUrlMessage(issue.input) })
    .refine(isHttpUrl, { error: (issue) => prometheusUrlMessage(issue.input) }),
  intervalSeconds: nonNegativeInteger().optional(),
  timeoutMs: positiveInteger().optional(),
});

const ledgerSchema = configObject({ ...ledgerShape, restore: restoreSchema.optional() });

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
  budgets: z
    .array(budgetSchema, expecting(EXPECTED.budgets))
    .superRefine(uniqueNames('budget'))
    .optional(),
  policies: z
    .array(policySchema, expecting(EXPECTED.policies))
    .superRefine(uniqueNames('policy'))
    .optional(),
  webhooks: z.array(webhookSchema, expecting(EXPECTED.webhooks)).optional(),
  webhookDelivery: webhookDeliverySchema.optional(),
  ledger: ledgerSchema.optional(),
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

/** `['pricing', 'overrides', 1, 'input_mtok']` → `pricing.overrides[1].input_mtok`. */
export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out ? `.${segment}` : segment;
  }
  return out;
}
