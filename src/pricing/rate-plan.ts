/**
 * A catalog price turned, once per (provider, model), into a few numbers per token
 * kind, so that pricing a call on the hot path is one multiplication per kind instead
 * of `calcPrice` walking its unit tables on every call.
 *
 * Covered: one number per token kind, and prices tiered by the call's input total
 * (Claude's and Gemini Pro's rates above 200k input tokens). Dated and time-of-day
 * prices, and calls carrying any other usage kind (`NormalizedUsage.other`: searches,
 * citation tokens…), keep going through `calcPrice`.
 *
 * A plan is trusted only where it reproduces `calcPrice`: it is checked against it on
 * probe usages in every tier region and for each usage shape (text with cache, audio,
 * both), and a shape that does not match (Gemini Flash prices cached audio only
 * jointly, so `calcPrice` refuses cache reads beside audio) is left to `calcPrice`,
 * which then answers exactly as before.
 */
import { calcPrice, type ModelInfo, type Provider } from '@pydantic/genai-prices';
import { inputTokens, type NormalizedUsage, toCatalogUsage } from './usage.js';

/** USD per million tokens of each token kind, in one tier region. */
export interface Rates {
  input: number;
  cacheRead: number;
  cacheWrite: number;
  inputAudio: number;
  output: number;
  outputAudio: number;
}

/** How one catalog model's calls are priced without `calcPrice`. */
export interface RatePlan {
  /** Tier starts, ascending: region i applies when the input total exceeds i of them. */
  starts: number[];
  /** One set of rates per region (`starts.length + 1`). */
  regions: Rates[];
  /** Shapes the plan reproduces `calcPrice` for: audio without cache, and audio with it. */
  audio: boolean;
  mixed: boolean;
}

/** The token price keys a plan reads; any other key only counts for calls carrying its kind. */
const TOKEN_KEYS = [
  'input_mtok',
  'output_mtok',
  'cache_read_mtok',
  'cache_write_mtok',
  'input_audio_mtok',
  'output_audio_mtok',
] as const;

type TierTable = { base: number; tiers: { start: number; price: number }[] };
type Price = number | TierTable | undefined;

/** The narrowest tier region a plan is made for; narrower ones go through `calcPrice`. */
const MIN_REGION = 1_000;
/** The input total probed in the open-ended last region (past the last tier start). */
const OPEN_PROBE = 1_000_003;

/**
 * The plan for `catalog`'s model, or undefined when its prices are not one of the
 * covered forms or do not reproduce `calcPrice` for text calls.
 *
 * @param provider the one-model provider `calcPrice` is asked with
 * @param model the requested name, as `calcPrice` matches it
 */
export function ratePlan(info: ModelInfo, provider: Provider, model: string): RatePlan | undefined {
  const prices = info.prices;
  if (Array.isArray(prices)) return undefined;
  const table: Record<string, Price> = {};
  const starts = new Set<number>();
  for (const key of TOKEN_KEYS) {
    const value = (prices as Record<string, unknown>)[key];
    if (value === undefined || typeof value === 'number') {
      table[key] = value;
      continue;
    }
    const tiered = tierTable(value);
    if (tiered === undefined) return undefined;
    for (const tier of tiered.tiers) starts.add(tier.start);
    table[key] = tiered;
  }
  const sorted = [...starts].sort((a, b) => a - b);
  const regions: Rates[] = [];
  let audio = true;
  let mixed = true;
  for (let i = 0; i <= sorted.length; i++) {
    const low = i === 0 ? 0 : sorted[i - 1]! + 1;
    const high = i === sorted.length ? Number.POSITIVE_INFINITY : sorted[i]!;
    if (high - low < MIN_REGION) return undefined;
    const rates = ratesAt(table, low);
    const total =
      high === Number.POSITIVE_INFINITY ? low + OPEN_PROBE : Math.floor((low + high) / 2);
    const check = (probe: NormalizedUsage): boolean => matches(rates, probe, provider, model);
    if (!check(textProbe(total))) return undefined;
    audio &&= check(audioProbe(total));
    mixed &&= check(mixedProbe(total));
    regions.push(rates);
  }
  return { starts: sorted, regions, audio, mixed };
}

/**
 * The call's price in USD by `plan`, or undefined when the plan does not cover the
 * call's usage (then `calcPrice` prices it).
 */
export function priceByPlan(plan: RatePlan, usage: NormalizedUsage): number | undefined {
  if (usage.other !== undefined) return undefined;
  const inputAudio = usage.inputAudio ?? 0;
  const outputAudio = usage.outputAudio ?? 0;
  if (inputAudio > 0 || outputAudio > 0) {
    if (!(usage.cacheRead > 0 || usage.cacheWrite > 0 ? plan.mixed : plan.audio)) return undefined;
  }
  const starts = plan.starts;
  let region = 0;
  if (starts.length > 0) {
    // calcPrice picks a tier by the whole input, cached and audio parts included.
    const total = inputTokens(usage);
    while (region < starts.length && total > starts[region]!) region++;
  }
  const r = plan.regions[region]!;
  return (
    (usage.input * r.input +
      usage.cacheRead * r.cacheRead +
      usage.cacheWrite * r.cacheWrite +
      inputAudio * r.inputAudio +
      usage.output * r.output +
      outputAudio * r.outputAudio) /
    1e6
  );
}

/** A tiered price as `calcPrice` reads it (tiers by start), or undefined for any other shape. */
function tierTable(value: unknown): TierTable | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { base, tiers } = value as { base?: unknown; tiers?: unknown };
  if (typeof base !== 'number' || !Array.isArray(tiers)) return undefined;
  const out: TierTable['tiers'] = [];
  for (const tier of tiers as { start?: unknown; price?: unknown }[]) {
    if (typeof tier?.start !== 'number' || typeof tier.price !== 'number') return undefined;
    out.push({ start: tier.start, price: tier.price });
  }
  return { base, tiers: out.sort((a, b) => a.start - b.start) };
}

/** Each kind's rate for a call whose input total is `total` (the last tier it exceeds). */
function ratesAt(table: Record<string, Price>, total: number): Rates {
  const at = (price: Price): number | undefined => {
    if (price === undefined || typeof price === 'number') return price;
    let rate = price.base;
    for (const tier of price.tiers) if (total > tier.start) rate = tier.price;
    return rate;
  };
  const input = at(table.input_mtok) ?? 0;
  const output = at(table.output_mtok) ?? 0;
  return {
    input,
    cacheRead: at(table.cache_read_mtok) ?? input,
    cacheWrite: at(table.cache_write_mtok) ?? input,
    // calcPrice prices audio at the text rate when the model has no audio price.
    inputAudio: at(table.input_audio_mtok) ?? input,
    output,
    outputAudio: at(table.output_audio_mtok) ?? output,
  };
}

function matches(rates: Rates, probe: NormalizedUsage, provider: Provider, model: string): boolean {
  let expected: ReturnType<typeof calcPrice>;
  try {
    expected = calcPrice(toCatalogUsage(probe), model, { provider });
  } catch {
    return false;
  }
  if (expected === null) return false;
  const got = priceByPlan({ starts: [], regions: [rates], audio: true, mixed: true }, probe);
  return (
    got !== undefined &&
    Math.abs(got - expected.total_price) <= 1e-9 * Math.max(1, expected.total_price)
  );
}

// Probes: every kind of the shape present, in uneven amounts, summing to `total` input
// tokens, so a rate off for any one kind shows in the sum.
function textProbe(total: number): NormalizedUsage {
  const cacheRead = Math.floor(total / 7) + 3;
  const cacheWrite = Math.floor(total / 11) + 1;
  return {
    input: total - cacheRead - cacheWrite,
    cacheRead,
    cacheWrite,
    output: 4_007,
    reasoning: 1_009,
  };
}

function audioProbe(total: number): NormalizedUsage {
  const inputAudio = Math.floor(total / 13) + 2;
  return {
    input: total - inputAudio,
    cacheRead: 0,
    cacheWrite: 0,
    inputAudio,
    output: 4_007,
    outputAudio: 701,
    reasoning: 1_009,
  };
}

function mixedProbe(total: number): NormalizedUsage {
  const cacheRead = Math.floor(total / 7) + 3;
  const cacheWrite = Math.floor(total / 11) + 1;
  const inputAudio = Math.floor(total / 13) + 2;
  return {
    input: total - cacheRead - cacheWrite - inputAudio,
    cacheRead,
    cacheWrite,
    inputAudio,
    output: 4_007,
    outputAudio: 701,
    reasoning: 1_009,
  };
}
