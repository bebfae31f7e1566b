/**
 * The `admin` section resolved: the endpoint that changes fuses is served only on a
 * loopback address, and only with a token.
 */
import { ConfigError } from '../errors/config-error.js';
import type { AdminOptions } from '../types.js';
import type { EnvReader } from './environment.js';

/** `admin`, resolved. */
export interface ResolvedAdmin {
  /** Undefined: no admin endpoint (the default). */
  port: number | undefined;
  host: string;
  token: string | undefined;
}

/** Addresses the admin endpoint may bind: it changes fuses, so never an interface others reach. */
const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);
const MIN_TOKEN = 16;

/** `TOKENFUSE_ADMIN_PORT` and `TOKENFUSE_ADMIN_TOKEN` win over the options. */
export function resolveAdmin(admin: AdminOptions, env: EnvReader, source: string): ResolvedAdmin {
  const portText = env.text('TOKENFUSE_ADMIN_PORT');
  let port = admin.port;
  if (portText !== undefined) {
    port = /^\d+$/.test(portText) ? Number(portText) : Number.NaN;
    if (!(port >= 1 && port <= 65535))
      throw new ConfigError('environment variable TOKENFUSE_ADMIN_PORT', [
        {
          path: 'admin.port',
          message: `expected an integer 1..65535, got ${JSON.stringify(portText)}`,
        },
      ]);
  }
  const token = env.text('TOKENFUSE_ADMIN_TOKEN') ?? admin.token;
  const host = admin.host ?? '127.0.0.1';
  if (!LOOPBACK.has(host))
    throw new ConfigError(source, [
      {
        path: 'admin.host',
        message: `${JSON.stringify(host)} is not a loopback address: the admin endpoint changes fuses, so it binds only 127.0.0.1, ::1 or localhost (reach it from elsewhere through an SSH tunnel or kubectl port-forward)`,
      },
    ]);
  if (port !== undefined && token === undefined)
    throw new ConfigError(source, [
      {
        path: 'admin.token',
        message: `missing: the admin endpoint (admin.port ${port}) needs a token of at least ${MIN_TOKEN} characters (or set TOKENFUSE_ADMIN_TOKEN)`,
      },
    ]);
  if (token !== undefined && token.length < MIN_TOKEN)
    // The value is a secret: its length only.
    throw new ConfigError(source, [
      {
        path: 'admin.token',
        message: `too short (${token.length} characters): at least ${MIN_TOKEN}`,
      },
    ]);
  return { port, host, token };
}
