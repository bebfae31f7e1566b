import type { TagName, Tags } from '../types.js';
import { TAG_HEADERS, TAG_NAMES } from './tags.js';

const HEADER_TO_TAG = new Map<string, TagName>(TAG_NAMES.map((t) => [TAG_HEADERS[t], t]));

/** Result of reading per-call attribution headers. */
export interface HeaderAttribution {
  tags: Tags | undefined;
  /** The same headers with the attribution headers removed, or undefined when nothing was removed. */
  stripped: unknown;
}

/**
 * Reads `X-Department`, `X-Project`, … from the `headers` of an SDK call's request
 * options, in any of the shapes the SDK accepts (plain object, `Headers`, array of
 * pairs). With `strip`, also returns a copy without them: they are ours, not the
 * provider's.
 */
export function readAttributionHeaders(headers: unknown, strip: boolean): HeaderAttribution {
  let tags: Tags | undefined;
  if (headers == null || typeof headers !== 'object') return { tags, stripped: undefined };

  if (Array.isArray(headers)) {
    const kept: unknown[] = [];
    for (const pair of headers) {
      const tag = Array.isArray(pair)
        ? HEADER_TO_TAG.get(String(pair[0]).toLowerCase())
        : undefined;
      if (tag !== undefined) {
        if (pair[1] != null && pair[1] !== '') tags = { ...tags, [tag]: String(pair[1]) };
      } else kept.push(pair);
    }
    // An empty attribution header sets no tag but is still ours to remove.
    return { tags, stripped: strip && kept.length < headers.length ? kept : undefined };
  }

  if (
    typeof (headers as Headers).forEach === 'function' &&
    typeof (headers as Headers).get === 'function'
  ) {
    const h = headers as Headers;
    let found = false;
    h.forEach((value, key) => {
      const tag = HEADER_TO_TAG.get(key.toLowerCase());
      if (tag !== undefined) {
        found = true;
        if (value !== '') tags = { ...tags, [tag]: value };
      }
    });
    if (!found || !strip) return { tags, stripped: undefined };
    const copy = new Headers(h);
    for (const name of HEADER_TO_TAG.keys()) copy.delete(name);
    return { tags, stripped: copy };
  }

  const record = headers as Record<string, unknown>;
  let kept: Record<string, unknown> | undefined;
  for (const key in record) {
    const tag = HEADER_TO_TAG.get(key.toLowerCase());
    if (tag === undefined) continue;
    const value = record[key];
    if (value != null && value !== '') tags = { ...tags, [tag]: String(value) };
    if (strip) {
      kept ??= { ...record };
      delete kept[key];
    }
  }
  return { tags, stripped: kept };
}

/** Attribution headers found in a client's default headers. */
export interface DefaultHeaderAttribution {
  tags: Tags | undefined;
  /** Lowercased names of the attribution headers present (empty ones included): to remove per call. */
  present: string[];
}

const NO_DEFAULTS: DefaultHeaderAttribution = { tags: undefined, present: [] };

/**
 * Reads `X-Department`, … from an `openai` client's `defaultHeaders` (kept in
 * `client._options.defaultHeaders`; a plain object, `Headers`, pairs, or the SDK's
 * own `{ values: Headers, nulls: Set }` when `OPENAI_CUSTOM_HEADERS` is set).
 */
export function readDefaultAttributionHeaders(client: unknown): DefaultHeaderAttribution {
  const defaults = (client as { _options?: { defaultHeaders?: unknown } } | undefined)?._options
    ?.defaultHeaders;
  if (defaults == null || typeof defaults !== 'object') return NO_DEFAULTS;
  const values = (defaults as { values?: unknown }).values;
  const headers = values instanceof Headers ? values : defaults;
  const present = new Set<string>();
  const note = (name: unknown) => {
    const lower = String(name).toLowerCase();
    if (HEADER_TO_TAG.has(lower)) present.add(lower);
  };
  if (Array.isArray(headers)) {
    for (const pair of headers) if (Array.isArray(pair)) note(pair[0]);
  } else if (headers instanceof Headers) {
    for (const key of headers.keys()) note(key);
  } else for (const key in headers as Record<string, unknown>) note(key);
  if (present.size === 0) return NO_DEFAULTS;
  return { tags: readAttributionHeaders(headers, false).tags, present: [...present] };
}

/**
 * Per-call headers that also remove the named default headers: the SDK merges
 * per-call headers over the client's defaults, and a `null` value removes one.
 * The client is left untouched, so its other calls (and other code using it) are
 * unaffected. Keeps the caller's shape where it can hold a null (object, pairs).
 */
export function withoutDefaultHeaders(headers: unknown, names: readonly string[]): unknown {
  const nulls = names.map((name) => [name, null] as const);
  if (headers == null) return Object.fromEntries(nulls);
  if (Array.isArray(headers)) return [...headers, ...nulls];
  if (headers instanceof Headers) return [...headers.entries(), ...nulls];
  const nullable = headers as { values?: unknown; nulls?: unknown };
  if (nullable.values instanceof Headers && nullable.nulls instanceof Set) {
    // The SDK's own merged-headers shape: its values, its removals, then ours.
    return [
      ...nullable.values.entries(),
      ...[...nullable.nulls].map((name) => [String(name), null] as const),
      ...nulls,
    ];
  }
  return { ...(headers as Record<string, unknown>), ...Object.fromEntries(nulls) };
}
