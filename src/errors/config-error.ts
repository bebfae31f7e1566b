import { redactSecrets } from './redact.js';
import { hasTokenfuseCode, TokenfuseError } from './tokenfuse-error.js';

/** One problem found in a configuration. */
export interface ConfigIssue {
  /** Dotted path of the field, e.g. `metrics.port` or `pricing.overrides[2].model`. */
  path: string;
  /** What is wrong, naming the bad value. */
  message: string;
  /** 1-based line in the config file, when the value came from a file. */
  line?: number;
  /** 1-based column in the config file, for syntax errors. */
  column?: number;
}

/**
 * Problems listed in a {@link ConfigError}'s message; the rest are counted (all stay
 * in `issues`). A config bomb must not yield a message of megabytes in a log.
 */
export const MAX_LISTED_ISSUES = 20;

/**
 * Thrown at startup when the configuration (file, environment or code) is invalid.
 * The message names the source (file path or `env NAME`), each bad field and value.
 * Secret-looking parts of the messages (URL credentials and paths, `Bearer …`,
 * API-key shapes) are redacted, in `message` and in `issues` alike.
 */
export class ConfigError extends TokenfuseError {
  /** `config_invalid`, for handlers that tell tokenfuse's errors apart by code. */
  readonly code = 'config_invalid';
  readonly source: string;
  readonly issues: readonly ConfigIssue[];

  constructor(source: string, issues: readonly ConfigIssue[], options?: ErrorOptions) {
    const redacted = issues.map((i) => ({ ...i, message: redactSecrets(i.message) }));
    const lines = redacted.slice(0, MAX_LISTED_ISSUES).map((i) => {
      const where = i.line ? ` (line ${i.line}${i.column ? `, column ${i.column}` : ''})` : '';
      return `  - ${i.path || '(root)'}${where}: ${i.message}`;
    });
    const more = redacted.length - lines.length;
    if (more > 0) lines.push(`  - … and ${more.toLocaleString('en-US')} more problems`);
    super(`invalid tokenfuse configuration in ${source}:\n${lines.join('\n')}`, options);
    this.name = 'ConfigError';
    this.source = source;
    this.issues = redacted;
  }
}

/** True for a {@link ConfigError}, across copies of tokenfuse. */
export function isConfigError(err: unknown): err is ConfigError {
  return hasTokenfuseCode(err, 'config_invalid');
}
