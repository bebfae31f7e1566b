// The package as published: `npm pack` of the built repo, installed into a fresh project the
// way a user installs it (dependencies from the npm registry), then loaded with `import` and
// with `require`, and run as `node --import/--require tokenfuse/register` against the local
// fake OpenAI server. Needs `npm run build` first (the `npm test` script does it).
import { execFile } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeOpenAI, startFakeOpenAI } from '../examples/shared/fake-openai-server.mjs';
import { PACKAGE_VERSION } from '../src/version.js';
import { App, childEnv, freePort, ROOT } from './helpers/processes.js';
import { parsePrometheusText, select } from './helpers/prom-text.js';
import { runnableBlocks, runSession } from './helpers/runnable-blocks.js';

const run = promisify(execFile);
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const OPENAI_VERSION: string = JSON.parse(
  readFileSync(join(ROOT, 'node_modules/openai/package.json'), 'utf8'),
).version;

function npm(args: string[], cwd: string, timeout = 120_000) {
  return run('npm', args, { cwd, env: childEnv(), timeout, maxBuffer: 64 * 1024 * 1024 });
}

function node(args: string[], cwd: string, env: Record<string, string> = {}) {
  return run(process.execPath, args, { cwd, env: childEnv(env), timeout: 30_000 });
}

let tmp: string;
let project: string;
let tarball: string;
let tarballFiles: string[];

beforeAll(async () => {
  tmp = realpathSync(mkdtempSync(join(tmpdir(), 'tokenfuse-package-')));
  // `npm test` has just built dist/; --ignore-scripts keeps `prepack` from rebuilding it
  // (and emptying it) under the suites that run beside this one.
  const { stdout } = await npm(
    ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp],
    ROOT,
  );
  const [packed] = JSON.parse(stdout) as { filename: string; version: string }[];
  tarball = join(tmp, packed!.filename);
  tarballFiles = (await run('tar', ['-tzf', tarball])).stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => line.replace(/^package\//, ''));

  project = join(tmp, 'consumer');
  mkdirSync(project);
  writeFileSync(
    join(project, 'package.json'),
    `${JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }, null, 2)}\n`,
  );
  await npm(
    ['install', '--no-audit', '--no-fund', tarball, `openai@${OPENAI_VERSION}`],
    project,
    240_000,
  );
}, 300_000);

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('the tarball', () => {
  it('holds both builds, both entry points and the type declarations', () => {
    for (const file of [
      'package.json',
      'dist/index.js',
      'dist/index.cjs',
      'dist/register.js',
      'dist/register.cjs',
      'dist/index.d.ts',
      'dist/index.d.cts',
    ])
      expect(tarballFiles).toContain(file);
  });

  it('holds nothing but the build, package.json, README and LICENSE', () => {
    expect(
      tarballFiles.filter((f) => !/^(dist\/|package\.json$|README\.md$|LICENSE$)/.test(f)),
    ).toEqual([]);
  });

  it('`npm pack --dry-run` lists the build with its types, README and LICENSE, and nothing else', async () => {
    const { stdout } = await npm(['pack', '--ignore-scripts', '--dry-run', '--json'], ROOT);
    const [listed] = JSON.parse(stdout) as { files: { path: string }[] }[];
    const files = listed!.files.map((f) => f.path);
    for (const file of [
      'README.md',
      'LICENSE',
      'package.json',
      'dist/cli.js',
      'dist/index.d.ts',
      'dist/index.d.cts',
      'dist/register.d.ts',
      'dist/register.d.cts',
    ])
      expect(files).toContain(file);
    expect(files.filter((f) => !/^(dist\/|package\.json$|README\.md$|LICENSE$)/.test(f))).toEqual(
      [],
    );
    expect(readFileSync(join(ROOT, 'LICENSE'), 'utf8')).toContain('Apache License');
    expect(pkg.license).toBe('Apache-2.0');
  });

  it('lists the same files in `npm pack --dry-run`', async () => {
    const { stdout } = await npm(['pack', '--ignore-scripts', '--dry-run', '--json'], ROOT);
    const [listed] = JSON.parse(stdout) as { files: { path: string }[] }[];
    expect(listed!.files.map((f) => f.path).sort()).toEqual([...tarballFiles].sort());
  });

  it('is built by `npm pack` from a checkout that was never built (prepack)', async () => {
    const checkout = join(tmp, 'unbuilt');
    mkdirSync(checkout);
    for (const entry of ['package.json', 'tsconfig.json', 'tsup.config.ts', 'README.md', 'LICENSE'])
      copyFileSync(join(ROOT, entry), join(checkout, entry));
    cpSync(join(ROOT, 'src'), join(checkout, 'src'), { recursive: true });
    // The CLI's `fake-server` bundles the examples' fake server at build time.
    cpSync(join(ROOT, 'examples', 'shared'), join(checkout, 'examples', 'shared'), {
      recursive: true,
    });
    symlinkSync(join(ROOT, 'node_modules'), join(checkout, 'node_modules'), 'dir');
    expect(existsSync(join(checkout, 'dist'))).toBe(false);
    const { stdout } = await npm(['pack', '--dry-run', '--json'], checkout, 180_000);
    // npm prints the prepack script's output before the JSON.
    const [listed] = JSON.parse(stdout.slice(stdout.indexOf('[\n'))) as {
      files: { path: string }[];
    }[];
    // Shared chunks are named by a content hash that depends on where they were built.
    const shape = (files: string[]) =>
      files.map((f) => f.replace(/^dist\/chunk-[\w-]+\./, 'dist/chunk-HASH.')).sort();
    expect(shape(listed!.files.map((f) => f.path))).toEqual(shape(tarballFiles));
  }, 200_000);

  it('is versioned as PACKAGE_VERSION says', () => {
    expect(pkg.version).toBe(PACKAGE_VERSION);
    expect(tarball.endsWith(`tokenfuse-${PACKAGE_VERSION}.tgz`)).toBe(true);
  });
});

const EXPORTS_PROBE = `
console.log(JSON.stringify({
  withAttribution: typeof withAttribution,
  createTokenfuse: typeof createTokenfuse,
  TokenfuseInstrumentation: typeof TokenfuseInstrumentation,
  CostSpanProcessor: typeof CostSpanProcessor,
  registerTokenfuseMetrics: typeof registerTokenfuseMetrics,
  ConfigError: typeof ConfigError,
}));
const tokenfuse = createTokenfuse({ attribution: { defaults: { department: 'search' } } });
console.log(JSON.stringify({
  department: tokenfuse.config.attribution.defaults.department,
  instrumentation: tokenfuse.instrumentation instanceof TokenfuseInstrumentation,
  spanProcessor: tokenfuse.spanProcessor instanceof CostSpanProcessor,
  tagged: withAttribution({ project: 'atlas' }, () => 'ran'),
  error: new ConfigError('here', [{ path: 'metrics.port', message: 'bad' }]).message,
}));
`;
const NAMES =
  'withAttribution, createTokenfuse, TokenfuseInstrumentation, CostSpanProcessor, registerTokenfuseMetrics, ConfigError';
const EXPECTED_OUTPUT =
  '{"withAttribution":"function","createTokenfuse":"function","TokenfuseInstrumentation":"function",' +
  '"CostSpanProcessor":"function","registerTokenfuseMetrics":"function","ConfigError":"function"}\n' +
  '{"department":"search","instrumentation":true,"spanProcessor":true,"tagged":"ran",' +
  '"error":"invalid tokenfuse configuration in here:\\n  - metrics.port: bad"}\n';

describe('installed from the tarball', () => {
  it('loads with import (ESM)', async () => {
    writeFileSync(
      join(project, 'probe.mjs'),
      `import { ${NAMES} } from 'tokenfuse';\n${EXPORTS_PROBE}`,
    );
    const { stdout, stderr } = await node(['probe.mjs'], project);
    expect(stdout).toBe(EXPECTED_OUTPUT);
    expect(stderr).toBe('');
  });

  it('loads with require (CJS)', async () => {
    writeFileSync(
      join(project, 'probe.cjs'),
      `const { ${NAMES} } = require('tokenfuse');\n${EXPORTS_PROBE}`,
    );
    const { stdout, stderr } = await node(['probe.cjs'], project);
    expect(stdout).toBe(EXPECTED_OUTPUT);
    expect(stderr).toBe('');
  });

  it('resolves to the installed copy, not the repo', async () => {
    const { stdout } = await node(
      [
        '--input-type=module',
        '-e',
        "import { createRequire } from 'node:module';" +
          "console.log(import.meta.resolve('tokenfuse/register'));" +
          "console.log(createRequire(process.cwd() + '/').resolve('tokenfuse/register'));",
      ],
      project,
    );
    expect(stdout).toBe(
      `file://${project}/node_modules/tokenfuse/dist/register.js\n` +
        `${project}/node_modules/tokenfuse/dist/register.cjs\n`,
    );
  });

  describe.each([
    { flag: '--import', fixture: 'chat-app.mjs' },
    { flag: '--require', fixture: 'chat-app.cjs' },
  ])('node $flag tokenfuse/register', ({ flag, fixture }) => {
    let server: FakeOpenAI;
    let app: App | undefined;

    beforeAll(async () => {
      server = await startFakeOpenAI();
    });

    afterAll(async () => {
      await app?.kill();
      await server.close();
    });

    it('meters and prices an unchanged app', async () => {
      copyFileSync(join(ROOT, 'test/fixtures/apps', fixture), join(project, fixture));
      writeFileSync(
        join(project, 'tokenfuse.config.yaml'),
        'providers:\n  - id: local-relay\n    hosts: ["127.0.0.1"]\n    pricesFrom: openai\n',
      );
      const port = await freePort();
      app = new App(
        [flag, 'tokenfuse/register', fixture],
        childEnv({
          LLM_BASE_URL: `${server.url}/v1`,
          OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
          TOKENFUSE_DEPARTMENT: 'platform',
        }),
        { cwd: project },
      );
      expect(await app.firstLine()).toBe('{"ready":true,"sawEmptyChoices":false}');

      const samples = parsePrometheusText(
        await (await fetch(`http://127.0.0.1:${port}/metrics`)).text(),
      );
      const values = (name: string, department: string) =>
        select(samples, name, { department, provider: 'local-relay', model: 'gpt-4.1' }).map(
          (s) => s.value,
        );
      expect(values('tokenfuse_requests_total', 'platform')).toEqual([2]);
      expect(values('tokenfuse_requests_total', 'research')).toEqual([1]);
      // platform: 13 input, 7 output tokens; research: 5 input, 2 output ($2 / $8 per MTok).
      const [platformCost] = values('tokenfuse_cost_usd_total', 'platform');
      const [researchCost] = values('tokenfuse_cost_usd_total', 'research');
      expect(platformCost).toBeCloseTo(82e-6, 12);
      expect(researchCost).toBeCloseTo(26e-6, 12);
    });
  });
});

describe("the README's quickstart", () => {
  it('works verbatim from the packed tarball, with no key, against the fake server', async () => {
    // The README's first step (`npm install`, `npm pack --pack-destination ..` in a clone) is
    // what beforeAll did: the tarball is in tmp/. A stand-in for the clone beside it holds
    // what `npm run fake-llm` needs; every block marked runnable then runs as written.
    const clone = join(tmp, 'clone');
    mkdirSync(clone);
    copyFileSync(join(ROOT, 'package.json'), join(clone, 'package.json'));
    symlinkSync(join(ROOT, 'examples'), join(clone, 'examples'), 'dir');
    symlinkSync(join(ROOT, 'node_modules'), join(clone, 'node_modules'), 'dir');
    expect(existsSync(join(tmp, `tokenfuse-${PACKAGE_VERSION}.tgz`))).toBe(true);

    const blocks = runnableBlocks(readFileSync(join(ROOT, 'README.md'), 'utf8'));
    expect(blocks.map((b) => Object.keys(b.options).join(' '))).toEqual([
      'background cwd port',
      '',
      'file',
      'expect',
    ]);
    const runs = await runSession(blocks, { cwd: clone, dirs: { clone } });
    const app = runs.at(-1)!;
    // The startup line goes to stderr, naming where it looked for a config file.
    expect(app.stderr).toContain(
      `tokenfuse ${PACKAGE_VERSION} started: config none (looked for tokenfuse.config.yaml, ` +
        `tokenfuse.config.yml, tokenfuse.config.json in ${join(tmp, 'tokenfuse-try')};`,
    );
  }, 300_000);
});
