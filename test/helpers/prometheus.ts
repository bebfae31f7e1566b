// Real Prometheus and Alertmanager servers (Debian's packages) for end-to-end suites:
// started on free loopback ports with throwaway configs and storage, stopped after.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './processes.js';

const INSTALL_HINT = 'install it with: apt-get install prometheus prometheus-alertmanager';

/** Fails with an install hint when a binary is missing (CI installs them; tests never skip). */
export function requireBinary(name: string): string {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  const path = found.stdout.trim();
  if (found.status !== 0 || path === '')
    throw new Error(`${name} is not installed; ${INSTALL_HINT}`);
  return path;
}

/** A server child process with its output kept for error messages. */
class Server {
  readonly output: string[] = [];
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;

  constructor(
    readonly name: string,
    bin: string,
    args: string[],
    private readonly dir: string,
  ) {
    this.child = spawn(bin, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (d: Buffer) => {
      this.output.push(d.toString());
      if (this.output.length > 200) this.output.shift();
    };
    this.child.stdout!.on('data', keep);
    this.child.stderr!.on('data', keep);
    this.exited = new Promise((resolve) => this.child.on('exit', () => resolve()));
  }

  async waitReady(url: string, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) break;
      try {
        if ((await fetch(url)).ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${this.name} did not become ready at ${url}:\n${this.output.join('')}`);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(timer);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface PrometheusOptions {
  /** `host:port` targets of tokenfuse /metrics endpoints (one job). */
  targets: string[];
  /** Rule files to load (absolute paths). */
  ruleFiles?: string[];
  /** Alertmanager `host:port` to send alerts to. */
  alertmanager?: string;
  /** Scrape and rule evaluation interval. Short in tests only. @default '1s' */
  interval?: string;
}

export interface PrometheusServer {
  url: string;
  /** Instant query; the result vector (throws with Prometheus's error text on a bad query). */
  query(expr: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  /** Alerts as Prometheus sees them (pending and firing). */
  alerts(): Promise<Array<{ labels: Record<string, string>; state: string }>>;
  /** Waits until every target has been scraped successfully at least once. */
  waitForTargets(): Promise<void>;
  stop(): Promise<void>;
  output(): string;
}

export async function startPrometheus(options: PrometheusOptions): Promise<PrometheusServer> {
  const bin = requireBinary('prometheus');
  const dir = mkdtempSync(join(tmpdir(), 'tokenfuse-prometheus-'));
  const interval = options.interval ?? '1s';
  const config = [
    'global:',
    `  scrape_interval: ${interval}`,
    `  evaluation_interval: ${interval}`,
    options.ruleFiles?.length
      ? `rule_files:\n${options.ruleFiles.map((f) => `  - ${JSON.stringify(f)}`).join('\n')}`
      : '',
    options.alertmanager
      ? `alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: [${JSON.stringify(options.alertmanager)}]`
      : '',
    'scrape_configs:',
    '  - job_name: tokenfuse',
    '    static_configs:',
    `      - targets: [${options.targets.map((t) => JSON.stringify(t)).join(', ')}]`,
  ].join('\n');
  writeFileSync(join(dir, 'prometheus.yml'), `${config}\n`);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = new Server(
    'prometheus',
    bin,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    dir,
  );
  await server.waitReady(`${url}/-/ready`);

  const api = async (path: string) => {
    const res = await fetch(`${url}${path}`);
    const body = (await res.json()) as { status: string; data: any; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${path}: ${body.error}`);
    return body.data;
  };
  return {
    url,
    query: async (expr) => (await api(`/api/v1/query?query=${encodeURIComponent(expr)}`)).result,
    alerts: async () => (await api('/api/v1/alerts')).alerts,
    async waitForTargets() {
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        const { activeTargets } = await api('/api/v1/targets');
        // A target reads "up" as soon as its scrape is reported, which can be a moment
        // before that scrape's samples are committed. `up` is committed with them: once it
        // has a sample for every target, so does everything those scrapes read.
        if (
          activeTargets.length > 0 &&
          activeTargets.every((t: { health: string }) => t.health === 'up') &&
          (await api(`/api/v1/query?query=${encodeURIComponent('up == 1')}`)).result.length >=
            activeTargets.length
        )
          return;
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(`prometheus targets not up:\n${server.output.join('')}`);
    },
    stop: () => server.stop(),
    output: () => server.output.join(''),
  };
}

export interface AlertmanagerServer {
  /** `host:port`, as Prometheus's alerting config wants it. */
  address: string;
  stop(): Promise<void>;
  output(): string;
}

/** Alertmanager with the given config (YAML text); `{{WEBHOOK}}` is not substituted: pass the final text. */
export async function startAlertmanager(configYaml: string): Promise<AlertmanagerServer> {
  const bin = requireBinary('prometheus-alertmanager');
  const dir = mkdtempSync(join(tmpdir(), 'tokenfuse-alertmanager-'));
  writeFileSync(join(dir, 'alertmanager.yml'), configYaml);
  const port = await freePort();
  const server = new Server(
    'alertmanager',
    bin,
    [
      `--config.file=${join(dir, 'alertmanager.yml')}`,
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
    ],
    dir,
  );
  await server.waitReady(`http://127.0.0.1:${port}/-/ready`);
  return {
    address: `127.0.0.1:${port}`,
    stop: () => server.stop(),
    output: () => server.output.join(''),
  };
}
