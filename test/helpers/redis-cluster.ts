// A real Redis Cluster of three masters for the suites that test the ledger on one:
// redis-server --cluster-enabled yes on free loopback ports, joined by
// `redis-cli --cluster create … --cluster-yes`, stopped with everything in it.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, tryConnect } from './processes.js';

const run = promisify(execFile);

export class RedisCluster {
  private constructor(
    readonly ports: number[],
    private readonly children: ChildProcess[],
    private readonly dir: string,
  ) {}

  /** Starts three masters and creates the cluster; resolves once every node says `cluster_state:ok`. */
  static async start(): Promise<RedisCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'tf-cluster-'));
    const ports = [await freePort(), await freePort(), await freePort()];
    // Each node's cluster bus port is chosen free too: by default it is the port + 10000,
    // which can be taken by another suite's server (or be past 65535), and the node exits.
    const busPorts = [await freePort(), await freePort(), await freePort()];
    const children = ports.map((port, i) =>
      spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--cluster-port',
          String(busPorts[i]),
          '--bind',
          '127.0.0.1',
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          join(dir, `nodes-${port}.conf`),
          '--dir',
          dir,
          '--save',
          '',
          '--appendonly',
          'no',
          '--loglevel',
          'warning',
        ],
        { stdio: 'ignore' },
      ),
    );
    const cluster = new RedisCluster(ports, children, dir);
    for (const [i, port] of ports.entries()) {
      const deadline = Date.now() + 10_000;
      while ((await tryConnect(port)) !== 'connected' || children[i]!.exitCode !== null) {
        // A node that exited (a port taken meanwhile) is not the server answering there.
        if (children[i]!.exitCode !== null)
          throw new Error(`redis-server for port ${port} exited with ${children[i]!.exitCode}`);
        if (Date.now() > deadline) throw new Error(`redis-server did not listen on ${port}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    }
    await run('redis-cli', [
      '--cluster',
      'create',
      ...ports.map((p) => `127.0.0.1:${p}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
    for (const port of ports) {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const { stdout } = await run('redis-cli', ['-p', String(port), 'cluster', 'info']);
        if (stdout.includes('cluster_state:ok')) break;
        if (Date.now() > deadline) throw new Error(`cluster not ok on ${port}:\n${stdout}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    return cluster;
  }

  get urls(): string[] {
    return this.ports.map((p) => `redis://127.0.0.1:${p}`);
  }

  /** `redis-cli -c -p <first> …`, following redirections. */
  async cli(...args: string[]): Promise<string> {
    const { stdout } = await run('redis-cli', ['-c', '-p', String(this.ports[0]), ...args]);
    return stdout.trim();
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            c.once('exit', () => resolve());
            c.kill('SIGKILL');
          }),
      ),
    );
    rmSync(this.dir, { recursive: true, force: true });
  }
}
