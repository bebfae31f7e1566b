/**
 * tokenfuse's settings read from environment variables (and OpenTelemetry's own,
 * where they mean the same thing), which win over the options of a file or of code.
 */
import { ConfigError, type ConfigIssue } from '../errors/config-error.js';
import { TAG_NAMES } from '../metrics/contract.js';
import type { Tags } from '../types.js';
import { isHttpUrl, isRedisUrl } from './fields.js';
import { EXPECTED, expectedMessage, prometheusUrlMessage } from './messages.js';

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
export function resolveTagDefaults(fromOptions: Tags, env: EnvReader): Tags {
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
export class EnvReader {
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
