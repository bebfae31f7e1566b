// A supported SDK at a version tokenfuse does not instrument is never a silent zero: one
// warning naming the package, the version found and the supported range, and
// tokenfuse_instrumentation_info{sdk,version,supported} = 1 for every SDK module loaded.
// The unsupported case is a real module: a package named `openai` at 3.0.0 in its own
// node_modules, loaded by an app started with `--import tokenfuse/register` (needs
// `npm run build` first).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type FakeOpenAI, startFakeOpenAI } from '../examples/shared/fake-openai-server.mjs';
import { SDKS } from '../src/instrumentation/sdks.js';
import { inRanges, unreadRange } from '../src/instrumentation/version-range.js';
import { PACKAGE_VERSION } from '../src/version.js';
import { captureDiag } from './helpers/diag.js';
import { createHarness, type Harness } from './helpers/harness.js';
import { App, childEnv, freePort, metricsTextOf } from './helpers/processes.js';
import { select } from './helpers/prom-text.js';

const require = createRequire(import.meta.url);
const OPENAI_RANGES = SDKS.find((s) => s.module.name === 'openai')!.module.versions.join(' || ');
const tmp = mkdtempSync(join(tmpdir(), 'tokenfuse-info-'));
const apps: App[] = [];
afterAll(async () => {
  await Promise.all(apps.map((a) => a.kill()));
  rmSync(tmp, { recursive: true, force: true });
});

/** An app dir whose `openai` is a tiny package at `version`, with an OpenAI class. */
function appWithOpenAI(version: string): string {
  const dir = join(tmp, `openai-${version}`);
  const pkg = join(dir, 'node_modules', 'openai');
  mkdirSync(pkg, { recursive: true });
  writeFileSync(
    join(pkg, 'package.json'),
    JSON.stringify({ name: 'openai', version, main: 'index.js' }),
  );
  writeFileSync(
    join(pkg, 'index.js'),
    'class OpenAI { constructor() { this.completions = {}; } }\nmodule.exports = OpenAI;\nmodule.exports.OpenAI = OpenAI;\n',
  );
  writeFileSync(
    join(dir, 'app.mjs'),
    "import OpenAI from 'openai';\nnew OpenAI();\nconsole.log('ready');\nsetInterval(() => {}, 1000);\n",
  );
  return dir;
}

describe('a supported SDK at an unsupported version', () => {
  it('warns once with package, version and range, and exports supported="false"', async () => {
    const dir = appWithOpenAI('3.0.0');
    const port = await freePort();
    const app = new App(
      ['--import', 'tokenfuse/register', join(dir, 'app.mjs')],
      childEnv({
        OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
        TOKENFUSE_CONFIG: join(tmp, 'none.yaml'),
      }),
    );
    apps.push(app);
    writeFileSync(join(tmp, 'none.yaml'), 'budgets: []\n');
    expect(await app.firstLine()).toBe('ready');
    const text = await metricsTextOf(port);
    const stderr = app.stderr.trimEnd().split('\n');
    expect(stderr[0]).toMatch(/^tokenfuse \S+ started: /);
    expect(stderr.slice(1)).toEqual([
      `tokenfuse: openai 3.0.0 is not a supported version (supported: ${OPENAI_RANGES}); its calls are ` +
        'not instrumented: no spans, metrics or fuses ' +
        '(tokenfuse_instrumentation_info{sdk="openai",version="3.0.0",supported="false"})',
    ]);
    expect(text.split('\n').filter((l) => l.includes('tokenfuse_instrumentation_info'))).toEqual([
      '# HELP tokenfuse_instrumentation_info 1 for each SDK module the process loaded, by sdk, ' +
        'version and supported (false: a version tokenfuse does not instrument)',
      '# TYPE tokenfuse_instrumentation_info gauge',
      `tokenfuse_instrumentation_info{sdk="openai",version="3.0.0",supported="false",otel_scope_name="tokenfuse",otel_scope_version="${PACKAGE_VERSION}"} 1`,
    ]);
  });
});

describe('a supported version', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('exports supported="true" for the loaded openai, with no warning', async () => {
    const messages = captureDiag();
    h = await createHarness();
    const version = require('openai/version').VERSION as string;
    const lines = (await h.metricsText())
      .split('\n')
      .filter((l) => l.startsWith('tokenfuse_instrumentation_info{'));
    expect(lines).toEqual([
      `tokenfuse_instrumentation_info{sdk="openai",version="${version}",supported="true",otel_scope_name="tokenfuse",otel_scope_version="${PACKAGE_VERSION}"} 1`,
    ]);
    expect(messages.filter((m) => m.includes('not a supported version'))).toEqual([]);
  });
});

describe('gen_ai.provider.name on spans', () => {
  let llm: FakeOpenAI;
  let h: Harness | undefined;
  beforeAll(async () => {
    llm = await startFakeOpenAI();
    return () => llm.close();
  });
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  /**
   * A client whose base URL is the provider's own host (so the host table decides), its
   * requests sent over HTTP to the fake server instead.
   */
  const clientFor = (harness: Harness, baseURL: string) =>
    new harness.OpenAI({
      baseURL,
      apiKey: 'sk',
      maxRetries: 0,
      fetch: (url, init) => fetch(String(url).replace(new URL(baseURL).origin, llm.url), init),
    });

  it.each([
    ['https://api.openai.com/v1', 'gpt-4o-mini', 'openai', 'openai'],
    ['https://api.deepseek.com/v1', 'deepseek-chat', 'deepseek', 'deepseek'],
    ['https://my-res.openai.azure.com/v1', 'gpt-4o-mini', 'azure', 'azure.ai.openai'],
    ['https://api.x.ai/v1', 'grok-3', 'xai', 'x_ai'],
  ])('%s (%s): provider label %s, gen_ai.provider.name %s', async (baseURL, model, id, name) => {
    h = await createHarness();
    await clientFor(h, baseURL).chat.completions.create({
      model,
      messages: [{ role: 'user', content: 'hello there' }],
      max_tokens: 2,
    });
    const [span] = h.spans();
    expect(h.spans()).toHaveLength(1);
    expect(span!.attributes['gen_ai.provider.name']).toBe(name);
    expect(span!.attributes['tokenfuse.provider']).toBe(id);
    const requests = select(await h.scrape(), 'tokenfuse_requests_total');
    expect(requests.map((s) => [s.labels.provider, s.value])).toEqual([[id, 1]]);
  });

  it('a declared provider whose id is in the table gets its well-known name', async () => {
    h = await createHarness({ providers: [{ id: 'aws', hosts: ['127.0.0.1'] }] });
    await clientFor(h, `${llm.url}/v1`).chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 1,
    });
    expect(h.spans()[0]!.attributes['gen_ai.provider.name']).toBe('aws.bedrock');
    expect(h.spans()[0]!.attributes['tokenfuse.provider']).toBe('aws');
  });
});

describe('declared ranges', () => {
  it('every SDK folder declares ranges the check reads', () => {
    for (const sdk of SDKS)
      expect(unreadRange(sdk.module.versions), sdk.module.name).toBe(undefined);
  });

  it('reads comparator sets and alternatives as semver does', () => {
    const r = ['>=4.87.0 <8'];
    expect(['4.87.0', '4.104.0', '7.57.0', '7.99.99'].map((v) => inRanges(v, r))).toEqual([
      true,
      true,
      true,
      true,
    ]);
    expect(['3.0.0', '4.86.9', '8.0.0', '8.0.0-beta.1', 'x'].map((v) => inRanges(v, r))).toEqual([
      false,
      false,
      false,
      true, // a prerelease sorts below its release, as in semver
      false,
    ]);
    expect(inRanges('1.2.3', ['>=0.122.0 <1 || >=1.0.0 <2'])).toBe(true);
    expect(inRanges('2.0.0', ['*'])).toBe(true);
    expect(unreadRange(['>=1 <2', '^1.2.0'])).toBe('^1.2.0');
  });
});
