/** The `webhooks` and `webhookDelivery` sections: where events are posted, and how. */
import { z } from 'zod';
import { configObject, expecting, nonNegativeInteger, positiveInteger } from '../fields.js';
import { EXPECTED, expectedMessage } from '../messages.js';

const webhookSchema = configObject({
  url: z.string(expecting(EXPECTED.url)).refine((v) => /^https?:\/\//.test(v) && URL.canParse(v), {
    error: (issue) => expectedMessage(EXPECTED.url, issue.input),
  }),
  format: z.enum(['json', 'slack', 'discord'], expecting(EXPECTED.webhookFormat)).optional(),
});

/** `webhooks`. */
export const webhooksSchema = z.array(webhookSchema, expecting(EXPECTED.webhooks));

/** `webhookDelivery`. */
export const webhookDeliverySchema = configObject({
  concurrency: positiveInteger().optional(),
  maxQueue: positiveInteger().optional(),
  retries: nonNegativeInteger().optional(),
  timeoutMs: positiveInteger().optional(),
});
