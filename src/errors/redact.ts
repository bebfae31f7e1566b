/**
 * Keeps secrets out of error messages and log lines while leaving enough of a value's
 * shape to fix it from the message: `redis://:***@host:6379`, `https://hooks.example/***`.
 * Config errors land in CI logs, crash reporters and chat; a password in one is leaked.
 */

/**
 * Field names whose values are secret or may embed one (URLs carry passwords and
 * tokens). Whole-name matches, so `limit.tokens` (a count) is not one.
 */
const SECRET_FIELD =
  /^(.*url|.*password|passwd|.*secret|.*token|api_?key|auth|authorization|credentials?|tls)$/i;

/**
 * Whether the value at this config path may hold a secret, by the names along the
 * path; anything inside a `headers` map counts (`Authorization: Bearer …`).
 */
export function isSecretPath(path: readonly (string | number)[]): boolean {
  return path.some(
    (segment, i) =>
      typeof segment === 'string' &&
      (SECRET_FIELD.test(segment) || (/^headers?$/i.test(segment) && i < path.length - 1)),
  );
}

/**
 * A URL with its password, path, query and fragment hidden: the scheme, user, host
 * and port stay, and a path that is only a Redis database number (`/0`).
 * Webhook URLs carry their token in the path, others in the query.
 */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Not parseable: keep the scheme and what looks like the host, hide the rest.
    const m = /^([a-z][a-z0-9+.-]*:\/\/)([^/@?#\s]*@)?([^/?#\s]*)(.*)$/i.exec(url);
    if (!m) return '***';
    const auth = m[2] ? `${m[2].includes(':') ? `${m[2].split(':')[0]}:***` : '***'}@` : '';
    return `${m[1]}${auth}${m[3]}${m[4] ? '/***' : ''}`;
  }
  // Built by hand: URL's own setters would percent-encode the asterisks.
  const auth = parsed.password
    ? `${parsed.username}:***@`
    : parsed.username
      ? `${parsed.username}@`
      : '';
  const host = parsed.port ? `${parsed.hostname}:${parsed.port}` : parsed.hostname;
  let path = /^\/?\d*$/.test(parsed.pathname) ? parsed.pathname : '/***';
  // URL gives http(s) URLs a '/' path even when none was written.
  if (path === '/' && !/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*\//i.test(url)) path = '';
  const query = parsed.search ? '?***' : '';
  return `${parsed.protocol}//${auth}${host}${path}${query}${parsed.hash ? '#***' : ''}`;
}

const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>`]+/gi;
const AUTH_SCHEME = /\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{4,}/g;
const KNOWN_TOKEN = /\b(sk-|sk_|xox[abprs]-|ghp_|gho_|github_pat_|glpat-|AKIA)[A-Za-z0-9_-]{6,}/g;

/**
 * `text` with every URL redacted ({@link redactUrl}), `Bearer …`/`Basic …`
 * credentials and well-known API-key shapes (`sk-…`, `xoxb-…`, `ghp_…`) hidden.
 * Applied to every {@link ConfigError} message and to tokenfuse's stderr lines,
 * so that a new field echoing a value cannot leak one.
 */
export function redactSecrets(text: string): string {
  return text
    .replace(URL_IN_TEXT, (url) => {
      // Keep punctuation that ends a sentence or closes a quote outside the URL.
      const trail = /[.,;:)\]}]+$/.exec(url)?.[0] ?? '';
      return redactUrl(url.slice(0, url.length - trail.length)) + trail;
    })
    .replace(AUTH_SCHEME, '$1 ***')
    .replace(KNOWN_TOKEN, '$1***');
}

/**
 * How a config error shows a value found in a secret field: its shape, never its
 * content. URLs keep what {@link redactUrl} keeps.
 */
export function describeSecretValue(value: unknown): string | undefined {
  if (typeof value === 'string') {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value))
      return `${JSON.stringify(redactUrl(value))} (string)`;
    const slash = value.indexOf('/');
    // `hooks.slack.com/services/T0/B0/XXX` (a URL without its scheme): the host helps, the rest is the token.
    if (slash > 0) return `${JSON.stringify(`${value.slice(0, slash)}/***`)} (string)`;
    return `a string of ${value.length} characters (hidden)`;
  }
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return `a ${typeof value} (hidden)`;
  // objects, arrays, null: described without their content already
  return undefined;
}
