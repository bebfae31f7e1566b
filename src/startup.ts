/**
 * What tokenfuse says on stderr when it starts (or refuses to): the lines a user
 * sees in a terminal or a container log without configuring any logger.
 *
 * Written straight to stderr rather than through the OpenTelemetry diag logger:
 * `tokenfuse/register` leaves diag at WARN by default (so an info message would not
 * show), and diag's console logger writes info to stdout, which belongs to the app.
 */
import { ConfigError } from './errors/config-error.js';
import { ledgerHost } from './fuses/stores/redis/connection.js';
import { PACKAGE_NAME, PACKAGE_VERSION } from './version.js';

/** Lowest Node.js version tokenfuse runs on; `engines` in package.json says the same (checked by a test). */
export const MIN_NODE_VERSION = '22.15.0';

/** Environment variable that silences tokenfuse's own stderr lines (`silent`); config errors still print. */
export const LOG_ENV = 'TOKENFUSE_LOG';

/** Values of {@link LOG_ENV}: `info` (default) prints the startup line and warnings, `silent` nothing. */
export type LogMode = 'info' | 'silent';

/**
 * `TOKENFUSE_LOG`, validated like every other variable: a value that does not mean
 * what the operator thinks is an error, not a silent default.
 *
 * @throws {ConfigError} for a value other than `info` or `silent` (any case)
 */
export function logMode(env: NodeJS.ProcessEnv = process.env): LogMode {
  const value = env[LOG_ENV]?.trim();
  if (!value) return 'info';
  const word = value.toLowerCase();
  if (word === 'info' || word === 'silent') return word;
  throw new ConfigError(`environment variable ${LOG_ENV}`, [
    { path: LOG_ENV, message: `expected 'info' or 'silent', got ${JSON.stringify(value)}` },
  ]);
}

/** Writes one line to stderr, unless `TOKENFUSE_LOG` is `silent` (an invalid value does not silence). */
export function say(line: string): void {
  let mode: LogMode = 'info';
  try {
    mode = logMode();
  } catch {
    // start() reports the invalid value; a warning before it must still be seen
  }
  if (mode !== 'silent') process.stderr.write(`${line}\n`);
}

/** `v20.20.2`-style version compared with {@link MIN_NODE_VERSION}: the problem in words, or undefined when supported. */
export function unsupportedNode(version: string = process.versions.node): string | undefined {
  const have = version.split('.').map(Number);
  const need = MIN_NODE_VERSION.split('.').map(Number);
  for (let i = 0; i < need.length; i++) {
    const a = have[i] ?? 0;
    const b = need[i]!;
    if (a > b) return undefined;
    if (a < b) return `Node.js v${version} is not supported (needs >= ${MIN_NODE_VERSION})`;
  }
  return undefined;
}

/** How the startup line describes each part of the configuration. */
export interface StartupFacts {
  /** The config file's absolute path, 'code' for options in code, or undefined when no file was found. */
  configFile: string | undefined;
  /** Where the lookup went when no file was found. */
  lookedIn: string;
  budgets: number;
  policies: number;
  ledger: string;
  /** The URL of the metrics endpoint, or a phrase when there is none. */
  metrics: string;
}

/** The one line `start()` prints: what is in effect, so a missing config file is seen at once. */
export function startupLine(facts: StartupFacts): string {
  const config =
    facts.configFile === 'code'
      ? 'options in code'
      : (facts.configFile ?? `none (looked for ${facts.lookedIn})`);
  const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;
  return (
    `${PACKAGE_NAME} ${PACKAGE_VERSION} started: config ${config}; ` +
    `${plural(facts.budgets, 'budget', 'budgets')}, ${plural(facts.policies, 'policy', 'policies')}; ` +
    `ledger ${facts.ledger}; metrics ${facts.metrics}`
  );
}

/** `http://127.0.0.1:9464/metrics`, with `(all interfaces)` after a wildcard host. */
export function metricsUrl(host: string, port: number, endpoint: string): string {
  const shown = host.includes(':') ? `[${host}]` : host;
  const all = host === '0.0.0.0' || host === '::' ? ' (all interfaces)' : '';
  return `http://${shown}:${port}${endpoint}${all}`;
}

/** `redis host:port` for the startup line: never the URL's credentials, path or query. */
export function ledgerLabel(url: string | undefined): string {
  return url === undefined ? 'redis' : `redis ${ledgerHost(url)}`;
}
