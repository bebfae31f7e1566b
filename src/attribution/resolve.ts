import type { Context } from '@opentelemetry/api';
import type { Tags } from '../types.js';
import { tagsFromContext } from './context.js';

/**
 * Merges the three sources of a call's tags; later wins:
 * config defaults / environment, then the active context (baggage), then the call's headers.
 */
export function resolveTags(
  defaults: Tags,
  ctx: Context | undefined,
  fromHeaders: Tags | undefined,
): Tags {
  const fromContext = ctx === undefined ? undefined : tagsFromContext(ctx);
  if (fromContext === undefined && fromHeaders === undefined) return defaults;
  return { ...defaults, ...fromContext, ...fromHeaders };
}
