/**
 * A catalog usage extractor read without `extractUsage` on every call: the library
 * checks its extractor and its unit registry and walks each path generically per
 * call, a large part of reading a response's usage on the hot path. An extractor
 * rooted at `usage` whose paths are plain keys (every one `planFor` prepares) is a
 * list of (path, destination) pairs; the compiled form sums them as `extractUsage`
 * does, and is trusted only once it gave what `extractUsage` gives on a probe that
 * sets every path, so the destinations the library counts (and their order) are its.
 */
import { extractUsage, type Provider, type Usage } from '@pydantic/genai-prices';

/** An extractor's mappings, compiled. */
export interface CompiledExtractor {
  /** Paths inside `usage`, each with the index of its destination in `dests`. */
  mappings: { path: readonly string[]; dest: number }[];
  /** The destinations the library counts, in the order its result lists them. */
  dests: string[];
}

/** A JSON object (not an array): what a usage path walks through. */
export const isMapping = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * `extractUsage(provider, { usage }, flavor).usage`, or `{}` where it throws, for
 * the one usage-rooted extractor of `provider`.
 */
export function runCompiled(compiled: CompiledExtractor, usage: unknown): Usage {
  return isMapping(usage) ? sumCompiled(compiled, usage, undefined, undefined) : {};
}

/**
 * `runCompiled` on values already read: mapping `m` reads `values[fieldOf[m]]` instead of
 * walking its path in `usage` again (the caller read every path once, as `at` does, which
 * walks a path exactly as this does). `usage` must be a mapping.
 */
export function runCompiledOn(
  compiled: CompiledExtractor,
  values: readonly unknown[],
  fieldOf: readonly number[],
): Usage {
  return sumCompiled(compiled, undefined, values, fieldOf);
}

/**
 * The sums of one `sumCompiled` at a time, reused: an array per call otherwise. A call made
 * while it is in use (a getter on `usage` reading usage again) makes its own.
 */
const SUMS: (number | undefined)[] = [];
let sumsInUse = false;

function sumCompiled(
  compiled: CompiledExtractor,
  usage: Record<string, unknown> | undefined,
  values: readonly unknown[] | undefined,
  fieldOf: readonly number[] | undefined,
): Usage {
  if (sumsInUse) return sumInto([], compiled, usage, values, fieldOf);
  sumsInUse = true;
  try {
    return sumInto(SUMS, compiled, usage, values, fieldOf);
  } finally {
    for (let i = 0; i < compiled.dests.length; i++) SUMS[i] = undefined;
    sumsInUse = false;
  }
}

function sumInto(
  sums: (number | undefined)[],
  compiled: CompiledExtractor,
  usage: Record<string, unknown> | undefined,
  values: readonly unknown[] | undefined,
  fieldOf: readonly number[] | undefined,
): Usage {
  let any = false;
  const mappings = compiled.mappings;
  for (let m = 0; m < mappings.length; m++) {
    const { path, dest } = mappings[m]!;
    let value: unknown = usage;
    if (values !== undefined) value = values[fieldOf![m]!];
    else {
      for (let i = 0; i < path.length; i++) {
        if (!isMapping(value)) {
          value = undefined;
          break;
        }
        value = value[path[i]!];
      }
    }
    if (typeof value !== 'number') continue;
    // extractUsage throws on the first count that is not a finite non-negative number.
    if (!Number.isFinite(value) || value < 0) return {};
    sums[dest] = (sums[dest] ?? 0) + value;
    any = true;
  }
  // "No usage information found": nothing the extractor counts was reported.
  if (compiled.mappings.length > 0 && !any) return {};
  const out: Usage = {};
  for (let i = 0; i < compiled.dests.length; i++) {
    const sum = sums[i];
    if (sum === undefined) continue;
    if (!Number.isFinite(sum)) return {};
    out[compiled.dests[i]!] = sum;
  }
  return out;
}

/**
 * The compiled form of `provider`'s one extractor of `flavor` (rooted at `usage`,
 * plain-key paths, none required), or undefined when it cannot be proven to give
 * what `extractUsage` gives.
 */
export function compileExtractor(
  provider: Provider,
  flavor: string,
  paths: readonly (readonly string[])[],
  dests: readonly string[],
): CompiledExtractor | undefined {
  // Every path set, each to a value of its own, so the sums show which path went where.
  const probe: Record<string, unknown> = {};
  const set = new Set<string>();
  for (let i = 0; i < paths.length; i++) {
    // One field read into two kinds (Perplexity's citation tokens) is set once.
    const name = JSON.stringify(paths[i]);
    if (set.has(name)) continue;
    set.add(name);
    if (!setAt(probe, paths[i]!, 7 * (i + 1))) return undefined;
  }
  let expected: Usage;
  try {
    expected = extractUsage(provider, { usage: probe }, flavor).usage;
  } catch {
    return undefined;
  }
  // The library's result lists exactly the destinations it counts, in its own order.
  const counted = Object.keys(expected);
  const mappings: CompiledExtractor['mappings'] = [];
  for (let i = 0; i < paths.length; i++) {
    const dest = counted.indexOf(dests[i]!);
    if (dest >= 0) mappings.push({ path: paths[i]!, dest });
  }
  const compiled: CompiledExtractor = { mappings, dests: counted };
  const got = runCompiled(compiled, probe);
  const same =
    Object.keys(got).join() === counted.join() && counted.every((k) => got[k] === expected[k]);
  return same ? compiled : undefined;
}

/** Sets `value` at `path` inside `obj`; false when another path is in the way. */
function setAt(obj: Record<string, unknown>, path: readonly string[], value: number): boolean {
  let at = obj;
  for (let i = 0; i < path.length - 1; i++) {
    const key = path[i]!;
    const next = at[key];
    if (next === undefined) at[key] = {};
    else if (!isMapping(next)) return false;
    at = at[key] as Record<string, unknown>;
  }
  const last = path[path.length - 1];
  if (last === undefined || at[last] !== undefined) return false;
  at[last] = value;
  return true;
}
