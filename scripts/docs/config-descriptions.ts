/**
 * The words of the configuration reference, keyed by field path as users write it
 * (`budgets[].limit`). The generator (config-reference.ts) takes each field's type and
 * checks from the zod schema and its default from CONFIG_DEFAULTS; this table adds what
 * the schema cannot say: the meaning, the environment variable, and defaults decided
 * elsewhere. A field's own `.describe()` text wins over its entry here.
 */
export interface FieldWords {
  description: string;
  /** The environment variable that wins over the field. */
  env?: string;
  /** The default, when CONFIG_DEFAULTS does not hold it (written as shown). */
  default?: string;
  /** The type in words, when the schema's (a refined string) says too little. */
  type?: string;
}

export const CONFIG_DESCRIPTIONS: Readonly<Record<string, FieldWords>> = {
  enabled: {
    description:
      '`TOKENFUSE_DISABLED=true` turns tokenfuse off; a false value does not turn on what the file disabled',
    env: 'TOKENFUSE_DISABLED',
  },
  serviceName: {
    description: '`service.name` of the resource',
    env: 'OTEL_SERVICE_NAME',
    default:
      'left to the OpenTelemetry SDK: `unknown_service:node` unless `OTEL_RESOURCE_ATTRIBUTES` sets `service.name`',
  },
  'attribution.defaults.department': {
    description: 'tag of calls no other source tags',
    env: 'TOKENFUSE_DEPARTMENT',
  },
  'attribution.defaults.project': {
    description: 'tag of calls no other source tags',
    env: 'TOKENFUSE_PROJECT',
  },
  'attribution.defaults.environment': {
    description:
      'tag of calls no other source tags; with neither the variable nor the option set, `deployment.environment.name` (then the older `deployment.environment`) in `OTEL_RESOURCE_ATTRIBUTES`',
    env: 'TOKENFUSE_ENVIRONMENT',
  },
  'attribution.defaults.customer': {
    description: 'tag of calls no other source tags (span-only unless in `metrics.labels`)',
    env: 'TOKENFUSE_CUSTOMER',
  },
  'attribution.defaults.user': {
    description: 'tag of calls no other source tags',
    env: 'TOKENFUSE_USER',
  },
  'attribution.defaults.feature': {
    description: 'tag of calls no other source tags',
    env: 'TOKENFUSE_FEATURE',
  },
  'attribution.headers': { description: 'read `X-Department`, `X-Project`, … from each call' },
  'attribution.stripHeaders': {
    description: 'remove those headers before the request leaves the process',
  },
  'attribution.baggage': {
    description: 'read `tokenfuse.*` W3C baggage (`withAttribution()`, upstream services)',
  },
  'metrics.exporter': {
    description:
      '`none`: no HTTP endpoint (serve the metrics through prom-client instead); `OTEL_METRICS_EXPORTER`, when set, decides instead (see [OpenTelemetry](opentelemetry.md))',
    env: 'TOKENFUSE_METRICS_EXPORTER',
  },
  'metrics.host': {
    description:
      'address the endpoint binds; `0.0.0.0` to be scraped from another host, container or pod (see [Security](security.md))',
    env: 'OTEL_EXPORTER_PROMETHEUS_HOST',
  },
  'metrics.port': { description: 'port of the endpoint', env: 'OTEL_EXPORTER_PROMETHEUS_PORT' },
  'metrics.endpoint': { description: 'path of the endpoint' },
  'metrics.labels': {
    description:
      'labels on the counters, any of `department`, `project`, `environment`, `provider`, `model`, `user`, `feature` (see [Labels](metrics.md#labels-allowlist-and-cap))',
  },
  'metrics.maxValuesPerLabel': {
    description: 'distinct values a label keeps per process; later ones are reported as `other`',
  },
  'metrics.maxLabelValueLength': {
    description: 'longer values are cut to a prefix, `~` and 8 hex digits of their SHA-256',
  },
  'metrics.cardinalityLimit': {
    description:
      "the OpenTelemetry SDK's per-instrument series limit, one number for every instrument; see [cardinality-and-scrape.md](cardinality-and-scrape.md)",
    default: 'sized from `metrics.maxSeries`',
  },
  'metrics.perValueTop': {
    description:
      'per-value budgets export only the N values of highest utilisation (`tokenfuse_budget_top_utilization`); this is N',
  },
  'metrics.withoutScopeInfo': {
    description:
      "`true` leaves the `otel_scope_name`/`otel_scope_version` labels off every line of the endpoint (the OpenTelemetry exporter's `withoutScopeInfo`); about a fifth of a large scrape's bytes; see [cardinality-and-scrape.md](cardinality-and-scrape.md#s8-scrape)",
  },
  'apiKeys.secret': {
    description:
      'HMAC secret (16+ characters) of `tokenfuse.api_key.id`; share it across a fleet. Env: `TOKENFUSE_API_KEY_SECRET`',
    default: 'generated per process (said once in the log)',
  },
  'apiKeys.owners': {
    description:
      'map of API-key id to its owner (`name`, tags) that attributes calls made with a shared key; see [per-value-budgets.md](per-value-budgets.md)',
    default: '`{}`',
  },
  'metrics.maxSeries': {
    description:
      'label sets kept per process; calls of new ones past it are counted under one set of `other` values',
  },
  'pricing.overrides': {
    description: 'prices that win over the catalog; the first entry that matches wins',
    default: '`[]`',
  },
  'pricing.overrides[].model': { description: 'model name, `*` wildcard, any case' },
  'pricing.overrides[].provider': {
    description: 'provider id the override is limited to',
    default: 'any provider',
  },
  'pricing.overrides[].input_mtok': {
    description:
      'USD per million uncached input tokens; an override must give at least one of the four prices',
    default: '`0`',
  },
  'pricing.overrides[].output_mtok': {
    description: 'USD per million output tokens (reasoning included)',
    default: '`0`',
  },
  'pricing.overrides[].cache_read_mtok': {
    description: 'USD per million cached input tokens read',
    default: '`input_mtok`',
  },
  'pricing.overrides[].cache_write_mtok': {
    description: 'USD per million input tokens written to the cache',
    default: '`input_mtok`',
  },
  'pricing.serviceTiers': {
    description:
      'price factor per service tier (lowercase `a-z 0-9 _ -` names), merged over the defaults; see [Service tiers](pricing.md#service-tiers) and [Batch API](pricing.md#batch-api)',
    default: '`{ flex: 0.5, batch: 0.5 }`',
  },
  'pricing.catalog': {
    type: '`bundled`, a file path or an http(s) URL',
    description:
      "`bundled`, or a catalog JSON in `@pydantic/genai-prices`' own format (its `data.json` v2): a file path (relative to the working directory at start) or an `http://` / `https://` URL; see [Catalog updates](pricing.md#catalog-updates)",
  },
  'pricing.prefer': {
    description:
      'which figure counts when the provider reports its own cost; see [Provider-reported cost](pricing.md#provider-reported-cost)',
  },
  'pricing.refresh': {
    description: 're-read `pricing.catalog` (a file or URL) this often',
    type: 'duration (`1h`, `15m`)',
    default: 'off',
  },
  providers: {
    description:
      'your own providers (relays, self-hosted endpoints); see [Providers](pricing.md#providers)',
    default: '`[]`',
  },
  'providers[].id': {
    description: 'provider id (`a-z 0-9 _ . -`), the `provider` label of its calls',
  },
  'providers[].hosts': { description: '`host` or `host:port` of its base URLs' },
  'providers[].pricesFrom': {
    description: 'catalog provider whose prices it takes; without it, priced by model name alone',
  },
  'content.capture': {
    description: 'record prompts and completions on spans (never on metrics)',
    env: 'OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT',
  },
  budgets: {
    description: 'see [Budgets and fuses](budgets-and-fuses.md#budget-reference)',
    default: '`[]`',
  },
  'budgets[].name': {
    description: 'unique; the `budget` label, and what errors and alerts name',
  },
  'budgets[].match': {
    description:
      'any of `department`, `project`, `environment`, `provider`, `model` (`*` wildcard)',
    type: 'object of strings',
    default: 'every call',
  },
  'budgets[].window': {
    description: 'calendar windows in `timeZone`, or a sliding one (`{ rolling: 1h }`)',
    type: '`minute`, `hour`, `day`, `month` or `{ rolling: <duration> }`',
  },
  'budgets[].limit': {
    description:
      'any of `tokens` (input + cached + output), `usd`, `requests`; the fuse opens when any is reached',
    type: 'object of numbers > 0',
  },
  'budgets[].thresholds': {
    description:
      'fractions spent (settled, not reserved) that fire `onThreshold` and webhooks, once per window each',
    default: '`[0.5, 0.75, 0.9, 1.0]`',
  },
  'budgets[].action': {
    description: '`monitor` to try a budget before enforcing it',
    default: '`block`',
  },
  'budgets[].timeZone': {
    description: 'zone of calendar windows',
    type: 'IANA time zone (`Europe/Berlin`)',
    default: '`UTC`',
  },
  'budgets[].cooldown': {
    description: 'how long an open fuse waits before letting probe calls through',
    type: 'duration (`90s`, `5m`, `1h`)',
    default: '`5m`',
  },
  'budgets[].probes': { description: 'calls let through while half-open', default: '`3`' },
  'budgets[].cutOffStreams': {
    description: 'end a stream that pushes the budget over its limit, mid-stream',
    default: '`false`',
  },
  'budgets[].observedSpend': {
    description:
      'count or ignore the spend of calls tokenfuse could not admit, seen only in other GenAI spans',
    default: '`count`',
  },
  'budgets[].per': {
    description:
      'a tag (or a list): each value gets its own budget `<name>[<value>]`, created on first sight; see [per-value-budgets.md](per-value-budgets.md)',
    default: 'none (one budget)',
  },
  'budgets[].overrides': {
    description: 'with `per`: the limits of single values, e.g. `{ "cust-42": { usd: 500 } }`',
    default: '`{}`',
  },
  policies: { description: 'model policies, checked before budgets', default: '`[]`' },
  'policies[].name': { description: 'unique; what a `ModelNotAllowedError` names' },
  'policies[].match': {
    description: "like a budget's, without `model`",
    type: 'object of strings',
    default: 'every call',
  },
  'policies[].allowModels': {
    description: 'models the matched calls may use',
    type: 'array of model globs',
  },
  'policies[].denyModels': {
    description: 'models they may not use; deny wins',
    type: 'array of model globs',
  },
  webhooks: {
    description:
      'endpoints posted on every threshold crossing and fuse trip; see [Events and manual control](budgets-and-fuses.md#events-and-manual-control)',
    default: '`[]`',
  },
  'webhooks[].url': {
    description: 'where messages are posted (logged by scheme and host only)',
    type: 'http(s) URL',
  },
  'webhooks[].format': { description: 'body of the message', default: '`json`' },
  'webhookDelivery.concurrency': { description: 'webhook requests in flight at most' },
  'webhookDelivery.maxQueue': { description: 'messages waiting at most' },
  'webhookDelivery.retries': {
    description: 'retries of a 5xx, 429, 408, timeout or network error, with backoff',
  },
  'webhookDelivery.timeoutMs': { description: 'bound of one request (ms)' },
  admin: {
    description:
      'the admin endpoint for `tokenfuse fuses --admin` (memory ledger): off unless `port` is set; see [operator-control.md](operator-control.md)',
  },
  'admin.port': {
    description: 'port of the admin endpoint; unset: no endpoint',
    env: 'TOKENFUSE_ADMIN_PORT',
  },
  'admin.host': {
    description:
      'loopback address to bind (`127.0.0.1`, `::1`, `localhost`); any other is a config error',
    default: '`127.0.0.1`',
  },
  'admin.token': {
    description: 'bearer token every request must carry, 16+ characters; required with `port`',
    env: 'TOKENFUSE_ADMIN_TOKEN',
  },
  'ledger.leases': {
    description:
      "`true` or `{ enabled, minSlice, ttlMs }`: each replica leases a slice of each budget's room and admits from it locally, with no Redis round trip per call; see [fleet-scale.md](fleet-scale.md)",
    default: 'off',
  },
  'ledger.cluster': {
    description:
      'Redis Cluster / Valkey node URLs (instead of `ledger.url`): keys hash-tagged per budget; see [fleet-scale.md](fleet-scale.md)',
    default: 'none (one Redis at `ledger.url`)',
  },
  'ledger.store': {
    description: 'where budget spend and fuses live; see [Running many replicas](fleet.md)',
  },
  'ledger.url': {
    description: 'Redis URL (required for `redis`); the variable wins over the file',
    type: '`redis://` or `rediss://` URL',
    env: 'TOKENFUSE_LEDGER_URL',
  },
  'ledger.keyPrefix': {
    description:
      'prefix of every key; replicas sharing budgets share it. On a Redis Cluster keys start with `{` and it (hash tags): ACL patterns `~tokenfuse:* ~{tokenfuse:*` cover both',
  },
  'ledger.timeoutMs': {
    description:
      'how long Redis may stay silent while a call waits for it before the failure policy applies',
  },
  'ledger.onFailure': {
    description:
      'when Redis is unreachable or slow: `open` admits against a local copy, `closed` refuses calls',
  },
  'ledger.connectTimeoutMs': {
    description: 'at startup, how long calls wait for the first connection to Redis',
  },
  'ledger.shutdownTimeoutMs': {
    description: 'how long `shutdown()` spends settling, releasing and writing what is pending',
  },
  'ledger.tls': { description: '`true`, or Node `tls.connect()` options', default: '`false`' },
  'ledger.username': { description: "Redis ACL user (wins over the URL's)" },
  'ledger.password': {
    description: "Redis password (wins over the URL's); errors name only the host",
  },
  'ledger.restore.prometheus': {
    description:
      'Prometheus URL to restore spend from (memory ledger only); see [Running many replicas](fleet.md)',
    type: 'http(s) URL',
    env: 'TOKENFUSE_RESTORE_PROMETHEUS',
    default: 'none (off)',
  },
  'ledger.restore.intervalSeconds': {
    description: 're-read every N seconds; 0: only at startup',
  },
  'ledger.restore.timeoutMs': {
    description: 'how long a query (and the first calls) may wait',
  },
};
