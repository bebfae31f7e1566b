/**
 * Which of the price catalog's usage extractors read a provider's `usage`, and
 * which fields they read: decided once per catalog provider, API flavour and
 * catalog, so the per-call reading in `catalog-usage.ts` only walks a short list.
 */
import { findProvider, type Provider, waitForUpdate } from '@pydantic/genai-prices';
import { type CompiledExtractor, compileExtractor } from './compiled-extractor.js';

/**
 * The API whose response shape a usage object has: the catalog's extractor
 * `api_flavor` of the same name reads it. `default` is a provider's native API
 * (Anthropic Messages, whose `input_tokens` exclude the cache counts): read by the
 * provider's own extractor only, never completed with OpenAI's.
 */
export type UsageFlavor = 'chat' | 'responses' | 'default';

/** An extractor the catalog gives for one provider and API flavour, prepared once. */
export interface PreparedExtractor {
  /** A copy of the provider holding only this extractor, every mapping optional. */
  provider: Provider;
  flavor: string;
  /** The fields the extractor reads, each a path of keys inside `usage`. */
  fields: string[][];
  /** The extractor without `extractUsage` per call, when proven to read the same. */
  compiled: CompiledExtractor | undefined;
}

/** One field an extractor reads: its path inside `usage` and its name in logs and metrics. */
export interface Field {
  path: readonly string[];
  name: string;
}

/** How usage of one catalog provider and flavour is read; built once per catalog. */
export interface ReadPlan {
  /** The catalog data the plan was built from: a refreshed catalog builds a new plan. */
  openai: Provider | undefined;
  own: Provider | undefined;
  primary: PreparedExtractor;
  /** OpenAI's extractor, when it is not the primary one. */
  secondary: PreparedExtractor | undefined;
  /** Every field either extractor reads, once. */
  fields: Field[];
  /** The fields only the secondary extractor reads. */
  secondaryOnly: Field[];
  /**
   * For each mapping of the primary's compiled extractor, the index in `fields` of the
   * field it reads (undefined without a compiled extractor).
   */
  primaryFields: number[] | undefined;
}

// Keyed by the catalog's own Provider object, so a refreshed catalog is read afresh.
const prepared = new WeakMap<Provider, Map<string, PreparedExtractor | null>>();

/**
 * The catalog's extractor of `flavor` for `provider`, fit for a `usage` object.
 * Only extractors rooted at `usage` qualify (the SDK's responses carry usage
 * there). Mappings are made optional: a missing count is 0 here, where
 * `extractUsage` throws. A mapping whose path is not plain keys (an array match)
 * is left out, because its value could not be checked first (see
 * `fromCatalogUsage`); no usage-rooted extractor has one today.
 */
function extractorOf(provider: Provider, flavor: string): PreparedExtractor | undefined {
  let byFlavor = prepared.get(provider);
  if (byFlavor === undefined) {
    byFlavor = new Map();
    prepared.set(provider, byFlavor);
  }
  let found = byFlavor.get(flavor);
  if (found === undefined) {
    found = null;
    const extractor = provider.extractors?.find((e) => e.api_flavor === flavor);
    if (extractor !== undefined && extractor.root === 'usage') {
      const mappings = extractor.mappings
        .filter((m) => typeof m.path === 'string' || m.path.every((s) => typeof s === 'string'))
        .map((m) => ({ ...m, required: false }));
      const only: Provider = {
        id: provider.id,
        name: provider.name,
        api_pattern: provider.api_pattern,
        models: [],
        extractors: [{ ...extractor, mappings }],
      };
      const fields = mappings.map((m) =>
        typeof m.path === 'string' ? [m.path] : (m.path as string[]),
      );
      const dests = mappings.map((m) => m.dest);
      found = {
        provider: only,
        flavor,
        fields,
        compiled: compileExtractor(only, flavor, fields, dests),
      };
    }
    byFlavor.set(flavor, found);
  }
  return found ?? undefined;
}

/**
 * Whether the catalog data genai-prices holds is the data of its latest update, applied:
 * `waitForUpdate()`'s promise is replaced by every `setProviderData` (synchronous data
 * is swapped in before, an update handed over as a promise inside the chain that
 * settles it), so once the latest promise has settled, and until it is replaced, no
 * swap is pending. Each new promise starts a new generation of the cached lookups, and
 * its settling another (lookups made while it was pending may predate the swap).
 */
let update: Promise<unknown> | undefined;
let settled = false;
let generation = 0;
function catalogSettled(): boolean {
  const latest = waitForUpdate();
  if (latest !== update) watch(latest);
  return settled;
}

/** A new update: watched apart, so `catalogSettled` keeps no closure context per call. */
function watch(latest: Promise<unknown>): void {
  update = latest;
  settled = false;
  generation++;
  const mark = () => {
    if (update !== latest) return;
    settled = true;
    generation++;
  };
  latest.then(mark, mark);
}
// Watched from the start, so the bundled data counts as settled before the first response.
catalogSettled();

/** Finds nothing: a lookup that only runs genai-prices' `onCalc` hook. */
const NO_CRITERIA = {};
/** Catalog providers by id, each with the generation it was looked up in. */
const found = new Map<string, { provider: Provider | undefined; generation: number }>();

/**
 * `findProvider({ providerId })`, remembered while the catalog stays the same (a scan of
 * the catalog per response otherwise). The library's `onCalc` hook (an application's
 * auto-updater) still runs on every lookup, and a hook that swaps the data in place is
 * seen at once: what `findProvider` would answer is answered.
 */
function lookUp(providerId: string): Provider | undefined {
  const cached = found.get(providerId);
  if (cached !== undefined && cached.generation === generation && catalogSettled()) {
    findProvider(NO_CRITERIA);
    if (catalogSettled() && cached.generation === generation) return cached.provider;
  }
  const provider = findProvider({ providerId });
  // Kept only from a settled catalog; ids are the configured providers' (a bounded set).
  if (catalogSettled()) found.set(providerId, { provider, generation });
  return provider;
}

// A handful of catalog providers by three flavours: small, bounded by the catalog.
// Keyed by provider id, then flavour: no key string is built per call.
const plans = new Map<string, Map<UsageFlavor, ReadPlan | null>>();

/**
 * The plan for reading `flavor` usage of `catalogProviderId` (undefined reads as
 * OpenAI). The provider's own extractor comes first; a provider's `default`
 * extractor serves when it has no `chat` one (Perplexity, Groq, Mistral), if it is
 * rooted at `usage`; OpenAI's extractor of the flavour fills what that one does not
 * read, or serves alone for a provider the catalog does not know.
 *
 * @returns undefined when the catalog has no extractor for the flavour at all
 */
export function planFor(
  catalogProviderId: string | undefined,
  flavor: UsageFlavor,
): ReadPlan | undefined {
  // Looked up on every response through `lookUp`: genai-prices keeps its provider data
  // private and swaps it, for an update handed over as a promise, at a moment no public
  // call reports but the settling of `waitForUpdate()`'s promise, and `findProvider` runs
  // the library's `onCalc` hook (an application's auto-updater), which calls a rate plan
  // prices no longer reach through `calcPrice` (`rate-plan.ts`).
  const own = catalogProviderId === undefined ? undefined : lookUp(catalogProviderId);
  const ownId = own?.id ?? '';
  let byFlavor = plans.get(ownId);
  if (byFlavor === undefined) {
    byFlavor = new Map();
    plans.set(ownId, byFlavor);
  }
  const cached = byFlavor.get(flavor);
  if (cached === null) return undefined;
  // A catalog update replaces every provider entry at once (genai-prices copies each one):
  // the plan's own entry, unchanged, means the catalog it was built from, OpenAI's entry
  // included, so one lookup per response serves an OpenAI-compatible provider too.
  if (cached !== undefined && own !== undefined && cached.own === own) return cached;
  // OpenAI's entry is looked up (a scan of the catalog) only when the plan can use it:
  // not for a provider's native (`default`) usage, and not twice when it is the own one.
  const openai = flavor === 'default' ? undefined : own?.id === 'openai' ? own : lookUp('openai');
  if (cached !== undefined && cached.openai === openai && cached.own === own) return cached;

  // OpenAI's wire format only fills OpenAI-shaped usage (chat, Responses).
  const fallback = openai ? extractorOf(openai, flavor) : undefined;
  const primary =
    (own &&
      (extractorOf(own, flavor) ??
        (flavor === 'chat' ? extractorOf(own, 'default') : undefined))) ??
    fallback;
  if (primary === undefined) {
    byFlavor.set(flavor, null);
    return undefined;
  }
  const secondary = fallback !== undefined && fallback !== primary ? fallback : undefined;
  const fieldsOf = (e: PreparedExtractor | undefined): Field[] =>
    (e?.fields ?? []).map((path) => ({ path, name: path.join('.') }));
  // An extractor may read one field into two kinds (Perplexity's citation tokens are
  // output tokens and citation tokens): each field is checked, and counted invalid, once.
  const names = new Set<string>();
  const once = (f: Field) => !names.has(f.name) && names.add(f.name) !== undefined;
  const primaryFields = fieldsOf(primary).filter(once);
  const secondaryOnly = fieldsOf(secondary).filter(once);
  const fields = [...primaryFields, ...secondaryOnly];
  const plan: ReadPlan = {
    openai,
    own,
    primary,
    secondary,
    fields,
    secondaryOnly,
    primaryFields: fieldIndexes(primary, fields),
  };
  byFlavor.set(flavor, plan);
  return plan;
}

/**
 * Each compiled mapping's field in `fields`, the same path key by key; undefined when one
 * has none (two paths of one name keep only the first field: such a plan reads its usage
 * with the compiled extractor walking the paths itself).
 */
function fieldIndexes(extractor: PreparedExtractor, fields: Field[]): number[] | undefined {
  const compiled = extractor.compiled;
  if (compiled === undefined) return undefined;
  const indexes: number[] = [];
  for (const { path } of compiled.mappings) {
    const i = fields.findIndex(
      (f) => f.path.length === path.length && f.path.every((key, k) => key === path[k]),
    );
    if (i < 0) return undefined;
    indexes.push(i);
  }
  return indexes;
}
