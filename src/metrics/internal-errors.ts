import type { Meter, ObservableResult } from '@opentelemetry/api';
import { internalErrorCounts } from '../internal-errors.js';
import { INTERNAL_ERRORS_METRIC } from './contract.js';

/**
 * Exports `tokenfuse_internal_errors_total{component}` on `meter`: every component from 0, so
 * an alert on its increase has a series before the first failure.
 */
export function registerInternalErrors(meter: Meter): void {
  meter
    .createObservableCounter(INTERNAL_ERRORS_METRIC.otel, {
      description: INTERNAL_ERRORS_METRIC.help,
    })
    .addCallback((result: ObservableResult) => {
      for (const [component, n] of internalErrorCounts()) result.observe(n, { component });
    });
}
