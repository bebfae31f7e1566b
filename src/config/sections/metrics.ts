/** The `metrics` section: the exporter, its address, and the label limits. */
import { z } from 'zod';
import { METRIC_LABELS } from '../../metrics/contract.js';
import { boolean, configObject, expecting, positiveInteger, text } from '../fields.js';
import { EXPECTED } from '../messages.js';

/** `metrics`. */
export const metricsSchema = configObject({
  exporter: z.enum(['prometheus', 'none'], expecting(EXPECTED.exporter)).optional(),
  host: text().optional(),
  port: z
    .number(expecting(EXPECTED.port))
    .int(expecting(EXPECTED.port))
    .min(1, expecting(EXPECTED.port))
    .max(65535, expecting(EXPECTED.port))
    .optional(),
  endpoint: z
    .string(expecting(EXPECTED.endpoint))
    .startsWith('/', expecting(EXPECTED.endpoint))
    .optional(),
  labels: z
    .array(z.enum(METRIC_LABELS, expecting(EXPECTED.label)), expecting(EXPECTED.labels))
    .optional(),
  maxValuesPerLabel: positiveInteger().optional(),
  // 16: room for a readable prefix next to the hash suffix a cut value gets.
  maxLabelValueLength: z
    .number(expecting(EXPECTED.labelValueLength))
    .int(expecting(EXPECTED.labelValueLength))
    .min(16, expecting(EXPECTED.labelValueLength))
    .optional(),
  maxSeries: positiveInteger().optional(),
  cardinalityLimit: positiveInteger().optional(),
  perValueTop: positiveInteger().optional(),
  withoutScopeInfo: boolean().optional(),
});
