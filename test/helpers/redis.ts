// A real redis-server for the suites that test the shared ledger: started on a free loopback
// port with no persistence, stoppable, killable and restartable on the same port.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { freePort, tryConnect } from './processes.js';

const REDIS_SERVER = process.env.REDIS_SERVER ?? 'redis-server';

function redisServerPath(): string {
  try {
    return execFileSync('sh', ['-c', `command -v ${REDIS_SERVER}`], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error(
      `redis-server was not found on PATH; the shared-ledger tests start a real one: install it with apt-get install redis-server`,
    );
  }
}

export class RedisServer {
  private child: ChildProcess | undefined;
  private output = '';
  /** A client for the test's own reads (lazy). */
  private admin: Redis | undefined;

  private constructor(
    readonly port: number,
    private readonly bin: string,
  ) {}

  /** Starts redis-server on a free port, waiting until it accepts connections. */
  static async start(): Promise<RedisServer> {
    const server = new RedisServer(await freePort(), redisServerPath());
    await server.launch();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  private async launch(): Promise<void> {
    this.output = '';
    const child = spawn(
      this.bin,
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--loglevel',
        'warning',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      this.output += d;
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      this.output += d;
    });
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null)
        throw new Error(`redis-server exited (${child.exitCode}):\n${this.output}`);
      if ((await tryConnect(this.port)) === 'connected') return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`redis-server did not listen on ${this.port} within 10 s:\n${this.output}`);
  }

  /** The test's own client (fast failure, no retries). */
  client(): Redis {
    this.admin ??= new Redis(this.url, { maxRetriesPerRequest: 1, lazyConnect: false });
    return this.admin;
  }

  /** SIGKILL: gone, with everything in it. */
  async kill(): Promise<void> {
    await this.closeClient();
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    this.child = undefined;
  }

  /** Starts it again, empty, on the same port. */
  async restart(): Promise<void> {
    await this.kill();
    await this.launch();
  }

  /** SIGSTOP: the connection stays up, nothing answers. */
  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  resume(): void {
    this.child?.kill('SIGCONT');
  }

  async flush(): Promise<void> {
    await this.client().flushall();
  }

  /**
   * Creates the read-only `viewer` user of docs/operator-control.md ("Roles"), on the keys
   * under `keyPrefix`, and returns a URL that connects as it.
   */
  async addViewer(keyPrefix: string): Promise<string> {
    await this.client().call(
      'ACL',
      'SETUSER',
      'viewer',
      'reset',
      'on',
      '>viewer-secret',
      `%R~${keyPrefix}*`,
      '+@read',
      '+@scripting',
      '-@dangerous',
      '+info',
      '+ping',
      '+client|setname',
    );
    return `redis://viewer:viewer-secret@127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    this.resume();
    await this.kill();
  }

  private async closeClient(): Promise<void> {
    const admin = this.admin;
    this.admin = undefined;
    if (admin) admin.disconnect();
  }
}

/** EVALSHA and EVAL calls a Redis has served (INFO commandstats), scripts of the ledger. */
export async function scriptCalls(client: Redis): Promise<number> {
  const info = await client.info('commandstats');
  let calls = 0;
  for (const m of info.matchAll(/^cmdstat_(evalsha|eval):calls=(\d+)/gm)) calls += Number(m[2]);
  return calls;
}

/**
 * Starts one redis-server for the calling file or `describe` (beforeAll) and stops it
 * afterwards (afterAll). The handle returned stands for the server from beforeAll on: read
 * it inside tests and hooks.
 */
export function useRedisServer(): RedisServer {
  let server: RedisServer | undefined;
  beforeAll(async () => {
    server = await RedisServer.start();
  });
  afterAll(async () => {
    await server?.stop();
  });
  return new Proxy({} as RedisServer, {
    get(_target, key) {
      if (server === undefined) {
        throw new Error('redis-server starts in beforeAll: use it inside a test or a hook');
      }
      const value: unknown = Reflect.get(server, key, server);
      return typeof value === 'function' ? value.bind(server) : value;
    },
  });
}
