import { diag } from '@opentelemetry/api';
import type { IMetricReader, MetricProducer } from '@opentelemetry/sdk-metrics';
import { producerFor } from './delta-producer.js';

/** The producer each reader was given, so a second attach adds nothing. */
const attached = new WeakMap<IMetricReader, MetricProducer>();

/**
 * Adds `producer` to a reader that was built without it, so the reader collects
 * tokenfuse's per-call metrics as well. The SDK's `MetricReader` takes its producers
 * in its constructor only (`metricProducers`) and keeps them in one list, read at each
 * collection; a reader passed to `start()` was built by someone else, so the producer
 * joins that list. Returns false (and says so) for a reader without one: it then gets
 * every metric but tokenfuse's per-call ones. A reader that asks for delta temporality
 * gets deltas of `producer` (delta-producer.ts).
 */
export function attachProducer(reader: IMetricReader, producer: MetricProducer): boolean {
  const producers = (reader as { _metricProducers?: unknown })._metricProducers;
  if (Array.isArray(producers)) {
    if (producers.includes(producer) || attached.has(reader)) return true;
    const own = producerFor(reader, producer);
    attached.set(reader, own);
    producers.push(own);
    return true;
  }
  diag.warn(
    `tokenfuse: the metric reader ${reader.constructor?.name ?? typeof reader} keeps no list of ` +
      `metric producers, so it does not receive tokenfuse's per-call metrics (tokens, cost, ` +
      `requests, the GenAI histograms); build it with metricProducers: ` +
      `[tokenfuse.metricProducer] instead.`,
  );
  return false;
}
