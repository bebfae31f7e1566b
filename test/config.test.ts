import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig, type ResolvedConfig, resolveConfig } from '../src/config/index.js';
import { ConfigError } from '../src/errors/config-error.js';

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tokenfuse-config-'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Writes `text` to `name` in the temp dir and returns its absolute path. */
function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** The ConfigError `fn` throws; fails the test if it throws anything else or nothing. */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError, but nothing was thrown');
}

/** What resolving no options with an empty environment gives, minus `source`. */
const DEFAULTS: Omit<ResolvedConfig, 'source'> = {
  enabled: true,
  serviceName: undefined,
  attribution: { defaults: {}, headers: true, stripHeaders: true, baggage: true },
  metrics: {
    exporter: 'prometheus',
    host: '127.0.0.1',
    port: 9464,
    endpoint: '/metrics',
    labels: ['department', 'project', 'environment', 'provider', 'model'],
    maxValuesPerLabel: 100,
    maxLabelValueLength: 128,
    maxSeries: 2000,
    perValueTop: 10,
    withoutScopeInfo: false,
  },
  pricing: {
    overrides: [],
    serviceTiers: { flex: 0.5, batch: 0.5 },
    catalog: 'bundled',
    refreshMs: undefined,
    prefer: 'catalog',
  },
  providers: [],
  content: { capture: false },
  budgets: [],
  policies: [],
  webhooks: [],
  webhookDelivery: { concurrency: 4, maxQueue: 100, retries: 3, timeoutMs: 5000 },
  ledger: {
    store: 'memory',
    url: undefined,
    keyPrefix: 'tokenfuse:',
    timeoutMs: 50,
    onFailure: 'open',
    connectTimeoutMs: 2000,
    shutdownTimeoutMs: 5000,
    tls: undefined,
    username: undefined,
    password: undefined,
  },
  apiKeys: { secret: undefined, owners: new Map() },
  admin: { port: undefined, host: '127.0.0.1', token: undefined },
};

const FULL_YAML = `# every option
enabled: true
serviceName: checkout
attribution:
  defaults:
    department: search
    project: ranker
    environment: staging
  headers: false
  stripHeaders: false
  baggage: false
metrics:
  exporter: none
  host: 127.0.0.1
  port: 9100
  endpoint: /prom
  labels: [department, model, department]
  maxValuesPerLabel: 20
  withoutScopeInfo: true
pricing:
  overrides:
    - model: gpt-4.1*
      provider: local-relay
      input_mtok: 0.5
      output_mtok: 1.5
    - model: embed
      cache_read_mtok: 0
providers:
  - id: local-relay
    hosts: ["127.0.0.1:8080", relay.internal]
    pricesFrom: openai
content:
  capture: true
webhookDelivery:
  concurrency: 2
  maxQueue: 50
  retries: 0
  timeoutMs: 1000
`;

const FULL_RESOLVED: Omit<ResolvedConfig, 'source'> = {
  enabled: true,
  serviceName: 'checkout',
  attribution: {
    defaults: { department: 'search', project: 'ranker', environment: 'staging' },
    headers: false,
    stripHeaders: false,
    baggage: false,
  },
  metrics: {
    exporter: 'none',
    host: '127.0.0.1',
    port: 9100,
    endpoint: '/prom',
    labels: ['department', 'model'],
    maxValuesPerLabel: 20,
    maxLabelValueLength: 128,
    maxSeries: 2000,
    perValueTop: 10,
    withoutScopeInfo: true,
  },
  pricing: {
    overrides: [
      { model: 'gpt-4.1*', provider: 'local-relay', input_mtok: 0.5, output_mtok: 1.5 },
      { model: 'embed', cache_read_mtok: 0 },
    ],
    serviceTiers: { flex: 0.5, batch: 0.5 },
    catalog: 'bundled',
    refreshMs: undefined,
    prefer: 'catalog',
  },
  providers: [
    { id: 'local-relay', hosts: ['127.0.0.1:8080', 'relay.internal'], pricesFrom: 'openai' },
  ],
  content: { capture: true },
  budgets: [],
  policies: [],
  webhooks: [],
  webhookDelivery: { concurrency: 2, maxQueue: 50, retries: 0, timeoutMs: 1000 },
  ledger: {
    store: 'memory',
    url: undefined,
    keyPrefix: 'tokenfuse:',
    timeoutMs: 50,
    onFailure: 'open',
    connectTimeoutMs: 2000,
    shutdownTimeoutMs: 5000,
    tls: undefined,
    username: undefined,
    password: undefined,
  },
  apiKeys: { secret: undefined, owners: new Map() },
  admin: { port: undefined, host: '127.0.0.1', token: undefined },
};

describe('defaults', () => {
  it('loadConfig with no file and an empty environment gives the documented defaults', () => {
    expect(loadConfig({ cwd: dir, env: {} })).toEqual({ ...DEFAULTS, source: 'defaults' });
  });

  it('resolveConfig with no options gives the same defaults, from code', () => {
    expect(resolveConfig(undefined, { env: {} })).toEqual({ ...DEFAULTS, source: 'code' });
  });

  it('an empty file, or one of comments only, is no options', () => {
    const path = write('tokenfuse.config.yaml', '# nothing configured yet\n');
    expect(loadConfig({ cwd: dir, env: {} })).toEqual({ ...DEFAULTS, source: path });
  });
});

describe('file values', () => {
  it('reads every option of tokenfuse.config.yaml (duplicate labels collapsed)', () => {
    const path = write('tokenfuse.config.yaml', FULL_YAML);
    expect(loadConfig({ cwd: dir, env: {} })).toEqual({ ...FULL_RESOLVED, source: path });
  });

  it('reads tokenfuse.config.json with the same meaning', () => {
    const path = write(
      'tokenfuse.config.json',
      JSON.stringify({
        serviceName: 'checkout',
        attribution: { defaults: { project: 'ranker' }, baggage: false },
        metrics: { port: 9100, labels: ['provider', 'model'] },
        providers: [{ id: 'relay', hosts: ['relay.internal'] }],
      }),
    );
    expect(loadConfig({ cwd: dir, env: {} })).toEqual({
      ...DEFAULTS,
      serviceName: 'checkout',
      attribution: { ...DEFAULTS.attribution, defaults: { project: 'ranker' }, baggage: false },
      metrics: { ...DEFAULTS.metrics, port: 9100, labels: ['provider', 'model'] },
      providers: [{ id: 'relay', hosts: ['relay.internal'] }],
      source: path,
    });
  });

  it('looks up .yaml, then .yml, then .json in cwd', () => {
    write('tokenfuse.config.json', '{"metrics": {"port": 3}}');
    const yml = write('tokenfuse.config.yml', 'metrics:\n  port: 2\n');
    expect(loadConfig({ cwd: dir, env: {} }).metrics.port).toBe(2);
    expect(loadConfig({ cwd: dir, env: {} }).source).toBe(yml);
    const yaml = write('tokenfuse.config.yaml', 'metrics:\n  port: 1\n');
    expect(loadConfig({ cwd: dir, env: {} }).metrics.port).toBe(1);
    expect(loadConfig({ cwd: dir, env: {} }).source).toBe(yaml);
  });

  it('an explicit path wins over TOKENFUSE_CONFIG, which wins over the lookup in cwd', () => {
    write('tokenfuse.config.yaml', 'metrics:\n  port: 1\n');
    const fromEnv = write('env.yaml', 'metrics:\n  port: 2\n');
    const explicit = write('explicit.yaml', 'metrics:\n  port: 3\n');
    const env = { TOKENFUSE_CONFIG: 'env.yaml' };

    const viaEnv = loadConfig({ cwd: dir, env });
    expect([viaEnv.metrics.port, viaEnv.source]).toEqual([2, fromEnv]);
    const viaPath = loadConfig({ cwd: dir, env, path: 'explicit.yaml' });
    expect([viaPath.metrics.port, viaPath.source]).toEqual([3, explicit]);
  });

  it('resolveConfig takes options from code and names its source', () => {
    const config = resolveConfig(
      { metrics: { exporter: 'none' }, content: { capture: true } },
      { env: {}, source: 'start()' },
    );
    expect(config).toEqual({
      ...DEFAULTS,
      metrics: { ...DEFAULTS.metrics, exporter: 'none' },
      content: { capture: true },
      source: 'start()',
    });
  });
});

describe('environment precedence', () => {
  it('environment variables win over the file', () => {
    const path = write('tokenfuse.config.yaml', FULL_YAML);
    const config = loadConfig({
      cwd: dir,
      env: {
        TOKENFUSE_DISABLED: 'YES',
        OTEL_SERVICE_NAME: 'billing',
        TOKENFUSE_DEPARTMENT: 'ads',
        TOKENFUSE_PROJECT: ' bidder ',
        TOKENFUSE_USER: 'alice',
        TOKENFUSE_FEATURE: 'autocomplete',
        TOKENFUSE_METRICS_EXPORTER: 'prometheus',
        OTEL_EXPORTER_PROMETHEUS_HOST: '::',
        OTEL_EXPORTER_PROMETHEUS_PORT: '9999',
        OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: 'false',
      },
    });
    expect(config).toEqual({
      ...FULL_RESOLVED,
      enabled: false,
      serviceName: 'billing',
      attribution: {
        ...FULL_RESOLVED.attribution,
        defaults: {
          department: 'ads',
          project: 'bidder',
          environment: 'staging',
          user: 'alice',
          feature: 'autocomplete',
        },
      },
      metrics: { ...FULL_RESOLVED.metrics, exporter: 'prometheus', host: '::', port: 9999 },
      content: { capture: false },
      source: path,
    });
  });

  it('environment tag: TOKENFUSE_ENVIRONMENT > config file > OTEL_RESOURCE_ATTRIBUTES', () => {
    const resource = 'service.name=x,deployment.environment.name=from-resource';
    const env = { OTEL_RESOURCE_ATTRIBUTES: resource };

    // resource only
    expect(loadConfig({ cwd: dir, env }).attribution.defaults).toEqual({
      environment: 'from-resource',
    });

    // the file wins over the resource
    write('tokenfuse.config.yaml', 'attribution:\n  defaults:\n    environment: from-file\n');
    expect(loadConfig({ cwd: dir, env }).attribution.defaults).toEqual({
      environment: 'from-file',
    });

    // TOKENFUSE_ENVIRONMENT wins over both
    expect(
      loadConfig({ cwd: dir, env: { ...env, TOKENFUSE_ENVIRONMENT: 'from-env' } }).attribution
        .defaults,
    ).toEqual({ environment: 'from-env' });
  });

  it('reads deployment.environment.name before the legacy deployment.environment, percent-decoded', () => {
    const both = 'deployment.environment=legacy,deployment.environment.name=eu%20prod';
    expect(
      resolveConfig({}, { env: { OTEL_RESOURCE_ATTRIBUTES: both } }).attribution.defaults,
    ).toEqual({
      environment: 'eu prod',
    });
    const legacy = 'deployment.environment = legacy ,bad=%E0%A4%A';
    expect(
      resolveConfig({}, { env: { OTEL_RESOURCE_ATTRIBUTES: legacy } }).attribution.defaults,
    ).toEqual({
      environment: 'legacy',
    });
  });

  it('TOKENFUSE_DISABLED turns tokenfuse off but a false value does not turn on what the file disabled', () => {
    expect(resolveConfig({}, { env: { TOKENFUSE_DISABLED: '1' } }).enabled).toBe(false);
    expect(resolveConfig({}, { env: { TOKENFUSE_DISABLED: 'no' } }).enabled).toBe(true);
    expect(
      resolveConfig({ enabled: false }, { env: { TOKENFUSE_DISABLED: 'false' } }).enabled,
    ).toBe(false);
  });

  it('content capture reads booleans and the GenAI capture modes', () => {
    const capture = (value: string) =>
      resolveConfig(
        { content: { capture: value === 'false' } },
        { env: { OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: value } },
      ).content.capture;
    expect(
      ['true', 'false', 'SPAN_ONLY', 'span_and_event', 'EVENT_ONLY', 'NO_CONTENT'].map(capture),
    ).toEqual([true, false, true, true, false, false]);
  });

  it('an empty environment variable is the same as an unset one', () => {
    const config = resolveConfig(
      { serviceName: 'from-code', metrics: { port: 9100 } },
      {
        env: { OTEL_SERVICE_NAME: '', OTEL_EXPORTER_PROMETHEUS_PORT: ' ', TOKENFUSE_DISABLED: '' },
      },
    );
    expect([config.serviceName, config.metrics.port, config.enabled]).toEqual([
      'from-code',
      9100,
      true,
    ]);
  });
});

describe('errors in the config file', () => {
  it('an unknown field names the key, suggests the near miss and gives its line', () => {
    const path = write('tokenfuse.config.yaml', 'metrics:\n  host: localhost\n  prot: 9000\n');
    const err = configError(() => loadConfig({ cwd: dir, env: {} }));
    expect(err.source).toBe(path);
    expect(err.issues).toEqual([
      { path: 'metrics', line: 3, message: "unknown field 'prot'; did you mean 'port'?" },
    ]);
    expect(err.message).toBe(
      `invalid tokenfuse configuration in ${path}:\n` +
        "  - metrics (line 3): unknown field 'prot'; did you mean 'port'?",
    );
  });

  it('suggests the camelCase key for a snake_case one, and nothing for an unrelated key', () => {
    const path = write(
      'tokenfuse.config.yaml',
      'metrics:\n  max_values_per_label: 5\n  colour: red\nflavour: 1\n',
    );
    const err = configError(() => loadConfig({ cwd: dir, env: {} }));
    expect(err.message).toBe(
      `invalid tokenfuse configuration in ${path}:\n` +
        "  - metrics (line 2): unknown fields 'max_values_per_label' (did you mean 'maxValuesPerLabel'?), 'colour'\n" +
        "  - (root) (line 4): unknown field 'flavour'",
    );
  });

  it('a value of the wrong type is named with its type and line', () => {
    const path = write(
      'tokenfuse.config.yaml',
      '# attribution\nattribution:\n  headers: yes\n  defaults:\n    project: 42\nmetrics:\n  port: abc\n',
    );
    const err = configError(() => loadConfig({ cwd: dir, env: {} }));
    expect(err.issues).toEqual([
      {
        path: 'attribution.headers',
        line: 3,
        message: 'expected true or false, got "yes" (string)',
      },
      {
        path: 'attribution.defaults.project',
        line: 5,
        message: 'expected a non-empty string, got 42 (number)',
      },
      {
        path: 'metrics.port',
        line: 7,
        message: 'expected an integer 1..65535, got "abc" (string)',
      },
    ]);
    expect(err.message).toBe(
      `invalid tokenfuse configuration in ${path}:\n` +
        '  - attribution.headers (line 3): expected true or false, got "yes" (string)\n' +
        '  - attribution.defaults.project (line 5): expected a non-empty string, got 42 (number)\n' +
        '  - metrics.port (line 7): expected an integer 1..65535, got "abc" (string)',
    );
  });

  it('an out-of-range port is rejected with its value', () => {
    const path = write(
      'tokenfuse.config.yaml',
      'metrics:\n  exporter: prometheus\n  port: 70000\n',
    );
    const err = configError(() => loadConfig({ cwd: dir, env: {} }));
    expect(err.message).toBe(
      `invalid tokenfuse configuration in ${path}:\n` +
        '  - metrics.port (line 3): expected an integer 1..65535, got 70000 (number)',
    );
  });

  it('lists every problem at once, in file order, with the line of each', () => {
    const path = write(
      'tokenfuse.config.yaml',
      [
        'metrics:', // 1
        '  labels: [department, team]', // 2
        '  maxValuesPerLabel: 0', // 3
        '  endpoint: metrics', // 4
        'pricing:', // 5
        '  overrides:', // 6
        '    - model: gpt-4.1', // 7
        '      input_mtok: -1', // 8
        '    - model: gpt-4.1-mini', // 9
        '      input_mtk: 1', // 10
        '    - provider: relay', // 11
        '      output_mtok: .inf', // 12
        '    - model: embed', // 13
        'providers:', // 14
        '  - id: Local Relay', // 15
        '    hosts: []', // 16
        '  - hosts: [""]', // 17
        '',
      ].join('\n'),
    );
    const err = configError(() => loadConfig({ cwd: dir, env: {} }));
    const price = 'expected a number >= 0 (USD per million tokens)';
    const id = "a lowercase id of a-z, 0-9, '_', '.', '-'";
    expect(err.message).toBe(
      [
        `invalid tokenfuse configuration in ${path}:`,
        `  - metrics.labels[1] (line 2): expected one of 'department', 'project', 'environment', 'provider', 'model', 'user', 'feature', 'customer', got "team" (string)`,
        '  - metrics.maxValuesPerLabel (line 3): expected a positive integer, got 0 (number)',
        `  - metrics.endpoint (line 4): expected a path starting with '/', got "metrics" (string)`,
        `  - pricing.overrides[0].input_mtok (line 8): ${price}, got -1 (number)`,
        "  - pricing.overrides[1] (line 10): unknown field 'input_mtk'; did you mean 'input_mtok'?",
        '  - pricing.overrides[2].model (line 11): missing (expected a non-empty string)',
        `  - pricing.overrides[2].output_mtok (line 12): ${price}, got Infinity (number)`,
        '  - pricing.overrides[3] (line 13): no price given; set at least one of input_mtok, output_mtok, cache_read_mtok, cache_write_mtok',
        `  - providers[0].id (line 15): expected ${id}, got "Local Relay" (string)`,
        '  - providers[0].hosts (line 16): expected a non-empty array of hostnames, got an empty array',
        `  - providers[1].id (line 17): missing (expected ${id})`,
        '  - providers[1].hosts[0] (line 17): expected a non-empty string, got "" (string)',
      ].join('\n'),
    );
  });

  it('maps issues in a JSON file to their lines too', () => {
    const path = write(
      'tokenfuse.config.json',
      '{\n\t"metrics": {\n\t\t"port": "9464"\n\t},\n\t"prot": 1\n}\n',
    );
    const err = configError(() => loadConfig({ cwd: dir, env: {} }));
    expect(err.message).toBe(
      `invalid tokenfuse configuration in ${path}:\n` +
        '  - metrics.port (line 3): expected an integer 1..65535, got "9464" (string)\n' +
        "  - (root) (line 5): unknown field 'prot'",
    );
  });

  it('a YAML syntax error names the file, line and column', () => {
    const path = write(
      'tokenfuse.config.yaml',
      'metrics:\n  port: 9464\nattribution:\n  headers: true: false\n',
    );
    const err = configError(() => loadConfig({ cwd: dir, env: {} }));
    expect(err.source).toBe(path);
    expect(err.issues).toEqual([
      {
        path: '',
        line: 4,
        column: 12,
        message: 'syntax error: Nested mappings are not allowed in compact mappings',
      },
    ]);
    expect(err.message).toBe(
      `invalid tokenfuse configuration in ${path}:\n` +
        '  - (root) (line 4, column 12): syntax error: Nested mappings are not allowed in compact mappings',
    );
  });

  it('a top level that is not a mapping is rejected', () => {
    const path = write('tokenfuse.config.yaml', '# a list, not options\n- metrics\n- pricing\n');
    const err = configError(() => loadConfig({ cwd: dir, env: {} }));
    expect(err.message).toBe(
      `invalid tokenfuse configuration in ${path}:\n` +
        '  - (root) (line 2): expected a mapping of tokenfuse options at the top level, got an array',
    );
  });

  it('a missing file named by TOKENFUSE_CONFIG names the variable and the path', () => {
    const err = configError(() =>
      loadConfig({ cwd: dir, env: { TOKENFUSE_CONFIG: 'conf/missing.yaml' } }),
    );
    expect(err.source).toBe('environment variable TOKENFUSE_CONFIG');
    expect(err.message).toBe(
      'invalid tokenfuse configuration in environment variable TOKENFUSE_CONFIG:\n' +
        `  - (root): file not found: ${join(dir, 'conf', 'missing.yaml')}`,
    );
  });

  it('a missing explicit path is an error naming the path', () => {
    const err = configError(() => loadConfig({ cwd: dir, env: {}, path: 'nope.yml' }));
    expect(err.message).toBe(
      `invalid tokenfuse configuration in ${join(dir, 'nope.yml')}:\n  - (root): file not found`,
    );
  });
});

describe('errors in the environment', () => {
  it('a bad OTEL_EXPORTER_PROMETHEUS_PORT names the variable, the field and the value', () => {
    const err = configError(() =>
      loadConfig({ cwd: dir, env: { OTEL_EXPORTER_PROMETHEUS_PORT: 'abc' } }),
    );
    expect(err.source).toBe('environment variable OTEL_EXPORTER_PROMETHEUS_PORT');
    expect(err.issues).toEqual([
      { path: 'metrics.port', message: 'expected an integer 1..65535, got "abc" (string)' },
    ]);
    expect(err.message).toBe(
      'invalid tokenfuse configuration in environment variable OTEL_EXPORTER_PROMETHEUS_PORT:\n' +
        '  - metrics.port: expected an integer 1..65535, got "abc" (string)',
    );
  });

  it('rejects out-of-range ports, unknown exporters and non-boolean switches', () => {
    const messageFor = (env: NodeJS.ProcessEnv) =>
      configError(() => resolveConfig({}, { env })).message;
    expect(messageFor({ OTEL_EXPORTER_PROMETHEUS_PORT: '0' })).toBe(
      'invalid tokenfuse configuration in environment variable OTEL_EXPORTER_PROMETHEUS_PORT:\n' +
        '  - metrics.port: expected an integer 1..65535, got "0" (string)',
    );
    expect(messageFor({ TOKENFUSE_METRICS_EXPORTER: 'otlp' })).toBe(
      'invalid tokenfuse configuration in environment variable TOKENFUSE_METRICS_EXPORTER:\n' +
        "  - metrics.exporter: expected 'prometheus' or 'none', got \"otlp\" (string)",
    );
    expect(messageFor({ TOKENFUSE_DISABLED: 'maybe' })).toBe(
      'invalid tokenfuse configuration in environment variable TOKENFUSE_DISABLED:\n' +
        '  - enabled: expected true, false, 1, 0, yes or no, got "maybe" (string)',
    );
    expect(messageFor({ OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: 'on' })).toBe(
      'invalid tokenfuse configuration in environment variable OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT:\n' +
        '  - content.capture: expected true or false, or one of NO_CONTENT, SPAN_ONLY, EVENT_ONLY, SPAN_AND_EVENT, got "on" (string)',
    );
  });
});

describe('errors in options from code', () => {
  it('lists every issue with its dotted path and no line', () => {
    const err = configError(() =>
      resolveConfig(
        {
          metrics: { port: 1.5, exporter: 'otlp' as 'none' },
          pricing: {
            overrides: [
              { model: 'a', input_mtok: 1 },
              { model: 'b', input_mtok: Number.NaN },
            ],
          },
        },
        { env: {} },
      ),
    );
    expect(err.source).toBe('code');
    expect(err.issues).toEqual([
      // in the order of the schema's fields, not of the object given
      {
        path: 'metrics.exporter',
        message: "expected 'prometheus' or 'none', got \"otlp\" (string)",
      },
      { path: 'metrics.port', message: 'expected an integer 1..65535, got 1.5 (number)' },
      {
        path: 'pricing.overrides[1].input_mtok',
        message: 'expected a number >= 0 (USD per million tokens), got NaN (number)',
      },
    ]);
  });

  it('metrics.withoutScopeInfo takes true or false only', () => {
    const err = configError(() =>
      resolveConfig({ metrics: { withoutScopeInfo: 'yes' as never } }, { env: {} }),
    );
    expect(err.issues).toEqual([
      { path: 'metrics.withoutScopeInfo', message: 'expected true or false, got "yes" (string)' },
    ]);
  });

  it('rejects options that are not an object', () => {
    const err = configError(() =>
      resolveConfig('metrics' as never, { env: {}, source: 'start()' }),
    );
    expect(err.message).toBe(
      'invalid tokenfuse configuration in start():\n  - (root): expected an object, got "metrics" (string)',
    );
  });
});
