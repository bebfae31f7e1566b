/** The `admin` section: the admin endpoint's port, loopback host and token. */
import { z } from 'zod';
import { configObject, expecting, text } from '../fields.js';
import { EXPECTED } from '../messages.js';

/** `admin`; the resolver checks the host is loopback and the token is there. */
export const adminSchema = configObject({
  port: z
    .number(expecting(EXPECTED.port))
    .int(expecting(EXPECTED.port))
    .min(1, expecting(EXPECTED.port))
    .max(65535, expecting(EXPECTED.port))
    .optional(),
  host: text().optional(),
  token: text().optional(),
});
