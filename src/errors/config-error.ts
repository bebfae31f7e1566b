import { TokenfuseError } from './tokenfuse-error.js';

/** One problem found in a configuration. */
export interface ConfigIssue {
  /** Dotted path of the field, e.g. `metrics.port` or `pricing.overrides[2].model`. */
  path: string;
  /** What is wrong, naming the bad value. */
  message: string;
  /** 1-based line in the config file, when the value came from a file. */
  line?: number;
}

/**
 * Thrown at startup when the configuration (file, environment or code) is invalid.
 * The message names the source (file path or `env NAME`), each bad field and value.
 */
export class ConfigError extends TokenfuseError {
  readonly source: string;
  readonly issues: readonly ConfigIssue[];

  constructor(source: string, issues: readonly ConfigIssue[], options?: ErrorOptions) {
    const lines = issues.map(
      (i) => `  - ${i.path || '(root)'}${i.line ? ` (line ${i.line})` : ''}: ${i.message}`,
    );
    super(`invalid tokenfuse configuration in ${source}:\n${lines.join('\n')}`, options);
    this.name = 'ConfigError';
    this.source = source;
    this.issues = issues;
  }
}
