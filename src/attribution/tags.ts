import { InvalidTagsError } from '../errors/usage-errors.js';
import { TAG_NAMES } from '../metrics/contract.js';
import type { TagName, Tags } from '../types.js';

// Every tag, in a fixed order: the metrics contract's list.
export { TAG_NAMES };

/** Request headers that attribute a single SDK call, lowercased, by tag. */
export const TAG_HEADERS: Readonly<Record<TagName, string>> = {
  department: 'x-department',
  project: 'x-project',
  environment: 'x-environment',
  user: 'x-user',
  feature: 'x-feature',
  customer: 'x-customer',
};

/** W3C baggage keys carrying tags between services. */
export const TAG_BAGGAGE_KEYS: Readonly<Record<TagName, string>> = {
  department: 'tokenfuse.department',
  project: 'tokenfuse.project',
  environment: 'tokenfuse.environment',
  user: 'tokenfuse.user',
  feature: 'tokenfuse.feature',
  customer: 'tokenfuse.customer',
};

/** Span attribute names of the tags. */
export const TAG_ATTRIBUTES: Readonly<Record<TagName, string>> = {
  department: 'tokenfuse.department',
  project: 'tokenfuse.project',
  environment: 'tokenfuse.environment',
  user: 'tokenfuse.user',
  feature: 'tokenfuse.feature',
  customer: 'tokenfuse.customer',
};

/** Validates a tag object given by user code, naming the bad key or value. */
export function assertTags(tags: unknown, where: string): asserts tags is Tags {
  if (tags === null || typeof tags !== 'object') {
    throw new InvalidTagsError(where, `expected an object of tags, got ${describe(tags)}`);
  }
  for (const [key, value] of Object.entries(tags)) {
    if (!(TAG_NAMES as readonly string[]).includes(key)) {
      throw new InvalidTagsError(
        where,
        `unknown tag '${key}'; tags are ${TAG_NAMES.map((t) => `'${t}'`).join(', ')}`,
      );
    }
    if (value !== undefined && (typeof value !== 'string' || value === '')) {
      throw new InvalidTagsError(
        where,
        `tag '${key}' must be a non-empty string, got ${describe(value)}`,
      );
    }
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'object') return Array.isArray(value) ? 'an array' : 'an object';
  return `${String(value)} (${typeof value})`;
}
