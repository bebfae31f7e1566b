// Startup and configuration as a new user meets them (issue 8, items 15, 16, 17, 20, 21, 22),
// run the way a user runs tokenfuse: `node --import tokenfuse/register app.mjs` in a child
// process, with the exact stderr and exit code asserted. Needs `npm run build` first.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, createServer, get } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type FakeOpenAI, startFakeOpenAI } from '../../examples/shared/fake-openai-server.mjs';
import { loadConfig, resolveConfig } from '../../src/config/index.js';
import { ConfigError } from '../../src/errors/config-error.js';
import { MIN_NODE_VERSION } from '../../src/startup.js';
import { PACKAGE_VERSION } from '../../src/version.js';
import { App, childEnv, freePort, ROOT } from '../helpers/processes.js';

const REGISTER = join(ROOT, 'dist', 'register.js');
const STARTED = `tokenfuse ${PACKAGE_VERSION} started: config`;
const NOT_STARTED =
  'tokenfuse: the app was not started (exit code 78); fix the configuration, ' +
  'or set TOKENFUSE_DISABLED=true to run the app without tokenfuse\n';

let tmp: string;
const apps: App[] = [];
let server: FakeOpenAI;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'tokenfuse-startup-'));
  server = await startFakeOpenAI();
});
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.kill()));
});
afterAll(async () => {
  await server.close();
  rmSync(tmp, { recursive: true, force: true });
});

function run(args: string[], env: Record<string, string> = {}, cwd?: string): App {
  const app = new App(args, childEnv(env), cwd ? { cwd } : {});
  apps.push(app);
  return app;
}

/** A file in the temporary directory, with `text`; returns its path. */
function file(name: string, text: string): string {
  const path = join(tmp, name);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
  return path;
}

/** A small app that prints a line and sets its own exit code, in its own directory. */
function plainApp(): { dir: string; mjs: string; cjs: string } {
  const dir = mkdtempSync(join(tmp, 'app-'));
  const body = "console.log('app ran');\nprocess.exitCode = 3;\n";
  writeFileSync(join(dir, 'app.mjs'), body);
  writeFileSync(join(dir, 'app.cjs'), body);
  return { dir, mjs: join(dir, 'app.mjs'), cjs: join(dir, 'app.cjs') };
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

// ---------------------------------------------------------------------------------------------
// 15. Secrets in config errors; FIFOs, devices and huge files as the config file
// ---------------------------------------------------------------------------------------------

describe('config errors never echo a secret', () => {
  it('shows webhook URLs, Redis URLs and passwords by their shape only', () => {
    const path = file(
      'secrets.yaml',
      [
        'webhooks:',
        '  - url: htps://hooks.slack.com/services/T000/B000/WEBHOOKSECRET1',
        '  - url: hooks.slack.com/services/T000/B000/WEBHOOKSECRET2',
        'ledger:',
        '  password: 424242',
        '  username: 17',
        '  tls: "-----BEGIN PRIVATE KEY-----TLSSECRET"',
        '',
      ].join('\n'),
    );
    const err = configError(() => loadConfig({ path, env: {} }));
    expect(err.message).toBe(
      `invalid tokenfuse configuration in ${path}:\n` +
        '  - webhooks[0].url (line 2): expected an http(s) URL, got "htps://hooks.slack.com/***" (string)\n' +
        '  - webhooks[1].url (line 3): expected an http(s) URL, got "hooks.slack.com/***" (string)\n' +
        '  - ledger.password (line 5): expected a non-empty string, got a number (hidden)\n' +
        '  - ledger.username (line 6): expected a non-empty string, got 17 (number)\n' +
        '  - ledger.tls (line 7): expected true, false or an object of TLS options, got a string of 36 characters (hidden)',
    );
    const everything = JSON.stringify({ message: err.message, issues: err.issues });
    for (const secret of ['WEBHOOKSECRET', '424242', 'TLSSECRET', 'PRIVATE']) {
      expect(everything).not.toContain(secret);
    }
  });

  it('redacts a URL with credentials wherever a message carries one, keeping its shape', () => {
    const err = new ConfigError('code', [
      {
        path: 'webhooks[0].headers.Authorization',
        message:
          'rejected "Bearer abcdef0123456789" for redis://:hunter2@cache.internal:6379/0 ' +
          'and https://hooks.example/T0/B0/XXXX?token=abc (key sk-proj-abcdefghijklmnop)',
      },
    ]);
    expect(err.message).toBe(
      'invalid tokenfuse configuration in code:\n' +
        '  - webhooks[0].headers.Authorization: rejected "Bearer ***" for redis://:***@cache.internal:6379/0 ' +
        'and https://hooks.example/***?*** (key sk-***)',
    );
    expect(err.issues[0]!.message).not.toContain('hunter2');
  });

  it('options in code are redacted the same way', () => {
    const err = configError(() =>
      resolveConfig({ webhooks: [{ url: 'ftp://user:pw123@hooks.example/T0/SECRET' }] }),
    );
    expect(err.message).toBe(
      'invalid tokenfuse configuration in code:\n' +
        '  - webhooks[0].url: expected an http(s) URL, got "ftp://user:***@hooks.example/***" (string)',
    );
  });
});

describe('the config file must be a regular file of at most 1 MiB', () => {
  const refused = (path: string, why: string) =>
    `invalid tokenfuse configuration in ${path}:\n  - (root): ${why}`;

  it('a FIFO named by TOKENFUSE_CONFIG is refused at once, not waited on', () => {
    const fifo = join(tmp, 'config.fifo');
    execFileSync('mkfifo', [fifo]);
    const err = configError(() => loadConfig({ env: { TOKENFUSE_CONFIG: fifo } }));
    expect(err.message).toBe(
      refused(
        fifo,
        'not a regular file (a FIFO); tokenfuse reads its configuration from a regular file only',
      ),
    );
  });

  it('a device (/dev/zero) is refused before a byte is read', () => {
    const err = configError(() => loadConfig({ env: { TOKENFUSE_CONFIG: '/dev/zero' } }));
    expect(err.message).toBe(
      refused(
        '/dev/zero',
        'not a regular file (a character device); tokenfuse reads its configuration from a regular file only',
      ),
    );
  });

  it('a directory is refused with what it is', () => {
    const err = configError(() => loadConfig({ path: tmp, env: {} }));
    expect(err.message).toBe(
      refused(
        tmp,
        'not a regular file (a directory); tokenfuse reads its configuration from a regular file only',
      ),
    );
  });

  it('a file over 1 MiB is refused; one of exactly 1 MiB is read', () => {
    const comment = (bytes: number) => `#${'x'.repeat(bytes - 2)}\n`;
    const big = file('big.yaml', comment(1024 * 1024 + 1));
    expect(configError(() => loadConfig({ path: big, env: {} })).message).toBe(
      refused(
        big,
        'file too large (over 1048576 bytes); a tokenfuse configuration is a few kilobytes',
      ),
    );
    const limit = file('limit.yaml', comment(1024 * 1024));
    expect(loadConfig({ path: limit, env: {} }).source).toBe(limit);
  });

  /** `lines` repeated until the text is as close to 1 MiB as whole lines allow. */
  const fill1MiB = (line: (i: number) => string, head = '') => {
    const parts = [head];
    let bytes = head.length;
    for (let i = 0; ; i++) {
      const next = line(i); // ASCII: one byte a character
      if (bytes + next.length > 1024 * 1024) return parts.join('');
      parts.push(next);
      bytes += next.length;
    }
  };

  it('1 MiB of unknown keys: ten named with suggestions, the rest counted, in a short message', () => {
    const keys = fill1MiB((i) => `k${i}: 1\n`, 'budget: 1\n');
    const path = file('unknown-keys.yaml', keys);
    const count = keys.split('\n').length - 1;
    const err = configError(() => loadConfig({ path, env: {} }));
    const shown = [
      `'budget' (did you mean 'budgets'?)`,
      ...Array.from({ length: 9 }, (_, i) => `'k${i}'`),
    ];
    expect(err.message).toBe(
      `invalid tokenfuse configuration in ${path}:\n` +
        `  - (root) (line 1): unknown fields ${shown.join(', ')} … and ${(count - 10).toLocaleString('en-US')} more`,
    );
    expect(count).toBeGreaterThan(100_000);
  });

  it('a megabyte-long unknown key is shown by its start', () => {
    // An explicit key (`? key`), since an implicit one is at most 1024 chars in YAML.
    const path = file('long-key.yaml', `? ${'k'.repeat(1024 * 1024 - 10)}\n: 1\n`);
    expect(configError(() => loadConfig({ path, env: {} })).message).toBe(
      `invalid tokenfuse configuration in ${path}:\n  - (root) (line 1): unknown field '${'k'.repeat(57)}...'`,
    );
  });

  it('1 MiB of one repeated key: each repeat found in one pass, twenty listed, the rest counted', () => {
    const text = fill1MiB(() => 'a: 1\n');
    const path = file('duplicates.yaml', text);
    const repeats = text.split('\n').length - 2;
    const err = configError(() => loadConfig({ path, env: {} }));
    const lines = Array.from(
      { length: 20 },
      (_, i) => `  - (root) (line ${i + 2}, column 1): duplicate key 'a' (first on line 1)`,
    );
    expect(err.message).toBe(
      `invalid tokenfuse configuration in ${path}:\n${lines.join('\n')}\n` +
        `  - … and ${(repeats - 20).toLocaleString('en-US')} more problems`,
    );
    expect(err.issues).toHaveLength(repeats);
  });

  it('a duplicate key is reported at its repeat, under the path of its mapping; 1 and "1" are different keys', () => {
    const path = file(
      'nested-dup.yaml',
      'metrics:\n  port: 9464\n  port: 9465\nbudgets:\n  - name: a\n    name: b\ntags:\n  1: a\n  "1": b\n',
    );
    expect(configError(() => loadConfig({ path, env: {} })).message).toBe(
      `invalid tokenfuse configuration in ${path}:\n` +
        `  - metrics (line 3, column 3): duplicate key 'port' (first on line 2)\n` +
        `  - budgets[0] (line 6, column 5): duplicate key 'name' (first on line 5)`,
    );
  });

  it('a FIFO stops a real app with exit code 78 and the clean message', async () => {
    const fifo = join(tmp, 'app.fifo');
    execFileSync('mkfifo', [fifo]);
    const { mjs } = plainApp();
    const app = run(['--import', REGISTER, mjs], { TOKENFUSE_CONFIG: fifo });
    expect(await app.exited).toEqual({ code: 78, signal: null });
    expect(app.stderr).toBe(
      `ConfigError: ${refused(fifo, 'not a regular file (a FIFO); tokenfuse reads its configuration from a regular file only')}\n${NOT_STARTED}`,
    );
    expect(app.stdout).toBe('');
  });
});

// ---------------------------------------------------------------------------------------------
// 16. /metrics on loopback by default; nothing of ours keeps a finished app alive
// ---------------------------------------------------------------------------------------------

/** A non-loopback IPv4 address of this machine, if it has one. */
function externalAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces()))
    for (const nic of list ?? []) if (nic.family === 'IPv4' && !nic.internal) return nic.address;
  return undefined;
}

/** The app's stderr once it has a whole line: stderr and stdout are separate pipes, read in any order. */
async function stderrLine(app: App): Promise<string> {
  for (let i = 0; i < 500 && !app.stderr.includes('\n'); i++)
    await new Promise((r) => setTimeout(r, 20));
  return app.stderr;
}

function connectTo(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const req = get({ host, port, path: '/metrics', timeout: 10_000 }, (res) => {
      res.resume();
      resolve(`HTTP ${res.statusCode}`);
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? String(err)));
  });
}

describe('the metrics endpoint', () => {
  const external = externalAddress();

  it.skipIf(external === undefined)(
    'listens on 127.0.0.1 only by default (runs where the machine has a non-loopback IPv4 address)',
    async () => {
      const port = await freePort();
      const app = run(['--import', 'tokenfuse/register', 'test/fixtures/apps/finish-app.mjs'], {
        LLM_BASE_URL: `${server.url}/v1`,
        OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
      });
      expect(await app.firstLine()).toBe('ready');
      expect(await connectTo('127.0.0.1', port)).toBe('HTTP 200');
      expect(await connectTo(external!, port)).toBe('ECONNREFUSED');
      expect(await stderrLine(app)).toMatch(
        new RegExp(`; metrics http://127\\.0\\.0\\.1:${port}/metrics\\n$`),
      );
    },
  );

  it.skipIf(external === undefined)(
    'OTEL_EXPORTER_PROMETHEUS_HOST=0.0.0.0 opens it to other hosts, and the startup line says so (same condition)',
    async () => {
      const port = await freePort();
      const app = run(['--import', 'tokenfuse/register', 'test/fixtures/apps/finish-app.mjs'], {
        LLM_BASE_URL: `${server.url}/v1`,
        OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
        OTEL_EXPORTER_PROMETHEUS_HOST: '0.0.0.0',
      });
      expect(await app.firstLine()).toBe('ready');
      expect(await connectTo(external!, port)).toBe('HTTP 200');
      expect(await stderrLine(app)).toMatch(
        new RegExp(`; metrics http://0\\.0\\.0\\.0:${port}/metrics \\(all interfaces\\)\\n$`),
      );
    },
  );

  it('a finished app exits by itself with code 0 while Prometheus holds keep-alive connections', async () => {
    const port = await freePort();
    const app = run(['--import', 'tokenfuse/register', 'test/fixtures/apps/finish-app.mjs'], {
      LLM_BASE_URL: `${server.url}/v1`,
      OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
    });
    expect(await app.firstLine()).toBe('ready');
    // A scraper that keeps its connection open between scrapes, as Prometheus does.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const scrape = () =>
      new Promise<number>((resolve, reject) => {
        get({ host: '127.0.0.1', port, path: '/metrics', agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        }).on('error', reject);
      });
    expect(await scrape()).toBe(200);
    expect(Object.values(agent.freeSockets).flat()).toHaveLength(1);
    let scraping = true;
    const loop = (async () => {
      while (scraping) {
        await scrape().catch(() => (scraping = false));
        await new Promise((r) => setTimeout(r, 50));
      }
    })();

    app.child.kill('SIGUSR2');
    // A bound against a hang, not a timing assertion: before the fix it never exited.
    const exit = await Promise.race([
      app.exited,
      new Promise((r) => setTimeout(() => r('still running after 20 s'), 20_000)),
    ]);
    scraping = false;
    await loop;
    agent.destroy();
    expect(exit).toEqual({ code: 0, signal: null });
    expect(app.stdout).toBe('ready\nfinished\n');
  });
});

// ---------------------------------------------------------------------------------------------
// 17. Unsupported Node refused with one line; a second register does nothing
// ---------------------------------------------------------------------------------------------

/** A system Node older than MIN_NODE_VERSION (not the repo's node_modules/.bin one), if any. */
function oldNode(): { path: string; version: string } | undefined {
  let paths: string[];
  try {
    paths = execFileSync('which', ['-a', 'node'], { encoding: 'utf8' }).split('\n');
  } catch {
    return undefined;
  }
  for (const path of paths.filter((p) => p && !p.includes('node_modules'))) {
    const version = execFileSync(path, ['--version'], { encoding: 'utf8' }).trim().slice(1);
    const [major = 0, minor = 0] = version.split('.').map(Number);
    const [needMajor = 0, needMinor = 0] = MIN_NODE_VERSION.split('.').map(Number);
    if (major < needMajor || (major === needMajor && minor < needMinor)) return { path, version };
  }
  return undefined;
}

function runWith(
  node: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(node, args, { cwd: ROOT, env: childEnv(env) });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('Node.js versions', () => {
  it('MIN_NODE_VERSION is what package.json engines says', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    expect(pkg.engines.node).toBe(`>=${MIN_NODE_VERSION}`);
  });

  const old = oldNode();
  it.skipIf(old === undefined).each([
    { flag: '--require', ext: 'cjs' as const },
    { flag: '--import', ext: 'mjs' as const },
  ])(
    'on an older system Node, `$flag tokenfuse/register` says one line and leaves the app alone (runs where a Node < 22.15 is on PATH)',
    async ({ flag, ext }) => {
      const app = plainApp();
      const port = await freePort();
      const result = await runWith(old!.path, [flag, 'tokenfuse/register', app[ext]], {
        OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
      });
      expect(result).toEqual({
        code: 3,
        stdout: 'app ran\n',
        stderr:
          `tokenfuse: Node.js v${old!.version} is not supported (needs >= ${MIN_NODE_VERSION}); ` +
          'tokenfuse is disabled, your app runs uninstrumented\n',
      });
    },
  );

  it('--require and --import both: tokenfuse starts once and says the second load does nothing', async () => {
    const port = await freePort();
    const { mjs } = plainApp();
    const app = run(['--require', 'tokenfuse/register', '--import', 'tokenfuse/register', mjs], {
      OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
    });
    expect(await app.exited).toEqual({ code: 3, signal: null });
    expect(app.stdout).toBe('app ran\n');
    expect(app.stderr).toBe(
      `${STARTED} none (looked for tokenfuse.config.yaml, tokenfuse.config.yml, tokenfuse.config.json in ${ROOT.replace(/\/$/, '')}; set TOKENFUSE_CONFIG to name one); ` +
        `0 budgets, 0 policies; ledger memory; metrics http://127.0.0.1:${port}/metrics\n` +
        'tokenfuse: tokenfuse/register was loaded a second time in this process (e.g. both --require ' +
        'and --import, or NODE_OPTIONS and the command line); the second load does nothing\n',
    );
  });

  it('a worker thread (which inherits --import) does not start a second tokenfuse', async () => {
    const port = await freePort();
    const dir = mkdtempSync(join(tmp, 'worker-'));
    writeFileSync(join(dir, 'worker.mjs'), "console.log('worker ran');\n");
    writeFileSync(
      join(dir, 'main.mjs'),
      "import { Worker } from 'node:worker_threads';\n" +
        "const w = new Worker(new URL('./worker.mjs', import.meta.url));\n" +
        "w.on('exit', (code) => console.log('worker exit ' + code));\n",
    );
    const app = run(['--import', REGISTER, join(dir, 'main.mjs')], {
      OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
      TOKENFUSE_CONFIG: file('worker/empty.yaml', ''),
    });
    expect(await app.exited).toEqual({ code: 0, signal: null });
    expect(app.stdout).toBe('worker ran\nworker exit 0\n');
    expect(app.stderr).toBe(
      `${STARTED} ${join(tmp, 'worker/empty.yaml')}; 0 budgets, 0 policies; ledger memory; metrics http://127.0.0.1:${port}/metrics\n` +
        'tokenfuse: not started in worker thread 1 (tokenfuse/register runs in the main thread only); ' +
        'LLM calls made in this thread are not counted\n',
    );
  });
});

// ---------------------------------------------------------------------------------------------
// 20. The startup line; 21. clean config errors with exit code 78
// ---------------------------------------------------------------------------------------------

describe('the startup line', () => {
  it('run from a directory without a config file, it says where it looked', async () => {
    const port = await freePort();
    const { dir, mjs } = plainApp();
    const app = run(
      ['--import', REGISTER, mjs],
      { OTEL_EXPORTER_PROMETHEUS_PORT: String(port) },
      dir,
    );
    expect(await app.exited).toEqual({ code: 3, signal: null });
    expect(app.stderr).toBe(
      `${STARTED} none (looked for tokenfuse.config.yaml, tokenfuse.config.yml, tokenfuse.config.json in ${dir}; set TOKENFUSE_CONFIG to name one); ` +
        `0 budgets, 0 policies; ledger memory; metrics http://127.0.0.1:${port}/metrics\n`,
    );
  });

  it('names the file, budgets, policies, ledger and endpoint; TOKENFUSE_LOG=silent says nothing', async () => {
    const port = await freePort();
    const { dir, mjs } = plainApp();
    const config = join(dir, 'tokenfuse.config.yml');
    writeFileSync(
      config,
      [
        'metrics: { endpoint: /prom }',
        'budgets:',
        '  - { name: a, window: hour, limit: { tokens: 100 } }',
        '  - { name: b, window: day, limit: { usd: 5 } }',
        'policies:',
        '  - { name: p, denyModels: [gpt-5*] }',
        '',
      ].join('\n'),
    );
    const env = { OTEL_EXPORTER_PROMETHEUS_PORT: String(port) };
    const app = run(['--import', REGISTER, mjs], env, dir);
    expect(await app.exited).toEqual({ code: 3, signal: null });
    expect(app.stderr).toBe(
      `${STARTED} ${config}; 2 budgets, 1 policy; ledger memory; metrics http://127.0.0.1:${port}/prom\n`,
    );

    const quiet = run(['--import', REGISTER, mjs], { ...env, TOKENFUSE_LOG: 'silent' }, dir);
    expect(await quiet.exited).toEqual({ code: 3, signal: null });
    expect(quiet.stderr).toBe('');
  });

  it('a metrics port in use: one line that says so and what to do; the app runs on', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as AddressInfo).port;
    try {
      const dir = mkdtempSync(join(tmp, 'app-'));
      const mjs = join(dir, 'app.mjs');
      // The bind fails a moment after start: the app stays up long enough to see it.
      writeFileSync(
        mjs,
        "setTimeout(() => { console.log('app ran'); process.exitCode = 3; }, 500);\n",
      );
      const app = run(
        ['--import', REGISTER, mjs],
        { OTEL_EXPORTER_PROMETHEUS_PORT: String(port) },
        dir,
      );
      expect(await app.exited).toEqual({ code: 3, signal: null });
      expect(app.stdout).toBe('app ran\n');
      expect(app.stderr.split('\n').slice(1)).toEqual([
        `tokenfuse: cannot serve metrics on 127.0.0.1:${port}: the port is in use by another process (EADDRINUSE); calls are still counted and budgeted; give each process its own port with OTEL_EXPORTER_PROMETHEUS_PORT or metrics.port`,
        '',
      ]);
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });

  it('a redis ledger is named by host and port, never its password', async () => {
    const { dir, mjs } = plainApp();
    const app = run(
      ['--import', REGISTER, mjs],
      {
        OTEL_EXPORTER_PROMETHEUS_PORT: String(await freePort()),
        TOKENFUSE_METRICS_EXPORTER: 'none',
        TOKENFUSE_CONFIG: file('redis.yaml', 'ledger:\n  store: redis\n'),
        TOKENFUSE_LEDGER_URL: 'redis://:hunter2@127.0.0.1:1/0',
      },
      dir,
    );
    expect(await app.exited).toEqual({ code: 3, signal: null });
    expect(app.stderr.split('\n')[0]).toBe(
      `${STARTED} ${join(tmp, 'redis.yaml')}; 0 budgets, 0 policies; ledger redis 127.0.0.1:1; ` +
        'metrics not served (metrics.exporter none)',
    );
    expect(app.stderr).not.toContain('hunter2');
  });
});

describe('YAML syntax errors point at the mistake', () => {
  it.each([
    {
      what: 'an unclosed quote: at the quote, not at the end of the file',
      text: 'metrics:\n  endpoint: "/metrics\n',
      issue: '(line 2, column 13): syntax error: Missing closing "quote',
    },
    {
      what: 'an unclosed flow map: at its brace, not at the next key',
      text: 'metrics: { port: 9464, endpoint: /m\nbudgets: []\n',
      issue:
        '(line 1, column 10): syntax error: Flow map in block collection must be sufficiently indented and end with a }',
    },
    {
      what: 'a nested mapping in a compact one: where it is',
      text: 'attribution:\n  headers: true: false\n',
      issue:
        '(line 2, column 12): syntax error: Nested mappings are not allowed in compact mappings',
    },
  ])('$what', ({ text, issue }) => {
    const path = file('syntax.yaml', text);
    expect(configError(() => loadConfig({ path, env: {} })).message).toBe(
      `invalid tokenfuse configuration in ${path}:\n  - (root) ${issue}`,
    );
  });
});

describe('config errors stop the app with exit code 78 and a clean message', () => {
  it('bad YAML: the line and column of the problem, and nothing else', async () => {
    const bad = file(
      'bad.yaml',
      'metrics:\n  port: 9464\n  labels: [department, model\nbudgets: []\n',
    );
    const { mjs } = plainApp();
    const app = run(['--import', 'tokenfuse/register', mjs], { TOKENFUSE_CONFIG: bad });
    expect(await app.exited).toEqual({ code: 78, signal: null });
    expect(app.stdout).toBe('');
    expect(app.stderr).toBe(
      `ConfigError: invalid tokenfuse configuration in ${bad}:\n` +
        '  - (root) (line 3, column 11): syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]\n' +
        NOT_STARTED,
    );
  });

  it('a TOKENFUSE_CONFIG that names a missing file is an error, not "no config"', async () => {
    const { mjs } = plainApp();
    const missing = join(tmp, 'nope', 'tokenfuse.config.yaml');
    const app = run(['--require', 'tokenfuse/register', mjs], { TOKENFUSE_CONFIG: missing });
    expect(await app.exited).toEqual({ code: 78, signal: null });
    expect(app.stderr).toBe(
      'ConfigError: invalid tokenfuse configuration in environment variable TOKENFUSE_CONFIG:\n' +
        `  - (root): file not found: ${missing}\n${NOT_STARTED}`,
    );
  });

  it('TOKENFUSE_DISABLED=true runs the app even with a broken config file', async () => {
    const { mjs } = plainApp();
    const app = run(['--import', 'tokenfuse/register', mjs], {
      TOKENFUSE_CONFIG: file('broken.yaml', 'metrics: [\n'),
      TOKENFUSE_DISABLED: 'true',
    });
    expect(await app.exited).toEqual({ code: 3, signal: null });
    expect(app.stdout).toBe('app ran\n');
    expect(app.stderr).toBe(
      'tokenfuse: disabled by TOKENFUSE_DISABLED; your app runs uninstrumented\n',
    );
  });

  it('an invalid TOKENFUSE_LOG is a config error like any other variable', async () => {
    const { mjs } = plainApp();
    const app = run(['--import', 'tokenfuse/register', mjs], { TOKENFUSE_LOG: 'verbose' });
    expect(await app.exited).toEqual({ code: 78, signal: null });
    expect(app.stderr).toBe(
      'ConfigError: invalid tokenfuse configuration in environment variable TOKENFUSE_LOG:\n' +
        `  - TOKENFUSE_LOG: expected 'info' or 'silent', got "verbose"\n${NOT_STARTED}`,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// 22. getRuntime() without tokenfuse running
// ---------------------------------------------------------------------------------------------

describe('getRuntime() when tokenfuse is not running', () => {
  const imports = "import { getRuntime, TokenfuseError } from 'tokenfuse';";
  const tryIt =
    'try { getRuntime(); console.log("no error"); } catch (e) {' +
    ' console.log(JSON.stringify({ tokenfuseError: e instanceof TokenfuseError, name: e.name, code: e.code, reason: e.reason, message: e.message })); }';
  const probe = imports + tryIt;

  it('without the register flag: a NotRunningError telling how to start it', async () => {
    const app = run(['--input-type=module', '-e', probe]);
    expect(await app.exited).toEqual({ code: 0, signal: null });
    expect(JSON.parse(app.stdout)).toEqual({
      tokenfuseError: true,
      name: 'NotRunningError',
      code: 'not_running',
      reason: 'not_started',
      message:
        'getRuntime(): tokenfuse is not running: start the app with `node --import tokenfuse/register app.mjs` ' +
        '(ESM) or `node --require tokenfuse/register app.cjs` (CommonJS), or call start() first',
    });
  });

  it('disabled by TOKENFUSE_DISABLED: says so', async () => {
    const app = run(['--import', 'tokenfuse/register', '--input-type=module', '-e', probe], {
      TOKENFUSE_DISABLED: '1',
    });
    expect(await app.exited).toEqual({ code: 0, signal: null });
    expect(JSON.parse(app.stdout)).toMatchObject({
      code: 'not_running',
      reason: 'disabled',
      message: 'getRuntime(): tokenfuse is not running: it is disabled (TOKENFUSE_DISABLED)',
    });
  });

  it('after shutdown(): says so', async () => {
    const app = run(
      [
        '--import',
        'tokenfuse/register',
        '--input-type=module',
        '-e',
        `${imports} await getRuntime().shutdown(); ${tryIt}`,
      ],
      { OTEL_EXPORTER_PROMETHEUS_PORT: String(await freePort()), TOKENFUSE_LOG: 'silent' },
    );
    expect(await app.exited).toEqual({ code: 0, signal: null });
    expect(JSON.parse(app.stdout)).toMatchObject({
      reason: 'shut_down',
      message: 'getRuntime(): tokenfuse is not running: shutdown() was called',
    });
  });
});
