/**
 * Reading an SDK's request and response payloads, which are the caller's or the
 * provider's data and may have any shape: these never throw.
 */
import type { MaxOutput } from '../fuses/admission-estimate.js';

export function isObject(value: unknown): value is Record<string, any> {
  return typeof value === 'object' && value !== null;
}

export function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/**
 * A token limit field (`field` names it in the admission's log and metric): unset, a
 * count, or a value the admission must refuse to trust.
 */
export function maxOutputOf(value: unknown, field: string): MaxOutput {
  if (value === undefined || value === null) return { kind: 'unset' };
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
    ? { kind: 'set', tokens: value }
    : { kind: 'invalid', field, value };
}
