/** The `attribution` section: tag defaults and where per-call tags are read from. */
import type { z } from 'zod';
import { TAG_NAMES } from '../../metrics/contract.js';
import type { TagName } from '../../types.js';
import { boolean, configObject, text } from '../fields.js';

const tagsSchema = configObject(
  Object.fromEntries(TAG_NAMES.map((tag) => [tag, text().optional()])) as Record<
    TagName,
    z.ZodOptional<ReturnType<typeof text>>
  >,
);

/** `attribution`. */
export const attributionSchema = configObject({
  defaults: tagsSchema.optional(),
  headers: boolean().optional(),
  stripHeaders: boolean().optional(),
  baggage: boolean().optional(),
});
