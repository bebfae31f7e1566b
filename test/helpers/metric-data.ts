import type { MetricData } from '@opentelemetry/sdk-metrics';
import { expect } from 'vitest';

/** The metric `name` among what a reader exported; the test fails, naming it, when it is absent. */
export function metric(exported: MetricData[], name: string): MetricData {
  const found = exported.find((m) => m.descriptor.name === name);
  expect(found, name).toBeDefined();
  return found!;
}
