/**
 * The building blocks of the config schema: field types whose every check gives the
 * one message of what the field expects, and the strict object every section is
 * built with. Each section of the schema (src/config/sections/) composes these.
 */
import { z } from 'zod';
import { parseDuration } from '../budgets/duration.js';
import { EXPECTED, expectedMessage, unknownKeysMessage } from './messages.js';

/**
 * zod params giving every issue of a schema (type and checks alike) one message.
 * A field has a single expectation; which of zod's checks failed does not matter
 * to the reader.
 */
export function expecting(what: string) {
  return { error: (issue: { input?: unknown }) => expectedMessage(what, issue.input) };
}

/** A non-empty string. */
export const text = () => z.string(expecting(EXPECTED.text)).min(1, expecting(EXPECTED.text));
/** `true` or `false`. */
export const boolean = () => z.boolean(expecting(EXPECTED.boolean));

/** A whole number > 0, with the message every such field gives. */
export function positiveInteger() {
  const message = expecting(EXPECTED.positiveInteger);
  return z.number(message).int(message).positive(message);
}

/** A whole number >= 0, with the message every such field gives. */
export function nonNegativeInteger() {
  const message = expecting(EXPECTED.nonNegativeInteger);
  return z.number(message).int(message).min(0, message);
}

/** A duration such as `90s` or `7d`, as {@link parseDuration} reads it. */
export const duration = () =>
  z.string(expecting(EXPECTED.duration)).refine((v) => parseDuration(v) !== undefined, {
    error: (issue) => expectedMessage(EXPECTED.duration, issue.input),
  });

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

/** Whether `value` is a URL a Redis client connects to. */
export function isRedisUrl(value: string): boolean {
  return /^rediss?:\/\//.test(value) && URL.canParse(value);
}
