/**
 * The mapping between a provider's `usage` object, the price catalog's `Usage`
 * (totals with their parts beside them) and our {@link NormalizedUsage} (parts kept
 * apart), both ways, so the two directions are read and changed side by side.
 */
import { extractUsage, type Usage } from '@pydantic/genai-prices';
import { fromAnthropicUsage, fromChatCompletionUsage, fromResponsesUsage } from './api-readers.js';
import {
  type Field,
  type PreparedExtractor,
  planFor,
  type ReadPlan,
  type UsageFlavor,
} from './catalog-plan.js';
import { isMapping, runCompiled, runCompiledOn } from './compiled-extractor.js';
import {
  inputTokens,
  MAX_USAGE_TOKENS,
  type NormalizedUsage,
  outputTokens,
  UsageReader,
} from './normalized-usage.js';
import type {
  AnthropicUsageLike,
  ChatCompletionUsageLike,
  ResponsesUsageLike,
} from './wire-shapes.js';

/**
 * Reads the `usage` of a chat or Responses result the way the price catalog
 * does: the fields come from `@pydantic/genai-prices`' own extractor for the
 * call's catalog provider and API flavour (audio, cache writes, Perplexity's
 * citation tokens and searches, xAI's reasoning outside `completion_tokens`…),
 * and `extractUsage` sums them. Where that extractor reads nothing for a kind,
 * OpenAI's extractor of the same flavour fills it: the SDK speaks OpenAI's wire
 * format and compatible endpoints report in its fields (Anthropic's compatible
 * endpoint, for one, reports cache reads under `prompt_tokens_details`).
 *
 * What stays ours, and why:
 * - Every field the extractor reads is checked first as {@link UsageReader} does
 *   (a safe integer in [0, {@link MAX_USAGE_TOKENS}]); a bad one counts as 0 and
 *   is listed in `invalid`. `extractUsage` alone throws on the first negative
 *   count (losing the whole usage), drops a string without a word, and takes a
 *   fraction or 1e300 as it is: a hostile number would reach prices and budgets.
 * - Parts are clamped to their totals (see {@link clampParts}).
 * - DeepSeek's `prompt_cache_hit_tokens`, which the catalog's DeepSeek extractor
 *   does not read, stands in for a missing cache-read count.
 * - A provider the catalog does not know, or one without an extractor for this
 *   flavour, is read with OpenAI's (see `planFor`).
 *
 * @param catalogProviderId the call's provider in the catalog; undefined reads as OpenAI
 */
export function fromCatalogUsage(
  catalogProviderId: string | undefined,
  flavor: UsageFlavor,
  usage: unknown,
): NormalizedUsage {
  const plan = planFor(catalogProviderId, flavor);
  if (plan === undefined) {
    // A catalog without these extractors: read by the API's own documented rules.
    if (flavor === 'default') return fromAnthropicUsage(usage as AnthropicUsageLike);
    return flavor === 'chat'
      ? fromChatCompletionUsage(usage as ChatCompletionUsageLike)
      : fromResponsesUsage(usage as ResponsesUsageLike);
  }

  if (valuesInUse) return readUsage(plan, flavor, usage, []);
  valuesInUse = true;
  try {
    return readUsage(plan, flavor, usage, VALUES);
  } finally {
    for (let i = 0; i < plan.fields.length; i++) VALUES[i] = undefined;
    valuesInUse = false;
  }
}

/**
 * The field values of one `fromCatalogUsage` at a time, reused: an array per response
 * otherwise. A call made while it is in use (a getter on `usage`) makes its own.
 */
const VALUES: unknown[] = [];
let valuesInUse = false;

function readUsage(
  plan: ReadPlan,
  flavor: UsageFlavor,
  usage: unknown,
  values: unknown[],
): NormalizedUsage {
  const r = new UsageReader();
  let clean = usage;
  const fields = plan.fields;
  // Each field's value, read once: the compiled extractor sums these instead of reading
  // every path again (when nothing was rejected, `clean` is `usage` and reads the same).
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i]!;
    const before = r.rejected;
    const value = at(usage, field.path);
    values[i] = value;
    r.count(field.name, value);
    // The bad value is left out of a copy, so the catalog never sees it.
    if (r.rejected > before) clean = without(clean, field.path);
  }

  const primary = plan.primary;
  const extracted =
    clean === usage &&
    primary.compiled !== undefined &&
    plan.primaryFields !== undefined &&
    isMapping(usage)
      ? runCompiledOn(primary.compiled, values, plan.primaryFields)
      : extract(primary, clean);
  // OpenAI's extractor only adds what the provider's own one does not read, so it
  // runs only when one of its fields was reported.
  if (plan.secondary !== undefined && anyReported(clean, plan.secondaryOnly)) {
    const more = extract(plan.secondary, clean);
    for (const key in more) {
      if (extracted[key] === undefined && more[key] !== undefined) extracted[key] = more[key];
    }
  }
  if (extracted.cache_read_tokens === undefined && flavor === 'chat') {
    const hit = r.count('prompt_cache_hit_tokens', at(usage, ['prompt_cache_hit_tokens']));
    if (hit > 0) extracted.cache_read_tokens = hit;
  }
  clampParts(extracted);
  return r.done(toNormalized(extracted));
}

/**
 * genai-prices wants `input_tokens` and `output_tokens` as TOTALS with their parts
 * (cache, audio, reasoning, citations) reported beside them; ours keeps the text
 * parts apart. The result is the usage the catalog's own `extractUsage` gives for
 * the same response (the inverse of what {@link fromCatalogUsage} keeps).
 */
export function toCatalogUsage(usage: NormalizedUsage): Usage {
  const out: Usage = {
    ...usage.other,
    input_tokens: inputTokens(usage),
    cache_read_tokens: usage.cacheRead,
    cache_write_tokens: usage.cacheWrite,
    output_tokens: outputTokens(usage),
  };
  if (usage.inputAudio) out.input_audio_tokens = usage.inputAudio;
  if (usage.outputAudio) out.output_audio_tokens = usage.outputAudio;
  if (usage.reasoning > 0) out.output_reasoning_tokens = usage.reasoning;
  return out;
}

/** The catalog's usage of a call as tokenfuse keeps it. */
function toNormalized(u: Usage): NormalizedUsage {
  const {
    input_tokens = 0,
    cache_read_tokens: cacheRead = 0,
    cache_write_tokens: cacheWrite = 0,
    input_audio_tokens: inputAudio = 0,
    output_tokens = 0,
    output_audio_tokens: outputAudio = 0,
    output_reasoning_tokens: reasoning = 0,
  } = u;
  const usage: NormalizedUsage = {
    input: input_tokens - cacheRead - cacheWrite - inputAudio,
    cacheRead,
    cacheWrite,
    output: output_tokens - outputAudio,
    reasoning,
  };
  if (inputAudio > 0) usage.inputAudio = inputAudio;
  if (outputAudio > 0) usage.outputAudio = outputAudio;
  let other: Record<string, number> | undefined;
  for (const key in u) {
    if (NORMALIZED_KINDS.has(key)) continue;
    const value = u[key];
    if (value !== undefined && value > 0) {
      other ??= {};
      other[key] = value;
    }
  }
  if (other !== undefined) usage.other = other;
  return usage;
}

/** Whether any of `fields` was reported (a closure-free `some`: it runs on every call). */
function anyReported(usage: unknown, fields: readonly Field[]): boolean {
  for (let i = 0; i < fields.length; i++) if (at(usage, fields[i]!.path) != null) return true;
  return false;
}

/** The kinds {@link toNormalized} keeps in fields of their own; the rest go to `other`. */
const NORMALIZED_KINDS = new Set([
  'input_tokens',
  'cache_read_tokens',
  'cache_write_tokens',
  'input_audio_tokens',
  'output_tokens',
  'output_audio_tokens',
  'output_reasoning_tokens',
]);

/**
 * The direct sub-kinds of each total, in the order they are clamped to what the
 * total has left. This follows the nesting the catalog declares between its usage
 * kinds (a kind whose dimensions extend another's is part of it): a cache write
 * is part of the input, and a 5-minute or 1-hour cache write part of the cache
 * writes, never a sibling of them. `sdk-anthropic.test.ts` checks each pair
 * against `calcPrice`, which rejects a part larger than its total.
 */
const PARTS: Readonly<Record<string, readonly string[]>> = {
  input_tokens: ['cache_read_tokens', 'cache_write_tokens', 'input_audio_tokens'],
  cache_write_tokens: ['cache_write_5m_tokens', 'cache_write_1h_tokens'],
  output_tokens: ['output_audio_tokens', 'output_citation_tokens', 'output_reasoning_tokens'],
};
const KNOWN_KINDS = new Set([...Object.keys(PARTS), ...Object.values(PARTS).flat()]);

/**
 * The total a kind the table above does not name is part of: a kind with a cache
 * lifetime (`…_5m_tokens`, `…_1h_tokens`) is part of the same kind without one, as
 * the catalog's `cache_ttl` dimension nests it (when that kind was reported); else
 * the input or output total.
 */
function totalOf(u: Usage, key: string): string | undefined {
  const ttl = /^(.*)_(?:5m|1h)_tokens$/.exec(key);
  if (ttl && u[`${ttl[1]}_tokens`] !== undefined) return `${ttl[1]}_tokens`;
  if (/^(input|cache)_/.test(key)) return 'input_tokens';
  if (key.startsWith('output_')) return 'output_tokens';
  return undefined;
}

/**
 * Clamps every part to what its total has left (the catalog's `calcPrice` throws
 * when parts exceed their total), so a hostile count cannot price or count twice.
 * Totals are clamped before their parts (input before cache writes before the
 * 5-minute/1-hour split). The parts of one total are disjoint in every usage the
 * extractors read (Perplexity's citations and reasoning are added to its output
 * side by side; OpenAI's reasoning is text, not audio).
 */
function clampParts(u: Usage): void {
  let extra: string[] | undefined;
  for (const key in u) {
    const value = u[key];
    if (value === undefined) continue;
    // A total the catalog sums from several fields (Perplexity's output: completion,
    // citation and reasoning tokens) stays within the bound of one field too.
    if (value > MAX_USAGE_TOKENS) u[key] = MAX_USAGE_TOKENS;
    if (!KNOWN_KINDS.has(key) && key.endsWith('_tokens')) {
      extra ??= [];
      extra.push(key);
    }
  }
  // The usual usage holds known kinds only: the fixed table's order, nothing built per call.
  if (extra === undefined) {
    for (let i = 0; i < PARTS_ORDER.length; i++) clampTo(u, PARTS_ORDER[i]![0], PARTS_ORDER[i]![1]);
    return;
  }
  const more: Record<string, string[]> = {};
  for (const [total, known] of Object.entries(PARTS)) more[total] = [...known];
  for (const key of extra.sort()) {
    const total = totalOf(u, key);
    if (total === undefined || total === key) continue;
    more[total] ??= [];
    more[total].push(key);
  }
  for (const [total, parts] of clampOrder(more)) clampTo(u, total, parts);
}

/**
 * The totals of `parts` with their parts, top down (a total is final before its parts
 * are clamped to it): input, then output, each followed depth-first by its own parts.
 */
function clampOrder(
  parts: Readonly<Record<string, readonly string[]>>,
): Array<readonly [string, readonly string[]]> {
  const order: Array<readonly [string, readonly string[]]> = [];
  const done = new Set<string>();
  const visit = (total: string): void => {
    if (done.has(total)) return;
    done.add(total);
    const own = parts[total] ?? [];
    if (own.length > 0) order.push([total, own]);
    for (const part of own) visit(part);
  };
  visit('input_tokens');
  visit('output_tokens');
  return order;
}

/** The clamping order of the fixed table, built once. */
const PARTS_ORDER = clampOrder(PARTS);

function clampTo(u: Usage, total: string, parts: readonly string[]): void {
  let left = u[total] ?? 0;
  for (let i = 0; i < parts.length; i++) {
    const key = parts[i]!;
    const value = u[key];
    if (value === undefined) continue;
    const kept = Math.min(value, left);
    u[key] = kept;
    left -= kept;
  }
}

function extract(extractor: PreparedExtractor, usage: unknown): Usage {
  if (extractor.compiled !== undefined) return runCompiled(extractor.compiled, usage);
  try {
    return extractUsage(extractor.provider, { usage }, extractor.flavor).usage;
  } catch {
    // "No usage information found": nothing this extractor reads was reported.
    return {};
  }
}

function at(obj: unknown, path: readonly string[]): unknown {
  let value = obj;
  for (let i = 0; i < path.length; i++) {
    if (!isMapping(value)) return undefined;
    value = value[path[i]!];
  }
  return value;
}

/** A copy of `obj` without the value at `path`; only the objects along the path are copied. */
function without(obj: unknown, path: readonly string[]): unknown {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return obj;
  const [key, ...rest] = path as [string, ...string[]];
  const copy: Record<string, unknown> = { ...(obj as Record<string, unknown>) };
  if (rest.length === 0) delete copy[key];
  else copy[key] = without(copy[key], rest);
  return copy;
}
