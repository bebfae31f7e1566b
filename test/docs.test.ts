// The docs cannot drift: every relative link and #anchor in README.md, docs/ and the
// runbook resolves; the configuration and metrics references are what the schema and
// the metrics contract generate (`npm run docs` rewrites them); every config example
// written as a tokenfuse.config.yaml is valid; and every block marked runnable in
// docs/ runs against the built package (dist/, so `npm run build` first) and prints
// what the page says.
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import GithubSlugger from 'github-slugger';
import { Lexer, type Token } from 'marked';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startFakeOpenAI } from '../examples/shared/fake-openai-server.mjs';
import { configReference } from '../scripts/docs/config-reference.js';
import { readBlock, writeBlock } from '../scripts/docs/generated-blocks.js';
import {
  labelsCell,
  metricsLabelsReference,
  metricsOptInReference,
  metricsReference,
} from '../scripts/docs/metrics-reference.js';
import { validateOptions } from '../src/config/schema.js';
import { freePort, ROOT } from './helpers/processes.js';
import { runnableBlocks, runSession } from './helpers/runnable-blocks.js';

const DOCS = readdirSync(join(ROOT, 'docs'))
  .filter((f) => f.endsWith('.md'))
  .map((f) => `docs/${f}`);
const PAGES = ['README.md', ...DOCS, 'grafana/runbook.md'];
const read = (page: string) => readFileSync(join(ROOT, page), 'utf8');

/** Every token of a page, nested ones included (links sit inside paragraphs, lists, tables). */
function walk(tokens: Token[], visit: (token: Token) => void): void {
  for (const token of tokens) {
    visit(token);
    const t = token as Token & {
      tokens?: Token[];
      items?: Token[];
      header?: { tokens: Token[] }[];
      rows?: { tokens: Token[] }[][];
    };
    if (t.tokens) walk(t.tokens, visit);
    if (t.items) walk(t.items, visit);
    if (t.header) for (const cell of t.header) walk(cell.tokens, visit);
    if (t.rows) for (const row of t.rows) for (const cell of row) walk(cell.tokens, visit);
  }
}

/** The anchors GitHub gives a page's headings. */
function anchorsOf(markdown: string): Set<string> {
  const slugger = new GithubSlugger();
  const anchors = new Set<string>();
  walk(new Lexer().lex(markdown), (token) => {
    if (token.type === 'heading')
      anchors.add(slugger.slug((token as Token & { text: string }).text));
  });
  return anchors;
}

function linksOf(markdown: string): string[] {
  const links: string[] = [];
  walk(new Lexer().lex(markdown), (token) => {
    if (token.type === 'link' || token.type === 'image')
      links.push((token as Token & { href: string }).href);
  });
  return links;
}

describe('links', () => {
  it('every relative link and #anchor in README.md, docs/ and the runbook resolves', () => {
    const broken: string[] = [];
    for (const page of PAGES) {
      for (const href of linksOf(read(page))) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(href)) continue; // https:, mailto:
        const [path, anchor] = href.split('#') as [string, string | undefined];
        const target = path
          ? relative(ROOT, resolve(dirname(join(ROOT, page)), decodeURI(path)))
          : page;
        const where = `${page} -> ${href}`;
        if (!existsSync(join(ROOT, target))) broken.push(`${where}: no file ${target}`);
        else if (
          anchor !== undefined &&
          target.endsWith('.md') &&
          !anchorsOf(read(target)).has(anchor)
        )
          broken.push(`${where}: no heading #${anchor} in ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('the alert rules link each alert to its section of the runbook', () => {
    const anchors = anchorsOf(read('grafana/runbook.md'));
    const urls = [
      ...read('grafana/prometheus/tokenfuse-rules.yml').matchAll(/runbook_url: (\S+)/g),
    ].map((m) => m[1]!);
    expect(urls.length).toBeGreaterThan(0);
    for (const url of urls) {
      expect(url).toMatch(/\/grafana\/runbook\.md#/);
      expect(anchors, url).toContain(url.split('#')[1]);
    }
  });
});

/** The generated blocks of the docs: page, block name, and what generates it. */
const GENERATED: [page: string, block: string, generate: () => string][] = [
  ['docs/configuration.md', 'config-reference', configReference],
  ['docs/metrics.md', 'metrics-reference', metricsReference],
  ['docs/metrics.md', 'metrics-opt-in-reference', metricsOptInReference],
  ['docs/metrics.md', 'metrics-labels', metricsLabelsReference],
];

describe('generated reference', () => {
  it.each(GENERATED)('%s: the %s block is what the code generates', (page, block, generate) => {
    const file = join(ROOT, page);
    if (process.env.UPDATE_DOCS === '1')
      writeFileSync(file, writeBlock(read(page), block, generate()));
    const committed = readBlock(read(page), block);
    expect(committed, `${page} has no ${block} markers`).toBeDefined();
    expect(committed, `${page} is out of date: run \`npm run docs\``).toBe(`\n\n${generate()}\n\n`);
  });

  it('stops at a label the metrics contract names without a description, naming it', () => {
    expect(() =>
      labelsCell({ unit: 'calls', labels: ['tenant'] }, 'tokenfuse_tenant_calls_total'),
    ).toThrow(
      'metrics reference: label "tenant" of tokenfuse_tenant_calls_total has no description: add one to LABEL_DESCRIPTIONS in scripts/docs/metrics-reference.ts',
    );
  });

  it('every field of the config schema has its row', () => {
    const table = readBlock(read('docs/configuration.md'), 'config-reference') ?? '';
    for (const path of [
      'metrics.port',
      'budgets[].window',
      'ledger.restore.prometheus',
      'content.capture',
    ])
      expect(table).toContain(`| \`${path}\``);
  });
});

describe('config examples', () => {
  it('every YAML block headed `# tokenfuse.config.yaml` is a valid configuration', () => {
    const examples: string[] = [];
    for (const page of PAGES) {
      walk(new Lexer().lex(read(page)), (token) => {
        const code = token as Token & { lang?: string; text: string };
        if (
          token.type === 'code' &&
          code.lang === 'yaml' &&
          code.text.startsWith('# tokenfuse.config.yaml')
        )
          examples.push(`${page}\n${code.text}`);
      });
    }
    expect(examples.length).toBeGreaterThanOrEqual(2);
    for (const example of examples) {
      const [page, ...text] = example.split('\n');
      const result = validateOptions(parse(text.join('\n')));
      expect(result.success ? [] : result.issues, page).toEqual([]);
    }
  });
});

describe('runnable blocks', () => {
  const pages = DOCS.filter((page) => runnableBlocks(read(page)).length > 0);

  it('docs/ has runnable blocks', () => {
    expect(pages).toEqual(
      expect.arrayContaining(['docs/troubleshooting.md', 'docs/budgets-and-fuses.md']),
    );
  });

  it.each(pages)(
    '%s runs as written against the built package',
    async (page) => {
      // Inside the repository, so `tokenfuse` resolves to this package (dist/) by its own name.
      mkdirSync(join(ROOT, '.tmp'), { recursive: true });
      const dir = mkdtempSync(join(ROOT, '.tmp', 'docs-'));
      // What the quickstart sets up: the fake server, and the variables pointing the SDK at it.
      const fake = await startFakeOpenAI();
      try {
        await runSession(runnableBlocks(read(page)), {
          cwd: dir,
          replace: [[dir, '/srv/app']],
          env: {
            OPENAI_BASE_URL: `${fake.url}/v1`,
            OPENAI_API_KEY: 'fake',
            OTEL_EXPORTER_PROMETHEUS_PORT: String(await freePort()),
          },
        });
      } finally {
        await fake.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
    120_000,
  );
});
