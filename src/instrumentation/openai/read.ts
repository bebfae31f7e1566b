/**
 * Readers shared by the openai operation adapters. A 200 response is not a promise
 * of its shape (proxies, compatible servers, bugs): every read tolerates anything
 * in any field, and never throws.
 */
import { ATTR } from '../../accounting/span-attributes.js';
import type { MaxOutput } from '../../fuses/admission-estimate.js';
import type { AttributeSink, StreamState } from '../sdk-adapter.js';

export function isObject(value: unknown): value is Record<string, any> {
  return typeof value === 'object' && value !== null;
}

/** A plain object that is no thenable: caller options and body fields the SDK would copy. */
export function isPlainObject(value: unknown): value is Record<string, any> {
  return (
    value !== null &&
    typeof value === 'object' &&
    !Array.isArray(value) &&
    typeof (value as { then?: unknown }).then !== 'function'
  );
}

export function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** A token limit field: unset, a count, or a value the admission must refuse to trust. */
export function readMax(body: any, field: string): MaxOutput {
  const value = body?.[field];
  if (value === undefined || value === null) return { kind: 'unset' };
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
    ? { kind: 'set', tokens: value }
    : { kind: 'invalid', field, value };
}

/** `service_tier` of a request, a response or a stream item, when it names one. */
export function serviceTierOf(value: unknown): string | undefined {
  const tier = (value as { service_tier?: unknown } | null | undefined)?.service_tier;
  return typeof tier === 'string' && tier !== '' ? tier : undefined;
}

export function requestModel(body: any): string | undefined {
  return typeof body?.model === 'string' ? body.model : undefined;
}

export function requestServiceTier(body: any): string | undefined {
  return typeof body?.service_tier === 'string' ? body.service_tier : undefined;
}

function finiteNumber(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** Writes the request's span attributes shared by every openai API. */
export function writeRequestAttributes(
  span: AttributeSink,
  body: any,
  withMaxTokens: boolean,
): void {
  // The limit as the caller wrote it (per choice), not the bound the admission reserves.
  if (withMaxTokens) {
    const maxTokens =
      finiteNumber(body?.max_completion_tokens) ??
      finiteNumber(body?.max_tokens) ??
      finiteNumber(body?.max_output_tokens);
    if (maxTokens) span.setAttribute(ATTR.requestMaxTokens, maxTokens);
  }
  if (typeof body?.temperature === 'number')
    span.setAttribute(ATTR.requestTemperature, body.temperature);
  if (typeof body?.service_tier === 'string')
    span.setAttribute(ATTR.requestServiceTier, body.service_tier);
}

/** Chat chunks carry the tier on every chunk; Responses events on `response`. */
export function noteStreamTier(state: StreamState, item: unknown): void {
  state.serviceTier =
    serviceTierOf((item as { response?: unknown } | null)?.response) ??
    serviceTierOf(item) ??
    state.serviceTier;
}

/** What every openai API reads from its request the same way: model, tier, span attributes. */
export function openaiRequest(withMaxTokens: boolean) {
  return {
    model: requestModel,
    requestServiceTier,
    writeRequestAttributes: (span: AttributeSink, body: unknown) =>
      writeRequestAttributes(span, body, withMaxTokens),
  };
}
