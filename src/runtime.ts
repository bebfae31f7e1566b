/**
 * The one tokenfuse runtime of the process, and what finds it: `getRuntime()`, the
 * prom-client registration and the Vercel AI SDK middleware. `start()` (tokenfuse.ts)
 * sets it.
 */
import { diag } from '@opentelemetry/api';
import type { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import type { MetricProducer, ViewOptions } from '@opentelemetry/sdk-metrics';
import type { NodeSDK } from '@opentelemetry/sdk-node';
import type { Accountant } from './accounting/accountant.js';
import type { CostSpanProcessor } from './accounting/cost-span-processor.js';
import type { TokenfuseInstrumentation } from './compose.js';
import type { ResolvedConfig } from './config/resolved-config.js';
import { NotRunningError, type NotRunningReason } from './errors/not-running-error.js';
import type { FuseBoard } from './fuses/fuse-board.js';
import {
  type CallRunner,
  createAiSdkMiddleware,
  type TokenfuseMiddleware,
} from './instrumentation/ai-sdk/index.js';
import { CONTRACT_METRICS, FUSE_METRIC, PROMETHEUS_NAME } from './metrics/contract.js';
import type { OverflowWatch } from './metrics/overflow-watch.js';
import type { PromClientBridge, PromClientRegistryLike } from './metrics/prom-client-bridge.js';
import type { PriceCatalog } from './pricing/price-catalog.js';
import { say } from './startup.js';

/** The parts tokenfuse adds to an OpenTelemetry setup, sharing one configuration and accountant. */
export interface Tokenfuse {
  readonly config: ResolvedConfig;
  /** Add to `NodeSDK({ instrumentations })`. */
  readonly instrumentation: TokenfuseInstrumentation;
  /**
   * Add to `NodeSDK({ spanProcessors })` to price other instrumentations' GenAI spans too,
   * and settle their spend into the budgets they match (counted, never blocked).
   */
  readonly spanProcessor: CostSpanProcessor;
  readonly accountant: Accountant;
  /** Budgets' fuses: inspect, `isolate()`, `reset()`, and subscribe to `onTrip`, `onThreshold`, … */
  readonly fuses: FuseBoard;
  /** Where catalog prices come from (`pricing.catalog`): `ready`, `refresh()`, `ageSeconds()`. */
  readonly priceCatalog: PriceCatalog;
  /**
   * Views that sized the SDK's cardinality limit of tokenfuse's per-call instruments.
   * Those are now aggregated by tokenfuse (see {@link metricProducer}), which applies the
   * same limits itself; kept so that setups passing them to `NodeSDK({ views })` still work.
   */
  readonly metricViews: ViewOptions[];
  /** @internal counts the SDK's overflow series in what tokenfuse serves. */
  readonly seriesOverflow: OverflowWatch;
  /**
   * tokenfuse's per-call metrics (`tokenfuse_tokens_total`, `_cost_usd_total`,
   * `_requests_total`, `_unpriced_total` and the GenAI histograms), aggregated by
   * tokenfuse itself: give it to each metric reader, `new PrometheusExporter({
   * metricProducers: [tokenfuse.metricProducer] })`. `start()` does so for its readers.
   */
  readonly metricProducer: MetricProducer;
}

/** What `start()` (and so `tokenfuse/register`) set up. */
export interface TokenfuseRuntime extends Tokenfuse {
  readonly sdk: NodeSDK;
  /** The Prometheus endpoint's exporter, when `metrics.exporter` is `prometheus`. */
  readonly prometheus: PrometheusExporter | undefined;
  /** Serves the same metrics through prom-client; see {@link registerTokenfuseMetrics}. */
  readonly promClientBridge: PromClientBridge;
  /** @internal `OTEL_SDK_DISABLED=true`: no metrics anywhere, prom-client included. */
  readonly telemetryOff?: boolean;
  shutdown(): Promise<void>;
}

// Registry symbols, not module variables: the CJS and ESM builds of tokenfuse can
// both be loaded in one process and must see the same runtime.
const RUNTIME = Symbol.for('tokenfuse.runtime');
const NOT_RUNNING = Symbol.for('tokenfuse.not-running');
const globalSlot = globalThis as {
  [RUNTIME]?: TokenfuseRuntime;
  [NOT_RUNNING]?: { reason: NotRunningReason; detail: string };
};

/**
 * The runtime `tokenfuse/register` or `start()` created in this process (shared by
 * the CJS and ESM builds).
 *
 * @throws {NotRunningError} (`code` `not_running`) when there is none, saying why:
 *   not started, disabled, an unsupported Node.js, a worker thread, or shut down.
 */
export function getRuntime(): TokenfuseRuntime {
  return requireRuntime('getRuntime()');
}

function requireRuntime(caller: string, hint?: string): TokenfuseRuntime {
  const runtime = globalSlot[RUNTIME];
  if (runtime) return runtime;
  const why = globalSlot[NOT_RUNNING] ?? { reason: 'not_started', detail: '' };
  throw new NotRunningError(caller, why.reason, why.detail, hint);
}

/**
 * Records why tokenfuse is not running, for {@link getRuntime}'s error.
 * @internal used by `tokenfuse/register`
 */
export function markNotRunning(reason: NotRunningReason, detail = ''): void {
  if (!globalSlot[RUNTIME]) globalSlot[NOT_RUNNING] = { reason, detail };
}

/** The process's runtime, if one is running. */
export function currentRuntime(): TokenfuseRuntime | undefined {
  return globalSlot[RUNTIME];
}

/** Forgets the runtime (it shut down), saying why for {@link getRuntime}'s error. */
export function clearRuntime(reason: NotRunningReason): void {
  delete globalSlot[RUNTIME];
  markNotRunning(reason);
}

/**
 * Makes `runtime` the process's runtime.
 * @internal used by `start()`
 */
export function setRuntime(runtime: TokenfuseRuntime): void {
  globalSlot[RUNTIME] = runtime;
  delete globalSlot[NOT_RUNNING];
}

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
  const runtime = requireRuntime(
    'registerTokenfuseMetrics()',
    'with your own NodeSDK, add a PromClientBridge to it instead',
  );
  if (runtime.telemetryOff) {
    // The bridge reads through no meter provider then; registering it would fail every scrape.
    say(
      "tokenfuse: OTEL_SDK_DISABLED=true: tokenfuse's metrics are not added to the prom-client registry",
    );
    return;
  }
  // Budget and fuse series exist only when budgets do, ledger errors only with the
  // shared ledger or restoring from Prometheus; don't declare them empty.
  const fuseNames = new Set(Object.values(FUSE_METRIC).map((n) => PROMETHEUS_NAME[n]));
  const ledgerErrors = PROMETHEUS_NAME[FUSE_METRIC.ledgerErrors];
  const budgets = runtime.config.budgets.length > 0;
  const known = CONTRACT_METRICS.filter((m) =>
    m.name === ledgerErrors
      ? budgets && (runtime.fuses.shared || runtime.fuses.restores)
      : budgets || !fuseNames.has(m.name),
  );
  runtime.promClientBridge.registerWith(registry, known);
}

// The Vercel AI SDK's middleware: here, because it finds the running tokenfuse.

/** Options of {@link tokenfuseMiddleware}. */
export interface TokenfuseMiddlewareOptions {
  /**
   * The tokenfuse whose budgets, accountant and spans the calls go through: the one
   * `createTokenfuse()` returned, for apps with their own `NodeSDK`.
   * @default the one `tokenfuse/register` or `start()` runs in this process
   */
  tokenfuse?: Pick<Tokenfuse, 'instrumentation'>;
  /**
   * Provider id (metric label, price overrides, `providers[].id`) for every model
   * wrapped with this middleware.
   * @default read from the model: `openai.chat` → `openai`, `anthropic.messages` → `anthropic`
   */
  provider?: string;
}

let warnedNotRunning = false;

/**
 * Middleware that puts the Vercel AI SDK's model calls (`generateText`, `streamText`,
 * `generateObject`, `streamObject`, `embed`, `embedMany`) under tokenfuse, the same
 * as a call of a patched SDK: attributed (context, `withAttribution`, and the call's
 * `headers` `X-Department`, … which are not sent on), admitted against budgets and
 * policies before anything is sent (`BudgetExceededError`, `ModelNotAllowedError`),
 * priced from the usage the provider reports, with one span and the same metrics.
 * Streams are cut off by `cutOffStreams` budgets; an abandoned stream ends its call.
 *
 * The AI SDK's providers call the HTTP APIs with `fetch`, so no patch sees them:
 * wrap the model. Without a running tokenfuse, calls go through untouched.
 *
 * @example
 * import { wrapLanguageModel, wrapEmbeddingModel, generateText } from 'ai';
 * const model = wrapLanguageModel({ model: openai('gpt-4.1'), middleware: tokenfuseMiddleware() });
 * const embedder = wrapEmbeddingModel({
 *   model: openai.embedding('text-embedding-3-small'),
 *   middleware: tokenfuseMiddleware(),
 * });
 */
export function tokenfuseMiddleware(options: TokenfuseMiddlewareOptions = {}): TokenfuseMiddleware {
  const given = options.tokenfuse;
  const runner = (): CallRunner | undefined => {
    if (given !== undefined) return given.instrumentation;
    try {
      return getRuntime().instrumentation;
    } catch (err) {
      if (!warnedNotRunning) {
        warnedNotRunning = true;
        diag.warn(
          `tokenfuse: AI SDK calls through tokenfuseMiddleware() go uninstrumented: ${(err as Error).message}`,
        );
      }
      return undefined;
    }
  };
  return createAiSdkMiddleware(runner, { provider: options.provider });
}
