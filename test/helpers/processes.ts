// Child processes for the suites that run tokenfuse the way a user does: a Node 24 child
// (`process.execPath`) with a clean environment, its output collected, plus TCP port helpers.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { type AddressInfo, connect, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

/** The repo root (with a trailing slash). */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The parent's environment without npm's script variables (npm_config_local_prefix would
 * send a nested `npm install` to the repo) or anything configuring tokenfuse, OTel or Node. */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(TOKENFUSE_|OTEL_|NODE_OPTIONS$|npm_)/i.test(key)) continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

/** A Node 24 child process running from the repo root (or `opts.cwd`), its output collected. */
export class App {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(args: string[], env: NodeJS.ProcessEnv, opts: { cwd?: string } = {}) {
    this.child = spawn(process.execPath, args, {
      cwd: opts.cwd ?? ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      this.stdout += d;
    });
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      this.stderr += d;
    });
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => resolve({ code, signal }));
      this.child.on('error', () => resolve({ code: null, signal: null }));
    });
  }

  /** The first line the app prints; rejects if it exits (or `timeoutMs` passes) before. */
  firstLine(timeoutMs = 20_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const nl = this.stdout.indexOf('\n');
        if (nl < 0) return false;
        done();
        resolve(this.stdout.slice(0, nl));
        return true;
      };
      const onExit = () =>
        setImmediate(() => {
          if (check()) return;
          done();
          reject(new Error(`app exited before printing a line; stderr:\n${this.stderr}`));
        });
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no line from the app in ${timeoutMs} ms; stderr:\n${this.stderr}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.child.stdout!.off('data', check);
        this.child.off('exit', onExit);
      };
      if (check()) return;
      this.child.stdout!.on('data', check);
      this.child.on('exit', onExit);
    });
  }

  /** Kills the app (if it is still running) and waits for it to exit. */
  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }
}

/**
 * Ports the kernel hands out as the local end of outgoing connections (Linux's
 * `ip_local_port_range`; its default where the file cannot be read).
 */
function ephemeralRange(): [number, number] {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number);
    if (Number.isInteger(low) && Number.isInteger(high)) return [low!, high!];
  } catch {}
  return [32768, 60999];
}

const handedOut = new Set<number>();

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A TCP port on 127.0.0.1 that was free a moment ago, for a server a test starts.
 *
 * Chosen below the ephemeral range rather than by `listen(0)`: a port from that range,
 * closed and then handed to a child process, can meanwhile become the local end of any
 * outgoing connection on the machine (every suite opens many), and the child's bind then
 * fails. A port below the range can only be taken by another listener, and parallel suites
 * pick at random among thousands. A Redis cluster bus (port + 10000) stays below it too.
 */
export async function freePort(): Promise<number> {
  const [low] = ephemeralRange();
  const top = Math.min(low, 65536) - 10_001;
  const bottom = Math.max(10_000, top - 12_000);
  for (let attempt = 0; attempt < 50 && top > bottom; attempt++) {
    const port = bottom + Math.floor(Math.random() * (top - bottom));
    if (handedOut.has(port) || handedOut.has(port + 10_000)) continue;
    if (!(await canListen(port))) continue;
    handedOut.add(port);
    return port;
  }
  // A machine whose ephemeral range starts very low: the kernel's choice then.
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * The text of an app's /metrics, once it listens: the endpoint binds a moment after
 * tokenfuse starts (the bind is asynchronous), so an app that prints its first line at
 * once can be asked before it is up. Refused connections are retried for `timeoutMs`.
 */
export async function metricsTextOf(port: number, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    } catch (err) {
      const code = ((err as Error).cause as NodeJS.ErrnoException | undefined)?.code;
      if (code !== 'ECONNREFUSED' || Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/** 'connected', or the error code of a TCP connection attempt to 127.0.0.1:port. */
export function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.on('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? String(err)));
  });
}
