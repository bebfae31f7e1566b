import { DiagConsoleLogger, DiagLogLevel, diag } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import {
  detectResources,
  envDetector,
  hostDetector,
  osDetector,
  processDetector,
  resourceFromAttributes,
  serviceInstanceIdDetector,
} from '@opentelemetry/resources';
import type { IMetricReader } from '@opentelemetry/sdk-metrics';
import { NodeSDK } from '@opentelemetry/sdk-node';
import {
  BatchSpanProcessor,
  ConsoleSpanExporter,
  SimpleSpanProcessor,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import type { Accountant } from './accounting/accountant.js';
import { CostSpanProcessor } from './accounting/cost-span-processor.js';
import { loadConfig } from './config/load-config.js';
import { type ResolvedConfig, resolveConfig } from './config/resolved-config.js';
import type { FuseBoard } from './fuses/fuse-board.js';
import { createSharedParts, TokenfuseInstrumentation } from './instrumentation/instrumentation.js';
import { PrometheusRestorer } from './ledger/prometheus-restore.js';
import { FUSE_COUNTERS, FUSE_METRIC, FUSE_METRIC_HELP } from './metrics/fuse-metrics.js';
import { METRIC, METRIC_HELP } from './metrics/instruments.js';
import {
  type KnownMetric,
  PromClientBridge,
  type PromClientRegistryLike,
  prometheusName,
} from './metrics/prom-client-bridge.js';
import type { TokenfuseOptions } from './types.js';

/** The parts tokenfuse adds to an OpenTelemetry setup, sharing one configuration and accountant. */
export interface Tokenfuse {
  readonly config: ResolvedConfig;
  /** Add to `NodeSDK({ instrumentations })`. */
  readonly instrumentation: TokenfuseInstrumentation;
  /** Add to `NodeSDK({ spanProcessors })` to price other instrumentations' GenAI spans too. */
  readonly spanProcessor: CostSpanProcessor;
  readonly accountant: Accountant;
  /** Budgets' fuses: inspect, `isolate()`, `reset()`, and subscribe to `onTrip`, `onThreshold`, … */
  readonly fuses: FuseBoard;
}

/**
 * Builds tokenfuse's instrumentation and span processor for an app that runs its
 * own OpenTelemetry `NodeSDK`.
 *
 * @example
 * const tokenfuse = createTokenfuse({ attribution: { defaults: { department: 'search' } } });
 * new NodeSDK({
 *   instrumentations: [tokenfuse.instrumentation],
 *   spanProcessors: [tokenfuse.spanProcessor, new BatchSpanProcessor({ exporter })],
 *   metricReaders: [new PrometheusExporter()],
 * }).start();
 */
export function createTokenfuse(
  options: TokenfuseOptions | ResolvedConfig = {},
  advanced: AdvancedOptions = {},
): Tokenfuse {
  const config = isResolved(options) ? options : resolveConfig(options);
  const shared = createSharedParts(config, advanced.clock);
  // Before the instrumentation registers the metrics: restoring adds its error counter.
  // The first restore starts now, in the background; calls matching a budget wait for
  // it (at most `timeoutMs`, see FuseBoard.enableRestore).
  const restore = config.ledger.restore;
  if (config.enabled && restore !== undefined && config.ledger.store === 'memory')
    shared.board.enableRestore(new PrometheusRestorer(restore.prometheus), restore);
  const instrumentation = new TokenfuseInstrumentation({ enabled: config.enabled }, shared);
  const spanProcessor = new CostSpanProcessor(shared.accountant, config);
  return {
    config,
    instrumentation,
    spanProcessor,
    accountant: shared.accountant,
    fuses: shared.board,
  };
}

/** Options for simulations and tests, not for production use. */
export interface AdvancedOptions {
  /** Clock of the budget windows and cool-downs (epoch ms). @default Date.now */
  clock?: () => number;
}

function isResolved(options: TokenfuseOptions | ResolvedConfig): options is ResolvedConfig {
  return (
    typeof (options as ResolvedConfig).source === 'string' &&
    'metrics' in options &&
    Array.isArray((options as ResolvedConfig).metrics?.labels)
  );
}

/** What `start()` (and so `tokenfuse/register`) set up. */
export interface TokenfuseRuntime extends Tokenfuse {
  readonly sdk: NodeSDK;
  /** The Prometheus endpoint's exporter, when `metrics.exporter` is `prometheus`. */
  readonly prometheus: PrometheusExporter | undefined;
  /** Serves the same metrics through prom-client; see {@link registerTokenfuseMetrics}. */
  readonly promClientBridge: PromClientBridge;
  shutdown(): Promise<void>;
}

export interface StartOptions {
  /** Configuration in code; when omitted, `tokenfuse.config.yaml` / `TOKENFUSE_CONFIG` and the environment are read. */
  config?: TokenfuseOptions;
  /** Path of a config file to read instead of the default lookup. */
  configPath?: string;
  /** Extra span processors (exporters) for the SDK tokenfuse starts. */
  spanProcessors?: SpanProcessor[];
  /** Extra metric readers for the SDK tokenfuse starts. */
  metricReaders?: IMetricReader[];
}

const RUNTIME = Symbol.for('tokenfuse.runtime');
const globalSlot = globalThis as { [RUNTIME]?: TokenfuseRuntime };

/** The runtime `tokenfuse/register` or `start()` created in this process, if any (shared by the CJS and ESM builds). */
export function getRuntime(): TokenfuseRuntime | undefined {
  return globalSlot[RUNTIME];
}

/**
 * Starts an OpenTelemetry NodeSDK with tokenfuse in it: what `tokenfuse/register`
 * runs. Returns the running parts; calling it again returns the first runtime.
 *
 * Traces are exported only when `OTEL_TRACES_EXPORTER` is `otlp` or `console`:
 * tokenfuse's accounting needs no exporter.
 */
export function start(options: StartOptions = {}): TokenfuseRuntime | undefined {
  const existing = getRuntime();
  if (existing) return existing;
  if (!process.env.OTEL_LOG_LEVEL) diag.setLogger(new DiagConsoleLogger(), DiagLogLevel.WARN);

  const config = options.config
    ? resolveConfig(options.config)
    : loadConfig(options.configPath ? { path: options.configPath } : {});
  if (!config.enabled) return undefined;

  const tokenfuse = createTokenfuse(config);
  const metricReaders: IMetricReader[] = [...(options.metricReaders ?? [])];
  let prometheus: PrometheusExporter | undefined;
  if (config.metrics.exporter === 'prometheus') {
    prometheus = new PrometheusExporter(
      { host: config.metrics.host, port: config.metrics.port, endpoint: config.metrics.endpoint },
      (err) => {
        if (err)
          diag.error(
            `tokenfuse: cannot serve metrics on ${config.metrics.host}:${config.metrics.port}`,
            err,
          );
      },
    );
    metricReaders.push(prometheus);
  }
  // Every reader keeps its own copy of every histogram, so each one costs per call.
  // With the Prometheus endpoint on, the prom-client bridge reads through that
  // exporter instead of being a reader of its own.
  const promClientBridge = prometheus ? new PromClientBridge(prometheus) : new PromClientBridge();
  if (!prometheus) metricReaders.push(promClientBridge);

  // Detect the resource ourselves so we can wait for its async attributes (host.id
  // is read from a file): pull exporters never wait for them, and the Prometheus
  // serializer logs an error on every scrape until they settle.
  let resource = detectResources({
    detectors: [envDetector, processDetector, hostDetector, osDetector, serviceInstanceIdDetector],
  });
  if (config.serviceName)
    resource = resource.merge(resourceFromAttributes({ 'service.name': config.serviceName }));
  void resource.waitForAsyncAttributes?.().catch(() => undefined);

  const sdk = new NodeSDK({
    resource,
    autoDetectResources: false,
    instrumentations: [tokenfuse.instrumentation],
    spanProcessors: [
      tokenfuse.spanProcessor,
      ...traceExportersFromEnv(),
      ...(options.spanProcessors ?? []),
    ],
    metricReaders,
    logRecordProcessors: [],
  });
  sdk.start();

  const runtime: TokenfuseRuntime = {
    ...tokenfuse,
    sdk,
    prometheus,
    promClientBridge,
    async shutdown() {
      delete globalSlot[RUNTIME];
      tokenfuse.instrumentation.disable();
      // First the ledger: calls in flight settle and what is pending is written to
      // Redis (within ledger.shutdownTimeoutMs), so their spans end and a final export
      // still carries what could not be written.
      await tokenfuse.fuses.close();
      await sdk.shutdown();
    },
  };
  globalSlot[RUNTIME] = runtime;
  return runtime;
}

function traceExportersFromEnv(): SpanProcessor[] {
  const names = (process.env.OTEL_TRACES_EXPORTER ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const processors: SpanProcessor[] = [];
  for (const name of names) {
    if (name === 'otlp')
      processors.push(new BatchSpanProcessor({ exporter: new OTLPTraceExporter() }));
    else if (name === 'console')
      processors.push(new SimpleSpanProcessor({ exporter: new ConsoleSpanExporter() }));
    else if (name !== 'none')
      diag.warn(
        `tokenfuse: OTEL_TRACES_EXPORTER=${name} is not supported by tokenfuse/register; use otlp or console`,
      );
  }
  return processors;
}

/** Every Prometheus metric of the metrics contract, with its type and help. */
export const CONTRACT_METRICS: readonly KnownMetric[] = [
  ...[METRIC.tokenUsage, METRIC.operationDuration, METRIC.timeToFirstChunk].map((n) => ({
    name: prometheusName(n, false),
    help: METRIC_HELP[n],
    type: 'histogram' as const,
  })),
  ...[METRIC.tokens, METRIC.cost, METRIC.requests, METRIC.unpriced].map((n) => ({
    name: prometheusName(n, true),
    help: METRIC_HELP[n],
    type: 'counter' as const,
  })),
  ...[FUSE_METRIC.limit, FUSE_METRIC.spent, FUSE_METRIC.utilization, FUSE_METRIC.state].map(
    (n) => ({
      name: prometheusName(n, false),
      help: FUSE_METRIC_HELP[n],
      type: 'gauge' as const,
    }),
  ),
  ...[FUSE_METRIC.trips, FUSE_METRIC.wouldBlock, FUSE_METRIC.ledgerErrors].map((n) => ({
    name: prometheusName(n, true),
    help: FUSE_METRIC_HELP[n],
    type: 'counter' as const,
  })),
];

/** Every Prometheus metric name of the metrics contract. */
export const METRIC_NAMES: readonly string[] = CONTRACT_METRICS.map((m) => m.name);

/**
 * Serves tokenfuse's metrics on an app's existing prom-client registry, next to
 * its own. Needs `tokenfuse/register` (or `start()`) to have run, with
 * `metrics.exporter: none` if you do not also want the :9464 endpoint.
 *
 * @example
 * import client from 'prom-client';
 * import { registerTokenfuseMetrics } from 'tokenfuse';
 * registerTokenfuseMetrics(client.register);
 */
export function registerTokenfuseMetrics(registry: PromClientRegistryLike): void {
  const runtime = getRuntime();
  if (!runtime) {
    throw new Error(
      'registerTokenfuseMetrics(): tokenfuse is not running in this process; start the app with ' +
        '`node --import tokenfuse/register` (or call start()), or add a PromClientBridge to your own NodeSDK',
    );
  }
  // Budget and fuse series exist only when budgets do, ledger errors only with the
  // shared ledger or restoring from Prometheus; don't declare them empty.
  const fuseNames = new Set(
    Object.values(FUSE_METRIC).map((n) => prometheusName(n, FUSE_COUNTERS.has(n))),
  );
  const ledgerErrors = prometheusName(FUSE_METRIC.ledgerErrors, true);
  const budgets = runtime.config.budgets.length > 0;
  const known = CONTRACT_METRICS.filter((m) =>
    m.name === ledgerErrors
      ? budgets && (runtime.fuses.shared || runtime.fuses.restores)
      : budgets || !fuseNames.has(m.name),
  );
  runtime.promClientBridge.registerWith(registry, known);
}
