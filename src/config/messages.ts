/**
 * The words of config messages: what each field expects, how a value is described
 * (`"8080" (string)` vs `8080 (number)`), unknown keys with the known key they are a
 * near miss of, and config paths as users write them. Shared by the schema, the
 * file loader and the environment reader, so a bad value reads the same from each.
 */
import { METRIC_LABELS } from '../metrics/contract.js';

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
  observedSpend: "'count' or 'ignore'",
  timeZone: "an IANA time zone such as 'UTC' or 'Europe/Berlin'",
  policies: 'an array of model policies',
  globs: 'an array of model names or globs',
  webhooks: 'an array of webhooks',
  url: 'an http(s) URL',
  webhookFormat: "'json', 'slack' or 'discord'",
  ledgerStore: "'memory' or 'redis'",
  redisUrl: 'a redis:// or rediss:// URL',
  redisUrls: 'a non-empty array of redis:// or rediss:// URLs (the cluster nodes to start from)',
  leases: 'true, false or { enabled, minSlice, ttlMs }',
  minSlice: 'a fraction in (0, 1] (of each limit)',
  leaseTtl: 'an integer >= 1000 (ms)',
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
 * `expected an http:// or https:// URL …, got "…"`: the value is echoed unless it
 * may hold credentials (`user:password@`).
 */
export function prometheusUrlMessage(value: unknown): string {
  if (typeof value === 'string' && value.includes('@'))
    return `expected ${EXPECTED.prometheusUrl}, got a string that is not one`;
  return expectedMessage(EXPECTED.prometheusUrl, value);
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

/** `['pricing', 'overrides', 1, 'input_mtok']` → `pricing.overrides[1].input_mtok`. */
export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out ? `.${segment}` : segment;
  }
  return out;
}
