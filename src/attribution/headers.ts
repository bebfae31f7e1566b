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
