/** The `apiKeys` section: the secret of API-key ids and the owners of shared keys. */
import { z } from 'zod';
import { configObject, expecting, text } from '../fields.js';

const ownerSchema = configObject({
  name: text().optional(),
  department: text().optional(),
  project: text().optional(),
  environment: text().optional(),
  feature: text().optional(),
  customer: text().optional(),
  user: text().optional(),
});

/** `apiKeys`. */
export const apiKeysSchema = configObject({
  // Short secrets make the ids guessable from a list of candidate keys.
  secret: z
    .string(expecting('a secret of at least 16 characters'))
    .min(16, expecting('a secret of at least 16 characters'))
    .optional(),
  owners: z
    .record(
      z
        .string()
        .regex(/^[0-9a-f]{16}$/, expecting('an API key id: 16 hex digits (tokenfuse.api_key.id)')),
      ownerSchema,
      expecting('an object of owners by API key id'),
    )
    .optional(),
});
