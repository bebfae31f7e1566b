/**
 * Turns a call's usage into USD: configured overrides first, then the
 * `@pydantic/genai-prices` catalog.
 *
 * Finding a model in the catalog means scanning providers and hundreds of match
 * rules, so it is done once per (provider, model) pair and the result kept.
 * The per-call work is then a few multiplications by the model's rate plan
 * (`rate-plan.ts`: flat and input-tiered prices, checked against `calcPrice`), or
 * `calcPrice` against a one-model provider for what the plan does not cover, which
 * lets the library apply historic and time-of-day prices for the call's own timestamp.
 */
import { calcPrice, type ModelInfo, type Provider, type Usage } from '@pydantic/genai-prices';
import { globToRegExp } from '../glob.js';
import type { PriceOverride, ProviderDeclaration } from '../types.js';
import { BUILTIN_PROVIDERS } from './providers.js';
import { priceByPlan, type RatePlan, ratePlan } from './rate-plan.js';
import { type NormalizedUsage, outputTokens, toCatalogUsage } from './usage.js';

/** The price of one call. */
export interface PriceResult {
  /** Cost in USD; 0 when unpriced. */
  usd: number;
  /** Whether a price was found (an override or a catalog entry). */
  priced: boolean;
  /** Where the price came from. */
  source: 'override' | 'catalog' | 'none';
  /** Catalog provider id, when priced from the catalog. */
  catalogProvider?: string;
  /** Catalog model id, when priced from the catalog. */
  catalogModel?: string;
  /** Why pricing failed, when it threw; the result is then unpriced. */
  error?: unknown;
}

/** A catalog model resolved for one requested model name. */
export interface CatalogPrice {
  /** Catalog provider id (the one asked for, even when the model came from its fallback). */
  providerId: string;
  /** The model's catalog entry, prices included. */
  model: ModelInfo;
  /**
   * A provider holding only this model, matched by the requested name, for
   * `calcPrice(usage, name, { provider })`: keeps the library's own price math
   * without a catalog scan per call.
   */
  provider: Provider;
}

/**
 * Looks a model up in the catalog. `catalogProviderId` undefined means "match by
 * model name alone" (genai-prices' model-based provider matching).
 */
export type CatalogResolver = (
  catalogProviderId: string | undefined,
  model: string,
) => CatalogPrice | undefined;

// Zero usage: the lookup below only wants the provider and model calcPrice finds.
const NO_USAGE: Usage = {};

/**
 * The default {@link CatalogResolver}: asks `calcPrice` itself which provider and
 * model it would use, so provider aliases, fallback providers (Azure → OpenAI)
 * and date-suffixed model names resolve exactly as the library resolves them.
 */
export function resolveCatalogPrice(
  catalogProviderId: string | undefined,
  model: string,
): CatalogPrice | undefined {
  const found = calcPrice(
    NO_USAGE,
    model,
    catalogProviderId === undefined ? undefined : { providerId: catalogProviderId },
  );
  if (found === null) return undefined;
  const { provider, model: info } = found;
  return {
    providerId: provider.id,
    model: info,
    provider: {
      // The id is kept because calcPrice special-cases some providers (Groq's Whisper minimum).
      id: provider.id,
      name: provider.name,
      api_pattern: provider.api_pattern,
      // calcPrice lowercases and trims the model name before matching.
      models: [{ ...info, match: { equals: model.toLowerCase().trim() } }],
    },
  };
}

/** How a (provider, model) pair is priced; decided once, then cached. */
type Resolution =
  | { kind: 'override'; override: PriceOverride }
  | { kind: 'catalog'; catalog: CatalogPrice; plan: RatePlan | undefined }
  | { kind: 'none'; error?: unknown };

interface CompiledOverride {
  override: PriceOverride;
  model: RegExp;
}

// Pairs come from the models callers ask for, which is a small set in practice;
// the cap bounds memory if model names ever come from unbounded input.
const MAX_CACHED_PAIRS = 10_000;

const UNPRICED: PriceResult = Object.freeze({ usd: 0, priced: false, source: 'none' });

const CATALOG_IDS: ReadonlyMap<string, string> = new Map(
  BUILTIN_PROVIDERS.map((p) => [p.id, p.catalogId]),
);

function priceWithOverride(o: PriceOverride, usage: NormalizedUsage): number {
  const input = o.input_mtok ?? 0;
  const usd =
    usage.input * input +
    usage.cacheRead * (o.cache_read_mtok ?? input) +
    usage.cacheWrite * (o.cache_write_mtok ?? input) +
    // An override has no audio or other rates: audio is priced as text, and the
    // other kinds (searches, citations) are parts of the counts already priced.
    (usage.inputAudio ?? 0) * input +
    outputTokens(usage) * (o.output_mtok ?? 0);
  return usd / 1e6;
}

/** Options of {@link PriceBook}. */
export interface PriceBookOptions {
  /** Overrides, matched first to last before the catalog. */
  overrides?: PriceOverride[];
  /** Declared providers; their `pricesFrom` selects the catalog provider. */
  providers?: ProviderDeclaration[];
  /** Catalog lookup; replaceable so tests can observe it. @default resolveCatalogPrice */
  resolveCatalog?: CatalogResolver;
}

/**
 * Prices calls. Overrides win (first match; `model` is a `*` glob, `provider`
 * when set must equal); otherwise the catalog provider is the declared
 * provider's `pricesFrom`, else the built-in provider's catalog id, else none,
 * which prices by model name alone (e.g. `openai_compatible`).
 *
 * The decision for each (provider, model) pair is cached, unpriced pairs
 * included, until {@link invalidate}: the price catalog calls it when new
 * prices take effect (prices loaded with genai-prices' `updatePrices` by other
 * means apply to pairs first seen after the update).
 */
export class PriceBook {
  private readonly overrides: CompiledOverride[];
  private readonly pricesFrom: ReadonlyMap<string, string>;
  private readonly resolveCatalog: CatalogResolver;
  /** Decisions by provider, then model: no key string is built per call. */
  private readonly resolved = new Map<string, Map<string, Resolution>>();
  private resolvedPairs = 0;

  constructor(opts: PriceBookOptions = {}) {
    this.overrides = (opts.overrides ?? []).map((override) => ({
      override,
      model: globToRegExp(override.model),
    }));
    const pricesFrom = new Map<string, string>();
    for (const p of opts.providers ?? []) if (p.pricesFrom) pricesFrom.set(p.id, p.pricesFrom);
    this.pricesFrom = pricesFrom;
    this.resolveCatalog = opts.resolveCatalog ?? resolveCatalogPrice;
  }

  /** Forgets every cached decision, so the next call of each pair sees the catalog as it is now. */
  invalidate(): void {
    this.resolved.clear();
    this.resolvedPairs = 0;
  }

  /**
   * Prices one call. Never throws: a failure is returned as an unpriced result
   * carrying `error`.
   *
   * @param provider our provider id (see `providers.ts`) or a declared one
   * @param model the model name the call used
   * @param at when the call happened (a Date or epoch ms), for dated and time-of-day prices
   *   @default now
   */
  price(provider: string, model: string, usage: NormalizedUsage, at?: Date | number): PriceResult {
    return this.priceBy(this.resolve(provider, model), model, usage, at);
  }

  private priceBy(
    resolution: Resolution,
    model: string,
    usage: NormalizedUsage,
    at: Date | number | undefined,
  ): PriceResult {
    switch (resolution.kind) {
      case 'override':
        return {
          usd: priceWithOverride(resolution.override, usage),
          priced: true,
          source: 'override',
        };
      case 'catalog': {
        const usd = resolution.plan && priceByPlan(resolution.plan, usage);
        if (usd !== undefined) {
          return {
            usd,
            priced: true,
            source: 'catalog',
            catalogProvider: resolution.catalog.providerId,
            catalogModel: resolution.catalog.model.id,
          };
        }
        return this.priceFromCatalog(resolution.catalog, model, usage, at);
      }
      default:
        return resolution.error === undefined
          ? { ...UNPRICED }
          : { ...UNPRICED, error: resolution.error };
    }
  }

  /**
   * The catalog provider whose prices (and usage fields) a provider's calls use:
   * a declared provider's `pricesFrom`, else the built-in one's catalog id;
   * undefined for an endpoint known to neither.
   */
  catalogProviderId(provider: string): string | undefined {
    return this.pricesFrom.get(provider) ?? CATALOG_IDS.get(provider);
  }

  /**
   * The model's context window from the catalog (no call's output exceeds it);
   * undefined for an override or a model the catalog does not know.
   */
  contextWindow(provider: string, model: string): number | undefined {
    const resolution = this.resolve(provider, model);
    if (resolution.kind !== 'catalog') return undefined;
    const window = resolution.catalog.model.context_window;
    return typeof window === 'number' && Number.isSafeInteger(window) && window > 0
      ? window
      : undefined;
  }

  /**
   * Prices one call known by several model names, in order of preference (what the
   * provider says it ran, then what was asked for). An override matching any name
   * wins over the catalog, so an override written for the requested name still
   * applies when the provider answers with a dated snapshot; among overrides, and
   * then among catalog entries, the earlier name wins.
   */
  priceFirst(
    provider: string,
    models: readonly string[],
    usage: NormalizedUsage,
    at?: Date | number,
  ): PriceResult {
    // One name (the response named the model asked for): its decision, looked up once.
    if (models.length === 1)
      return this.priceBy(this.resolve(provider, models[0]!), models[0]!, usage, at);
    for (const model of models) {
      const resolution = this.resolve(provider, model);
      if (resolution.kind === 'override') return this.priceBy(resolution, model, usage, at);
    }
    let first: PriceResult | undefined;
    for (const model of models) {
      const result = this.price(provider, model, usage, at);
      if (result.priced) return result;
      first ??= result;
    }
    return first ?? { ...UNPRICED };
  }

  private priceFromCatalog(
    catalog: CatalogPrice,
    model: string,
    usage: NormalizedUsage,
    at: Date | number | undefined,
  ): PriceResult {
    try {
      const result = calcPrice(toCatalogUsage(usage), model, {
        provider: catalog.provider,
        // A call's time is kept as a number: the Date is made here, the one place that reads it.
        timestamp: typeof at === 'number' ? new Date(at) : at,
      });
      if (result === null) return { ...UNPRICED };
      return {
        usd: result.total_price,
        priced: true,
        source: 'catalog',
        catalogProvider: catalog.providerId,
        catalogModel: catalog.model.id,
      };
    } catch (error) {
      return { ...UNPRICED, error };
    }
  }

  private resolve(provider: string, model: string): Resolution {
    let byModel = this.resolved.get(provider);
    let resolution = byModel?.get(model);
    if (resolution === undefined) {
      resolution = this.lookUp(provider, model);
      if (this.resolvedPairs >= MAX_CACHED_PAIRS) this.forgetOne();
      if (byModel === undefined) {
        byModel = new Map();
        this.resolved.set(provider, byModel);
      }
      byModel.set(model, resolution);
      this.resolvedPairs++;
    }
    return resolution;
  }

  /** Forgets the oldest decision of the provider first seen, to keep the cache bounded. */
  private forgetOne(): void {
    const [provider, byModel] = this.resolved.entries().next().value as [
      string,
      Map<string, Resolution>,
    ];
    byModel.delete(byModel.keys().next().value as string);
    if (byModel.size === 0) this.resolved.delete(provider);
    this.resolvedPairs--;
  }

  private lookUp(provider: string, model: string): Resolution {
    for (const { override, model: pattern } of this.overrides) {
      if (
        (override.provider === undefined || override.provider === provider) &&
        pattern.test(model)
      ) {
        return { kind: 'override', override };
      }
    }
    const catalogProviderId = this.catalogProviderId(provider);
    try {
      const catalog = this.resolveCatalog(catalogProviderId, model);
      return catalog
        ? { kind: 'catalog', catalog, plan: ratePlan(catalog.model, catalog.provider, model) }
        : { kind: 'none' };
    } catch (error) {
      return { kind: 'none', error };
    }
  }
}
