/**
 * The admin endpoint (`admin: { port, token }`): this process's fuses over HTTP, for
 * `tokenfuse fuses --admin` when budgets live in this process's memory. Off unless
 * configured; bound to a loopback address only (the resolver refuses any other);
 * every request must carry the token, compared in constant time.
 *
 *   GET  /fuses                      every fuse
 *   GET  /fuses/<budget>             one fuse
 *   POST /fuses/<budget>/reset       body {by?, reason?}
 *   POST /fuses/<budget>/isolate     body {by?, reason?}
 *   POST /fuses/<budget>/raise       body {by?, reason?, tokens?, usd?, requests?}
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { diag } from '@opentelemetry/api';
import type { ResolvedAdmin } from '../config/resolve-admin.js';
import { isTokenfuseError } from '../errors/tokenfuse-error.js';
import type { FuseBoard } from '../fuses/fuse-board.js';
import type { ManualActionName } from '../fuses/fuse-events.js';
import { fuseSnapshotJson } from '../fuses/fuse-snapshot.js';

const MAX_BODY = 16 * 1024;
const MAX_NOTE = 200;
const ACTIONS: ReadonlySet<string> = new Set<ManualActionName>(['reset', 'isolate', 'raise']);

/** HTTP status of a refusal, by error code. */
const STATUS: Record<string, number> = {
  unknown_budget: 404,
  invalid_raise: 400,
  ledger_permission_denied: 403,
  ledger_control_failed: 503,
};

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Equal tokens, in time that depends on neither (digests of equal length are compared). */
function sameToken(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new HttpError(413, 'body_too_large', `body over ${MAX_BODY} bytes`);
    chunks.push(chunk);
  }
  if (size === 0) return {};
  try {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    if (typeof body === 'object' && body !== null && !Array.isArray(body))
      return body as Record<string, unknown>;
  } catch {}
  throw new HttpError(400, 'bad_body', 'the body is not a JSON object');
}

function note(body: Record<string, unknown>, key: 'by' | 'reason'): string | undefined {
  const v = body[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length > MAX_NOTE)
    throw new HttpError(
      400,
      'bad_body',
      `"${key}" must be a string of at most ${MAX_NOTE} characters`,
    );
  return v;
}

async function handle(board: FuseBoard, token: string, req: IncomingMessage, res: ServerResponse) {
  const auth = req.headers.authorization ?? '';
  const given = auth.startsWith('Bearer ') ? auth.slice(7) : '';
  if (!sameToken(given, token))
    throw new HttpError(
      401,
      'unauthorized',
      'the admin endpoint needs its token (Authorization: Bearer …)',
    );
  const path = new URL(req.url ?? '/', 'http://admin').pathname.split('/').filter(Boolean);
  if (path[0] !== 'fuses' || path.length > 3) throw new HttpError(404, 'not_found', 'no such path');
  const name = path[1] === undefined ? undefined : decodeURIComponent(path[1]);
  if (req.method === 'GET' && path.length === 1)
    return send(res, 200, { fuses: (await board.snapshot()).map(fuseSnapshotJson) });
  if (req.method === 'GET' && name !== undefined && path.length === 2)
    return send(res, 200, fuseSnapshotJson(await board.read(name)));
  if (req.method === 'POST' && name !== undefined && path.length === 3 && ACTIONS.has(path[2]!)) {
    const action = path[2] as ManualActionName;
    const body = await readBody(req);
    const who = { by: note(body, 'by'), reason: note(body, 'reason') };
    const after =
      action === 'raise'
        ? await board.raise(
            name,
            {
              ...(body.tokens !== undefined ? { tokens: body.tokens as number } : {}),
              ...(body.usd !== undefined ? { usd: body.usd as number } : {}),
              ...(body.requests !== undefined ? { requests: body.requests as number } : {}),
            },
            who,
          )
        : await board[action](name, who);
    return send(res, 200, fuseSnapshotJson(after));
  }
  throw new HttpError(405, 'method_not_allowed', `${req.method} ${req.url} is not an admin action`);
}

/**
 * Serves the admin endpoint for `board`; undefined when `admin.port` is unset. The
 * server does not keep the process alive; a failure to listen is logged, not thrown.
 */
export function startAdminServer(board: FuseBoard, admin: ResolvedAdmin): Server | undefined {
  const { port, host, token } = admin;
  if (port === undefined || token === undefined) return undefined;
  const server = createServer((req, res) => {
    handle(board, token, req, res).catch((err: unknown) => {
      if (err instanceof HttpError)
        return send(res, err.status, { error: { code: err.code, message: err.message } });
      if (isTokenfuseError(err))
        return send(res, STATUS[err.code] ?? 500, {
          error: { code: err.code, message: err.message.replace(/^tokenfuse: /, '') },
        });
      diag.error('tokenfuse: the admin endpoint failed on a request', err);
      send(res, 500, {
        error: { code: 'internal', message: 'internal error (see the process log)' },
      });
    });
  });
  server.on('error', (err) => {
    diag.error(`tokenfuse: the admin endpoint cannot listen on ${host}:${port}: ${err.message}`);
  });
  server.listen(port, host, () => {
    diag.info(
      `tokenfuse: admin endpoint on http://${host.includes(':') ? `[${host}]` : host}:${port}/fuses (token required)`,
    );
  });
  server.unref();
  return server;
}
