import { type Context, context, propagation } from '@opentelemetry/api';
import type { TagName, Tags } from '../types.js';
import { assertTags, TAG_BAGGAGE_KEYS, TAG_NAMES } from './tags.js';

/**
 * Runs `fn` with `tags` attributed to every LLM call made inside it, including
 * calls made after `await`s and in callbacks (OpenTelemetry context), and in
 * downstream services (the tags are also written as W3C baggage, which
 * OpenTelemetry's HTTP instrumentations propagate).
 *
 * Nested calls merge: inner tags win over outer ones.
 *
 * @example
 * await withAttribution({ department: 'marketing', feature: 'subject-lines' }, async () => {
 *   await openai.chat.completions.create({ ... });
 * });
 */
export function withAttribution<R>(tags: Tags, fn: () => R): R {
  assertTags(tags, 'withAttribution()');
  return context.with(contextWithAttribution(context.active(), tags), fn);
}

/** Returns `ctx` with `tags` added as baggage (for use with `context.with` or propagation). */
export function contextWithAttribution(ctx: Context, tags: Tags): Context {
  let baggage = propagation.getBaggage(ctx) ?? propagation.createBaggage();
  for (const name of TAG_NAMES) {
    const value = tags[name];
    if (value !== undefined) baggage = baggage.setEntry(TAG_BAGGAGE_KEYS[name], { value });
  }
  return propagation.setBaggage(ctx, baggage);
}

/** Reads the tags carried by the context's baggage; undefined when there are none. */
export function tagsFromContext(ctx: Context): Tags | undefined {
  const baggage = propagation.getBaggage(ctx);
  if (baggage === undefined) return undefined;
  let tags: Tags | undefined;
  for (const name of TAG_NAMES) {
    const value = baggage.getEntry(TAG_BAGGAGE_KEYS[name])?.value;
    if (value) {
      tags ??= {};
      tags[name as TagName] = value;
    }
  }
  return tags;
}

/** The tags in effect for the active context (for logging or custom spans). */
export function currentAttribution(): Tags {
  return { ...tagsFromContext(context.active()) };
}
