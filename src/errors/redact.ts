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
 * How much of a URL's path a message shows: `masked` (`/***`; a path that is only a
 * Redis database number, `/0`, stays), for a URL whose path may hold its token
 * (webhooks); `kept`, for one whose path only names a resource (a price catalog
 * file); `omitted`, only `scheme://host:port` (a log line naming where it posted).
 */
export type UrlPathShown = 'masked' | 'kept' | 'omitted';

/**
 * The one policy for showing a URL in an error or a log line: the scheme, host and
 * port stay; a password, the query and the fragment never show (`:***`, `?***`,
 * `#***` say they were there); a username shows only beside a password (alone, it
 * is often the token itself, as in `https://TOKEN@host`); the path as `path` says.
 */
export function redactUrl(url: string, path: UrlPathShown = 'masked'): string {
  const parts = urlParts(url);
  if (parts === undefined) return '***';
  const origin = `${parts.scheme}//${parts.host}`;
  if (path === 'omitted') return origin;
  const auth =
    parts.password !== undefined
      ? `${parts.username}:***@`
      : parts.username !== undefined
        ? '***@'
        : '';
  const shownPath = path === 'kept' || /^\/?\d*$/.test(parts.path) ? parts.path : '/***';
  return `${parts.scheme}//${auth}${parts.host}${shownPath}${parts.query ? '?***' : ''}${parts.hash ? '#***' : ''}`;
}

interface UrlParts {
  /** With its colon: `https:`. */
  scheme: string;
  /** `undefined` when the URL has no userinfo; `''` for `redis://:pw@…`. */
  username: string | undefined;
  password: string | undefined;
  /** Host and port as written (`[::1]:6379`). */
  host: string;
  /** `''` when the URL has none. */
  path: string;
  query: boolean;
  hash: boolean;
}

/** The parts of `url`; by pattern when `URL` cannot parse it (the value is wrong anyway). */
function urlParts(url: string): UrlParts | undefined {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  // URL gives http(s) URLs a '/' path even when none was written.
  const written =
    /^([a-z][a-z0-9+.-]*:)\/\/(?:([^/@?#\s]*)@)?([^/?#\s]*)([^?#]*)(\?[^#]*)?(#.*)?$/is.exec(url);
  if (parsed !== undefined) {
    const hasAuth = written?.[2] !== undefined || parsed.username !== '' || parsed.password !== '';
    return {
      scheme: parsed.protocol,
      username: hasAuth ? parsed.username : undefined,
      password: parsed.password !== '' ? parsed.password : undefined,
      host: parsed.port ? `${parsed.hostname}:${parsed.port}` : parsed.hostname,
      path: written !== null && written[4] === '' ? '' : parsed.pathname,
      query: parsed.search !== '',
      hash: parsed.hash !== '',
    };
  }
  if (written === null) return undefined;
  const [, scheme, auth, host, path, query, hash] = written;
  const colon = auth?.indexOf(':') ?? -1;
  return {
    scheme: scheme!,
    username: auth === undefined ? undefined : colon >= 0 ? auth.slice(0, colon) : auth,
    password: auth !== undefined && colon >= 0 ? auth.slice(colon + 1) : undefined,
    host: host!,
    path: path ?? '',
    query: query !== undefined,
    hash: hash !== undefined,
  };
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
