import type { Server } from 'node:http';
import { DiagConsoleLogger, DiagLogLevel, diag } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import {
  defaultResource,
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
import type { SpanProcessor } from '@opentelemetry/sdk-trace';
import { CostSpanProcessor } from './accounting/cost-span-processor.js';
import { createSharedParts, startRestore, TokenfuseInstrumentation } from './compose.js';
import { CONFIG_FILE_NAMES, CONFIG_PATH_ENV, loadConfig } from './config/load-config.js';
import { type ResolvedConfig, resolveConfig } from './config/resolved-config.js';
import { redactUrl } from './errors/redact.js';
import { attachProducer } from './metrics/attach-producer.js';
import { tokenfuseMetricViews } from './metrics/cardinality.js';
import { closeMetricsServer, serveMetrics } from './metrics/metrics-server.js';
import { PromClientBridge } from './metrics/prom-client-bridge.js';
import {
  describeMetrics,
  metricsExporters,
  pushMetricReaders,
  sdkDisabled,
  startContextOnly,
  traceProcessors,
} from './otel-exporters.js';
import {
  clearRuntime,
  currentRuntime,
  markNotRunning,
  setRuntime,
  type Tokenfuse,
  type TokenfuseRuntime,
} from './runtime.js';
import { ledgerLabel, logMode, metricsUrl, say, startupLine, unsupportedNode } from './startup.js';
import type { TokenfuseOptions } from './types.js';

/**
 * Builds tokenfuse's instrumentation and span processor for an app that runs its
 * own OpenTelemetry `NodeSDK`.
 *
 * @example
 * const tokenfuse = createTokenfuse({ attribution: { defaults: { department: 'search' } } });
 * new NodeSDK({
 *   instrumentations: [tokenfuse.instrumentation],
 *   spanProcessors: [tokenfuse.spanProcessor, new BatchSpanProcessor({ exporter })],
 *   metricReaders: [new PrometheusExporter({ metricProducers: [tokenfuse.metricProducer] })],
 *   views: tokenfuse.metricViews,
 * }).start();
 */
export function createTokenfuse(
  options: TokenfuseOptions | ResolvedConfig = {},
  advanced: AdvancedOptions = {},
): Tokenfuse {
  const config = isResolved(options) ? options : resolveConfig(options);
  const shared = createSharedParts(config, advanced.clock);
  // Before the instrumentation registers the metrics: restoring adds its error counter.
  startRestore(config, shared.board);
  const instrumentation = new TokenfuseInstrumentation({ enabled: config.enabled }, shared);
  const spanProcessor = new CostSpanProcessor(
    shared.accountant,
    config,
    shared.board,
    shared.issues,
  );
  return {
    config,
    instrumentation,
    spanProcessor,
    accountant: shared.accountant,
    fuses: shared.board,
    priceCatalog: shared.catalog,
    metricViews: tokenfuseMetricViews(config.metrics),
    seriesOverflow: shared.seriesOverflow,
    metricProducer: shared.engine.producer,
  };
}

/** Options for simulations and tests, not for production use. */
export interface AdvancedOptions {
  /** Clock of the budget windows and cool-downs, and of the price catalog's age (epoch ms). @default Date.now */
  clock?: () => number;
}

function isResolved(options: TokenfuseOptions | ResolvedConfig): options is ResolvedConfig {
  return (
    typeof (options as ResolvedConfig).source === 'string' &&
    'metrics' in options &&
    Array.isArray((options as ResolvedConfig).metrics?.labels)
  );
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

/**
 * Starts an OpenTelemetry NodeSDK with tokenfuse in it: what `tokenfuse/register`
 * runs. Returns the running parts; calling it again returns the first runtime.
 *
 * Exporters follow the standard OpenTelemetry variables (docs/opentelemetry.md):
 * metrics as `OTEL_METRICS_EXPORTER` says (`prometheus` by default), traces only when
 * `OTEL_TRACES_EXPORTER` is `otlp` or `console` (tokenfuse's accounting needs no
 * exporter). With `OTEL_SDK_DISABLED=true` nothing is exported and no endpoint is
 * served, while budgets and fuses keep enforcing: a fuse is a safety device, not telemetry.
 */
export function start(options: StartOptions = {}): TokenfuseRuntime | undefined {
  const existing = currentRuntime();
  if (existing) return existing;
  const problem = unsupportedNode();
  if (problem) {
    say(`tokenfuse: ${problem}; tokenfuse is disabled, your app runs uninstrumented`);
    markNotRunning('unsupported_node', `Node.js v${process.versions.node}`);
    return undefined;
  }
  logMode(); // validates TOKENFUSE_LOG
  if (!process.env.OTEL_LOG_LEVEL) diag.setLogger(new DiagConsoleLogger(), DiagLogLevel.WARN);

  // The kill switch is honoured before the file is read, so that it also gets an app
  // with a broken config file running again.
  if (/^(true|1|yes)$/i.test(process.env.TOKENFUSE_DISABLED?.trim() ?? '')) {
    return disabled('TOKENFUSE_DISABLED');
  }
  const config = options.config
    ? resolveConfig(options.config)
    : loadConfig(options.configPath ? { path: options.configPath } : {});
  if (!config.enabled) {
    return disabled(
      config.source === 'code' ? 'enabled: false' : `enabled: false in ${config.source}`,
    );
  }

  const tokenfuse = createTokenfuse(config);
  const telemetryOff = sdkDisabled();
  // Detect the resource ourselves so we can wait for its async attributes (host.id
  // is read from a file): pull exporters never wait for them, and the Prometheus
  // serializer logs an error on every scrape until they settle, so /metrics waits.
  // On the SDK's default resource (service.name `unknown_service:node`, telemetry.sdk.*),
  // as the NodeSDK does: an OTLP backend keys everything by service.name.
  let resource = defaultResource().merge(
    detectResources({
      detectors: [
        envDetector,
        processDetector,
        hostDetector,
        osDetector,
        serviceInstanceIdDetector,
      ],
    }),
  );
  if (config.serviceName)
    resource = resource.merge(resourceFromAttributes({ 'service.name': config.serviceName }));
  const resourceReady = (resource.waitForAsyncAttributes?.() ?? Promise.resolve()).catch(
    () => undefined,
  );
  const exporters = telemetryOff ? [] : metricsExporters(config.metrics.exporter);
  const pushed = pushMetricReaders(exporters);
  const metricReaders: IMetricReader[] = [...(options.metricReaders ?? []), ...pushed.readers];
  let prometheus: PrometheusExporter | undefined;
  let metricsServer: Server | undefined;
  if (exporters.includes('prometheus')) {
    const { host, port, endpoint, withoutScopeInfo } = config.metrics;
    prometheus = new PrometheusExporter({
      host,
      port,
      endpoint,
      withoutScopeInfo,
      preventServerStart: true,
      metricProducers: [tokenfuse.metricProducer],
    });
    metricsServer = serveMetrics(prometheus, {
      host,
      port,
      endpoint,
      ready: resourceReady,
      watch: tokenfuse.seriesOverflow,
      producer: tokenfuse.metricProducer,
      text: { withoutScopeInfo },
    });
    metricReaders.push(prometheus);
  }
  // Every reader keeps its own copy of every histogram, so each one costs per call.
  // With the Prometheus endpoint on, the prom-client bridge reads through that
  // exporter instead of being a reader of its own.
  const promClientBridge = new PromClientBridge(prometheus, tokenfuse.seriesOverflow);
  if (!prometheus && !telemetryOff) metricReaders.push(promClientBridge);
  // Every reader, whoever built it, collects tokenfuse's per-call metrics too.
  for (const reader of metricReaders) attachProducer(reader, tokenfuse.metricProducer);

  // Readers and processors are always given, so the NodeSDK never builds its own from
  // the same variables (which would export everything twice).
  const sdk = new NodeSDK({
    resource,
    autoDetectResources: false,
    instrumentations: [tokenfuse.instrumentation],
    spanProcessors: telemetryOff
      ? []
      : [tokenfuse.spanProcessor, ...traceProcessors(), ...(options.spanProcessors ?? [])],
    metricReaders: telemetryOff ? [] : metricReaders,
    // Past the SDK's default of 2000 series per instrument, label sets tokenfuse keeps
    // would be folded into one overflow series (with wrong sums): sized from our caps.
    views: tokenfuse.metricViews,
    logRecordProcessors: [],
  });
  // The NodeSDK does nothing at all when OTEL_SDK_DISABLED is true. The calls are
  // patched all the same (the instrumentation enables itself when it is built), but
  // withAttribution() needs a context manager to follow async code into them.
  if (telemetryOff) startContextOnly();
  else sdk.start();

  say(
    startupLine({
      configFile: options.config
        ? 'code'
        : config.source === 'defaults'
          ? undefined
          : config.source,
      lookedIn: `${CONFIG_FILE_NAMES.join(', ')} in ${process.cwd()}; set ${CONFIG_PATH_ENV} to name one`,
      budgets: config.budgets.length,
      policies: config.policies.length,
      ledger:
        config.ledger.store === 'redis'
          ? ledgerLabel(config.ledger.url)
          : config.ledger.restore
            ? `memory, spend read back from Prometheus at ${redactUrl(config.ledger.restore.prometheus)}`
            : 'memory',
      metrics: describeMetrics(
        telemetryOff,
        metricsServer
          ? metricsUrl(config.metrics.host, config.metrics.port, config.metrics.endpoint)
          : undefined,
        pushed.described,
      ),
    }),
  );

  const runtime: TokenfuseRuntime = {
    ...tokenfuse,
    sdk,
    prometheus,
    promClientBridge,
    telemetryOff,
    async shutdown() {
      clearRuntime('shut_down');
      tokenfuse.instrumentation.disable();
      if (metricsServer) await closeMetricsServer(metricsServer);
      tokenfuse.priceCatalog.stop();
      // First the ledger: calls in flight settle and what is pending is written to
      // Redis (within ledger.shutdownTimeoutMs), so their spans end and a final export
      // still carries what could not be written.
      await tokenfuse.fuses.close();
      await sdk.shutdown();
      await tokenfuse.instrumentation.closeConnections();
    },
  };
  setRuntime(runtime);
  return runtime;
}

function disabled(by: string): undefined {
  say(`tokenfuse: disabled by ${by}; your app runs uninstrumented`);
  markNotRunning('disabled', by);
  return undefined;
}

// The metrics contract's lists, public under these names since before it had a module.
export { CONTRACT_METRICS, METRIC_NAMES } from './metrics/contract.js';
export {
  getRuntime,
  markNotRunning,
  registerTokenfuseMetrics,
  type TokenfuseMiddlewareOptions,
  tokenfuseMiddleware,
} from './runtime.js';
// Found through the running tokenfuse (runtime.ts); public from here as before.
export type { Tokenfuse, TokenfuseRuntime };
