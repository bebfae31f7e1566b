/**
 * Turns user options (from a file or from code) plus the environment into the
 * complete configuration the rest of tokenfuse reads: every default filled in,
 * so no other module needs to know one.
 */

import { resolve as resolvePath } from 'node:path';
import {
  type Budget,
  type ModelPolicy,
  normalizeBudget,
  normalizePolicy,
} from '../budgets/budget.js';
import { parseDuration } from '../budgets/duration.js';
import { ConfigError } from '../errors/config-error.js';
import { DEFAULT_SERVICE_TIERS } from '../pricing/service-tiers.js';
import type {
  ApiKeyOwner,
  MetricLabel,
  PriceOverride,
  ProviderDeclaration,
  Tags,
  TokenfuseOptions,
  WebhookDeliveryOptions,
  WebhookOptions,
} from '../types.js';
import { CONFIG_DEFAULTS } from './defaults.js';
import { EnvReader, resolveTagDefaults } from './environment.js';
import { formatPath } from './messages.js';
import { type ResolvedAdmin, resolveAdmin } from './resolve-admin.js';
import { checkRestorable, type ResolvedLedger, resolveLedger } from './resolve-ledger.js';
import { validateOptions } from './schema.js';

export type { ResolvedLedger, ResolvedRestore } from './resolve-ledger.js';
export { CONFIG_DEFAULTS };

/** The configuration with every default applied and the environment merged in. */
export interface ResolvedConfig {
  enabled: boolean;
  /** `undefined` leaves `service.name` to the OpenTelemetry SDK's own detection. */
  serviceName: string | undefined;
  attribution: { defaults: Tags; headers: boolean; stripHeaders: boolean; baggage: boolean };
  metrics: {
    exporter: 'prometheus' | 'none';
    host: string;
    port: number;
    endpoint: string;
    labels: MetricLabel[];
    maxValuesPerLabel: number;
    maxLabelValueLength: number;
    maxSeries: number;
    /** Per-instrument cardinality limit for the meter provider `start()` builds; undefined: sized from the caps. */
    cardinalityLimit?: number | undefined;
    perValueTop: number;
    /** Leave the `otel_scope_*` labels off every line of `/metrics`. */
    withoutScopeInfo: boolean;
  };
  pricing: {
    overrides: PriceOverride[];
    /** Price factor per service tier (`pricing.serviceTiers`, over the defaults). */
    serviceTiers: Readonly<Record<string, number>>;
    /** `bundled`, a file path or an http(s) URL. */
    catalog: string;
    /** Refresh interval of a file or URL catalog; undefined: loaded once. */
    refreshMs: number | undefined;
    /** Which figure counts when the provider reports its own cost. */
    prefer: 'catalog' | 'provider';
  };
  providers: ProviderDeclaration[];
  content: { capture: boolean };
  budgets: Budget[];
  policies: ModelPolicy[];
  webhooks: WebhookOptions[];
  webhookDelivery: Required<WebhookDeliveryOptions>;
  ledger: ResolvedLedger;
  /** `apiKeys`: the secret of key ids (undefined: generated at first use) and owners by id. */
  apiKeys: { secret: string | undefined; owners: ReadonlyMap<string, ApiKeyOwner> };
  /** The admin endpoint (`admin`); `port` undefined when off. */
  admin: ResolvedAdmin;
  /**
   * Where the options came from: a file path, or 'code'; `loadConfig()` says
   * 'defaults' when it found no file.
   */
  source: string;
}

/** Options of {@link resolveConfig}. */
export interface ResolveOptions {
  /** Environment to read; defaults to `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Where the options came from, named in errors and kept as `source`; defaults to 'code'. */
  source?: string;
}

/**
 * Validates `options` and resolves them against the environment and the defaults.
 * Environment variables win over `options`, which win over the defaults.
 *
 * @throws {ConfigError} listing every invalid field of `options` (source: `opts.source`,
 *   default 'code'), or naming the invalid environment variable.
 */
export function resolveConfig(
  options: TokenfuseOptions = {},
  opts: ResolveOptions = {},
): ResolvedConfig {
  const source = opts.source ?? 'code';
  const result = validateOptions(options);
  if (!result.success) {
    throw new ConfigError(
      source,
      result.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message })),
    );
  }
  return resolveValidatedOptions(result.data, { ...opts, source });
}

/**
 * {@link resolveConfig} for options already validated (by `loadConfig()`, which
 * reports issues with file lines itself).
 * @internal
 */
export function resolveValidatedOptions(
  options: TokenfuseOptions,
  opts: { env?: NodeJS.ProcessEnv | undefined; source: string },
): ResolvedConfig {
  const env = new EnvReader(opts.env ?? process.env);
  const { attribution = {}, metrics = {}, content = {} } = options;

  // TOKENFUSE_DISABLED is a kill switch: it can turn tokenfuse off, but a false
  // value does not turn on what the options disabled.
  const disabled = env.boolean('TOKENFUSE_DISABLED', 'enabled');

  const budgets = (options.budgets ?? []).map(normalizeBudget);
  const labels = [...new Set(metrics.labels ?? CONFIG_DEFAULTS.metrics.labels)];
  const ledger = resolveLedger(options.ledger ?? {}, env, opts.source);
  if (ledger.restore) checkRestorable(budgets, labels, opts.source);

  return {
    enabled: disabled === true ? false : (options.enabled ?? CONFIG_DEFAULTS.enabled),
    serviceName: env.text('OTEL_SERVICE_NAME') ?? options.serviceName,
    attribution: {
      defaults: resolveTagDefaults(attribution.defaults ?? {}, env),
      headers: attribution.headers ?? CONFIG_DEFAULTS.attribution.headers,
      stripHeaders: attribution.stripHeaders ?? CONFIG_DEFAULTS.attribution.stripHeaders,
      baggage: attribution.baggage ?? CONFIG_DEFAULTS.attribution.baggage,
    },
    metrics: {
      exporter:
        env.exporter('TOKENFUSE_METRICS_EXPORTER') ??
        metrics.exporter ??
        CONFIG_DEFAULTS.metrics.exporter,
      host:
        env.text('OTEL_EXPORTER_PROMETHEUS_HOST') ?? metrics.host ?? CONFIG_DEFAULTS.metrics.host,
      port:
        env.port('OTEL_EXPORTER_PROMETHEUS_PORT') ?? metrics.port ?? CONFIG_DEFAULTS.metrics.port,
      endpoint: metrics.endpoint ?? CONFIG_DEFAULTS.metrics.endpoint,
      // A label listed twice would only mean the same thing twice.
      labels,
      maxValuesPerLabel: metrics.maxValuesPerLabel ?? CONFIG_DEFAULTS.metrics.maxValuesPerLabel,
      maxLabelValueLength:
        metrics.maxLabelValueLength ?? CONFIG_DEFAULTS.metrics.maxLabelValueLength,
      maxSeries: metrics.maxSeries ?? CONFIG_DEFAULTS.metrics.maxSeries,
      cardinalityLimit: metrics.cardinalityLimit,
      perValueTop: metrics.perValueTop ?? CONFIG_DEFAULTS.metrics.perValueTop,
      withoutScopeInfo: metrics.withoutScopeInfo ?? CONFIG_DEFAULTS.metrics.withoutScopeInfo,
    },
    pricing: resolvePricing(options.pricing ?? {}, opts.source),
    providers: options.providers ?? [],
    content: {
      capture:
        env.contentCapture('OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT') ??
        content.capture ??
        CONFIG_DEFAULTS.content.capture,
    },
    budgets,
    policies: (options.policies ?? []).map(normalizePolicy),
    webhooks: options.webhooks ?? [],
    webhookDelivery: resolveWebhookDelivery(options.webhookDelivery ?? {}),
    ledger,
    apiKeys: {
      secret: env.text('TOKENFUSE_API_KEY_SECRET') ?? options.apiKeys?.secret,
      owners: new Map(Object.entries(options.apiKeys?.owners ?? {})),
    },
    admin: resolveAdmin(options.admin ?? {}, env, opts.source),
    source: opts.source,
  };
}

function resolveWebhookDelivery(d: WebhookDeliveryOptions): ResolvedConfig['webhookDelivery'] {
  const defaults = CONFIG_DEFAULTS.webhookDelivery;
  return {
    concurrency: d.concurrency ?? defaults.concurrency,
    maxQueue: d.maxQueue ?? defaults.maxQueue,
    retries: d.retries ?? defaults.retries,
    timeoutMs: d.timeoutMs ?? defaults.timeoutMs,
  };
}

/** `pricing`: a refresh needs something to re-read. */
function resolvePricing(
  pricing: NonNullable<TokenfuseOptions['pricing']>,
  source: string,
): ResolvedConfig['pricing'] {
  const catalog = pricing.catalog ?? CONFIG_DEFAULTS.pricing.catalog;
  if (pricing.refresh !== undefined && catalog === CONFIG_DEFAULTS.pricing.catalog) {
    throw new ConfigError(source, [
      {
        path: 'pricing.refresh',
        message: `${JSON.stringify(pricing.refresh)} needs pricing.catalog to be a file path or an http(s) URL (the bundled catalog never changes)`,
      },
    ]);
  }
  return {
    overrides: pricing.overrides ?? [],
    // A relative file path means the working directory at start, not at each refresh.
    catalog:
      catalog === CONFIG_DEFAULTS.pricing.catalog || /^https?:\/\//i.test(catalog)
        ? catalog
        : resolvePath(catalog),
    refreshMs: pricing.refresh === undefined ? undefined : parseDuration(pricing.refresh),
    prefer: pricing.prefer ?? CONFIG_DEFAULTS.pricing.prefer,
    serviceTiers: { ...DEFAULT_SERVICE_TIERS, ...pricing.serviceTiers },
  };
}
