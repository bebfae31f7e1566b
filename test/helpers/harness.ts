import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { context, propagation } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CBaggagePropagator } from '@opentelemetry/core';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import {
  InMemorySpanExporter,
  type ReadableSpan,
  type Sampler,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import type OpenAIType from 'openai';
import type { ResolvedConfig } from '../../src/config/resolved-config.js';
import { createTokenfuse, type Tokenfuse } from '../../src/index.js';
import type { TokenfuseOptions } from '../../src/types.js';
import { parsePrometheusText, type Sample } from './prom-text.js';

const require = createRequire(import.meta.url);

let contextReady = false;
function ensureGlobalContext(): void {
  if (contextReady) return;
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CBaggagePropagator());
  contextReady = true;
}

/**
 * One test's telemetry pipeline: tokenfuse's instrumentation and span processor
 * in a real TracerProvider (spans into memory) and MeterProvider (a real
 * Prometheus exporter behind a real HTTP /metrics endpoint).
 */
export interface Harness {
  tokenfuse: Tokenfuse;
  /** The `openai` module (CJS, loaded after the instrumentation so it is patched). */
  OpenAI: typeof OpenAIType;
  spans(): ReadableSpan[];
  /** GET /metrics over HTTP, parsed. */
  scrape(): Promise<Sample[]>;
  /** GET /metrics over HTTP, raw text. */
  metricsText(): Promise<string>;
  tracerProvider: TracerProvider;
  /** Idempotent: a test may close a harness itself before its suite's clean-up does. */
  close(): Promise<void>;
}

export async function createHarness(
  options: TokenfuseOptions | ResolvedConfig = {},
  extra: { sampler?: Sampler } = {},
): Promise<Harness> {
  ensureGlobalContext();
  const tokenfuse = createTokenfuse(options);
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new TracerProvider({
    spanProcessors: [tokenfuse.spanProcessor, new SimpleSpanProcessor({ exporter })],
    ...(extra.sampler ? { sampler: extra.sampler } : {}),
  });
  const prometheus = new PrometheusExporter({
    preventServerStart: true,
    metricProducers: [tokenfuse.metricProducer],
  });
  const meterProvider = new MeterProvider({ readers: [prometheus] });
  tokenfuse.instrumentation.setTracerProvider(tracerProvider);
  tokenfuse.instrumentation.setMeterProvider(meterProvider);

  // The instrumentation hooks `require('openai')` when it is first loaded; an earlier
  // harness in this worker may have loaded (and unpatched) it already: patch it then.
  const openaiModule = require('openai');
  const OpenAI = openaiModule.OpenAI as typeof OpenAIType;
  if (!isWrapped(OpenAI)) {
    for (const def of openaiDefinitions(tokenfuse)) {
      def.patch?.(openaiModule, require('openai/version').VERSION);
    }
  }

  const server: Server = createServer((req, res) => prometheus.getMetricsRequestHandler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;

  const metricsText = async () => (await fetch(url)).text();
  let closing: Promise<void> | undefined;
  const close = async () => {
    tokenfuse.instrumentation.disable();
    if (isWrapped(OpenAI)) {
      for (const def of openaiDefinitions(tokenfuse)) def.unpatch?.(openaiModule);
    }
    await new Promise((resolve) => server.close(resolve));
    await meterProvider.shutdown();
    await tracerProvider.shutdown();
  };
  return {
    tokenfuse,
    OpenAI,
    tracerProvider,
    spans: () => exporter.getFinishedSpans(),
    metricsText,
    scrape: async () => parsePrometheusText(await metricsText()),
    close: () => {
      closing ??= close();
      return closing;
    },
  };
}

function isWrapped(OpenAI: any): boolean {
  return Boolean(OpenAI.Chat.Completions.prototype.create.__wrapped);
}

/** The instrumentation's definitions of `openai` (each SDK has its own). */
function openaiDefinitions(tokenfuse: Tokenfuse): any[] {
  return (tokenfuse.instrumentation as any)
    .getModuleDefinitions()
    .filter((def: any) => def.name === 'openai');
}
