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
import { ConfigError, type ConfigIssue } from '../errors/config-error.js';
import { DEFAULT_METRIC_LABELS } from '../metrics/contract.js';
import { DEFAULT_SERVICE_TIERS } from '../pricing/service-tiers.js';
import type {
  MetricLabel,
  PriceOverride,
  ProviderDeclaration,
  Tags,
  TokenfuseOptions,
  WebhookDeliveryOptions,
  WebhookOptions,
} from '../types.js';
import {
  EXPECTED,
  expectedMessage,
  formatPath,
  isHttpUrl,
  isRedisUrl,
  prometheusUrlMessage,
  TAG_NAMES,
  validateOptions,
} from './schema.js';

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
  ledger: {
    store: 'memory' | 'redis';
    /** Set (and a redis:// or rediss:// URL) when `store` is `redis`. */
    url: string | undefined;
    keyPrefix: string;
    timeoutMs: number;
    onFailure: 'open' | 'closed';
    connectTimeoutMs: number;
    shutdownTimeoutMs: number;
    tls: boolean | Record<string, unknown> | undefined;
    username: string | undefined;
    password: string | undefined;
    /** Spend read back from Prometheus (in-memory store only); undefined when off. */
    restore?: ResolvedRestore | undefined;
  };
  /**
   * Where the options came from: a file path, or 'code'; `loadConfig()` says
   * 'defaults' when it found no file.
   */
  source: string;
}

/** `ledger.restore`, resolved. */
export interface ResolvedRestore {
  /** Base URL of the Prometheus API, without a trailing slash. */
  prometheus: string;
  /** 0: at startup only. */
  intervalSeconds: number;
  timeoutMs: number;
}

/** Options of {@link resolveConfig}. */
export interface ResolveOptions {
  /** Environment to read; defaults to `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Where the options came from, named in errors and kept as `source`; defaults to 'code'. */
  source?: string;
}

/** The defaults documented in `types.ts`. */
export const CONFIG_DEFAULTS = Object.freeze({
  enabled: true,
  attribution: Object.freeze({ headers: true, stripHeaders: true, baggage: true }),
  metrics: Object.freeze({
    exporter: 'prometheus' as const,
    // Loopback: the endpoint has no authentication; opening it is one variable away.
    host: '127.0.0.1',
    port: 9464,
    endpoint: '/metrics',
    labels: DEFAULT_METRIC_LABELS,
    maxValuesPerLabel: 100,
    maxLabelValueLength: 128,
    maxSeries: 2000,
  }),
  content: Object.freeze({ capture: false }),
  webhookDelivery: Object.freeze({ concurrency: 4, maxQueue: 100, retries: 3, timeoutMs: 5000 }),
  pricing: Object.freeze({ catalog: 'bundled', prefer: 'catalog' as const }),
  ledger: Object.freeze({
    store: 'memory' as const,
    keyPrefix: 'tokenfuse:',
    timeoutMs: 50,
    onFailure: 'open' as const,
    connectTimeoutMs: 2000,
    shutdownTimeoutMs: 5000,
    restore: Object.freeze({ intervalSeconds: 0, timeoutMs: 5000 }),
  }),
});

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

/** `ledger`: `TOKENFUSE_LEDGER_URL` wins over `ledger.url`; `store: redis` needs a URL from one of them. */
function resolveLedger(
  ledger: NonNullable<TokenfuseOptions['ledger']>,
  env: EnvReader,
  source: string,
): ResolvedConfig['ledger'] {
  const store = ledger.store ?? CONFIG_DEFAULTS.ledger.store;
  const url = env.redisUrl('TOKENFUSE_LEDGER_URL') ?? ledger.url;
  if (store === 'redis' && url === undefined) {
    throw new ConfigError(source, [
      {
        path: 'ledger.url',
        message: `missing (expected ${EXPECTED.redisUrl} for store 'redis'; or set TOKENFUSE_LEDGER_URL)`,
      },
    ]);
  }
  return {
    store,
    url,
    keyPrefix: ledger.keyPrefix ?? CONFIG_DEFAULTS.ledger.keyPrefix,
    timeoutMs: ledger.timeoutMs ?? CONFIG_DEFAULTS.ledger.timeoutMs,
    onFailure: ledger.onFailure ?? CONFIG_DEFAULTS.ledger.onFailure,
    connectTimeoutMs: ledger.connectTimeoutMs ?? CONFIG_DEFAULTS.ledger.connectTimeoutMs,
    shutdownTimeoutMs: ledger.shutdownTimeoutMs ?? CONFIG_DEFAULTS.ledger.shutdownTimeoutMs,
    tls: ledger.tls,
    username: ledger.username,
    password: ledger.password,
    restore: resolveRestore(ledger, store, env, source),
  };
}

/**
 * `ledger.restore`: `TOKENFUSE_RESTORE_PROMETHEUS` wins over `ledger.restore.prometheus`
 * (and turns restoring on by itself). Only for the in-memory store: the Redis store
 * keeps spend across restarts already, and seeding it from Prometheus would count
 * the fleet's spend twice.
 */
function resolveRestore(
  ledger: NonNullable<TokenfuseOptions['ledger']>,
  store: 'memory' | 'redis',
  env: EnvReader,
  source: string,
): ResolvedRestore | undefined {
  const fromEnv = env.prometheusUrl('TOKENFUSE_RESTORE_PROMETHEUS');
  const prometheus = fromEnv ?? ledger.restore?.prometheus;
  if (prometheus === undefined) return undefined;
  if (store === 'redis') {
    throw new ConfigError(source, [
      {
        path: 'ledger.restore',
        message:
          `cannot be combined with ledger.store 'redis' (Redis already keeps budget spend across restarts); ` +
          `remove ledger.restore${fromEnv !== undefined ? ' (set by TOKENFUSE_RESTORE_PROMETHEUS)' : ''} or use ledger.store 'memory'`,
      },
    ]);
  }
  return {
    prometheus: prometheus.replace(/\/+$/, ''),
    intervalSeconds:
      ledger.restore?.intervalSeconds ?? CONFIG_DEFAULTS.ledger.restore.intervalSeconds,
    timeoutMs: ledger.restore?.timeoutMs ?? CONFIG_DEFAULTS.ledger.restore.timeoutMs,
  };
}

/**
 * Restoring reads each budget's spend from the counters' labels, so every field a
 * budget matches on must be one of the exported labels (`metrics.labels`).
 */
function checkRestorable(budgets: Budget[], labels: readonly MetricLabel[], source: string): void {
  const issues: ConfigIssue[] = [];
  budgets.forEach((budget, i) => {
    for (const [field, value] of Object.entries(budget.match.spec)) {
      if (value === undefined || labels.includes(field as MetricLabel)) continue;
      issues.push({
        path: `budgets[${i}].match.${field}`,
        message:
          `ledger.restore reads spend by the metric label '${field}', which metrics.labels leaves out; ` +
          `add '${field}' to metrics.labels or turn ledger.restore off`,
      });
    }
  });
  if (issues.length > 0) throw new ConfigError(source, issues);
}

/** `TOKENFUSE_DEPARTMENT` … `TOKENFUSE_FEATURE`. */
const TAG_ENV_VARS = Object.fromEntries(
  TAG_NAMES.map((tag) => [tag, `TOKENFUSE_${tag.toUpperCase()}`]),
) as Record<(typeof TAG_NAMES)[number], string>;

/**
 * Tag defaults: each `TOKENFUSE_<TAG>` variable wins over the options.
 *
 * `environment` has one more, lowest, source: the OpenTelemetry resource, since
 * a deployment that already declares its environment there should not have to
 * say it twice. Order, first wins:
 *   1. `TOKENFUSE_ENVIRONMENT`
 *   2. `attribution.defaults.environment` (config file or code)
 *   3. `deployment.environment.name` in `OTEL_RESOURCE_ATTRIBUTES`
 *   4. `deployment.environment` in `OTEL_RESOURCE_ATTRIBUTES` (the pre-1.27 semconv name)
 * The resource comes last because it describes the whole process for every
 * OpenTelemetry signal, while tokenfuse's own settings were written for tokenfuse.
 */
function resolveTagDefaults(fromOptions: Tags, env: EnvReader): Tags {
  const tags: Tags = { ...fromOptions };
  for (const tag of TAG_NAMES) {
    const value = env.text(TAG_ENV_VARS[tag]);
    if (value !== undefined) tags[tag] = value;
  }
  if (tags.environment === undefined) {
    const resource = env.resourceAttributes();
    const environment =
      resource.get('deployment.environment.name') ?? resource.get('deployment.environment');
    if (environment !== undefined) tags.environment = environment;
  }
  return tags;
}

const TRUE_WORDS = ['true', '1', 'yes'];
const FALSE_WORDS = ['false', '0', 'no'];

/**
 * Values of OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT besides booleans:
 * OpenTelemetry's GenAI utilities (under `gen_ai_latest_experimental`) give it these,
 * and the same variable may be set for them in this process. tokenfuse records
 * content on spans, so the modes that include spans turn capture on.
 */
const CAPTURE_MODES: ReadonlyMap<string, boolean> = new Map([
  ['no_content', false],
  ['span_only', true],
  ['event_only', false],
  ['span_and_event', true],
]);

/**
 * Reads and parses environment variables. As OpenTelemetry specifies, an empty
 * value is the same as an unset one. A value that cannot be parsed throws a
 * ConfigError whose source is the variable, rather than being ignored: a setting
 * the operator believes is in effect but is not is worse than a failed start.
 */
class EnvReader {
  private resource: Map<string, string> | undefined;

  constructor(private readonly env: NodeJS.ProcessEnv) {}

  /** The trimmed value, or undefined when unset or blank. */
  text(name: string): string | undefined {
    const value = this.env[name]?.trim();
    return value ? value : undefined;
  }

  /** `true`/`1`/`yes` or `false`/`0`/`no`, any case. */
  boolean(name: string, field: string): boolean | undefined {
    const value = this.text(name);
    if (value === undefined) return undefined;
    const word = value.toLowerCase();
    if (TRUE_WORDS.includes(word)) return true;
    if (FALSE_WORDS.includes(word)) return false;
    throw invalidEnv(name, field, expectedMessage('true, false, 1, 0, yes or no', value));
  }

  exporter(name: string): 'prometheus' | 'none' | undefined {
    const value = this.text(name);
    if (value === undefined) return undefined;
    const word = value.toLowerCase();
    if (word === 'prometheus' || word === 'none') return word;
    throw invalidEnv(name, 'metrics.exporter', expectedMessage(EXPECTED.exporter, value));
  }

  redisUrl(name: string): string | undefined {
    const value = this.text(name);
    if (value === undefined) return undefined;
    if (isRedisUrl(value)) return value;
    // Never echo the value: a Redis URL can hold a password.
    throw invalidEnv(
      name,
      'ledger.url',
      `expected ${EXPECTED.redisUrl}, got a value that is not one`,
    );
  }

  prometheusUrl(name: string): string | undefined {
    const value = this.text(name);
    if (value === undefined) return undefined;
    if (isHttpUrl(value)) return value;
    throw invalidEnv(name, 'ledger.restore.prometheus', prometheusUrlMessage(value));
  }

  port(name: string): number | undefined {
    const value = this.text(name);
    if (value === undefined) return undefined;
    const port = /^\d+$/.test(value) ? Number(value) : Number.NaN;
    if (port >= 1 && port <= 65535) return port;
    throw invalidEnv(name, 'metrics.port', expectedMessage(EXPECTED.port, value));
  }

  /** A boolean as {@link boolean} reads it, or one of {@link CAPTURE_MODES}. */
  contentCapture(name: string): boolean | undefined {
    const value = this.text(name);
    if (value === undefined) return undefined;
    const word = value.toLowerCase();
    if (TRUE_WORDS.includes(word)) return true;
    if (FALSE_WORDS.includes(word)) return false;
    const mode = CAPTURE_MODES.get(word);
    if (mode !== undefined) return mode;
    const modes = [...CAPTURE_MODES.keys()].join(', ').toUpperCase();
    throw invalidEnv(
      name,
      'content.capture',
      expectedMessage(`true or false, or one of ${modes}`, value),
    );
  }

  /**
   * `OTEL_RESOURCE_ATTRIBUTES` (`key=value,key=value`, values percent-encoded).
   * Never throws: the variable belongs to the OpenTelemetry SDK, which reports its
   * own parse errors; an entry that cannot be read is skipped.
   */
  resourceAttributes(): Map<string, string> {
    if (this.resource) return this.resource;
    this.resource = new Map();
    for (const entry of (this.text('OTEL_RESOURCE_ATTRIBUTES') ?? '').split(',')) {
      const eq = entry.indexOf('=');
      if (eq <= 0) continue;
      try {
        const value = decodeURIComponent(entry.slice(eq + 1).trim());
        if (value) this.resource.set(entry.slice(0, eq).trim(), value);
      } catch {
        // malformed percent-encoding: skip the entry
      }
    }
    return this.resource;
  }
}

function invalidEnv(name: string, field: string, message: string): ConfigError {
  const issue: ConfigIssue = { path: field, message };
  return new ConfigError(`environment variable ${name}`, [issue]);
}
