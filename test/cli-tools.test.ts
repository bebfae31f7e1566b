// `tokenfuse check`, `prices` and `fake-server`, and `--help` of every command: the BUILT
// binary (dist/cli.js; `npm run build` first) run as a user runs it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calcPrice } from '@pydantic/genai-prices';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { usd } from '../src/cli/report/render-text.js';
import { App, childEnv } from './helpers/processes.js';
import { CLI, tokenfuse } from './helpers/report-scenario.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tokenfuse-cli-tools-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('--help', () => {
  it.each(['report', 'check', 'prices', 'fake-server'])('tokenfuse %s --help', async (command) => {
    const run = await tokenfuse([command, '--help']);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    expect(run.stdout).toMatch(new RegExp(`^Usage: tokenfuse ${command} `));
    expect(run.stdout).toContain('Options:');
  });
});

describe('tokenfuse check', () => {
  it('prints what a valid config resolves to, credentials left out', async () => {
    const path = file(
      'good.yaml',
      [
        'metrics:',
        '  labels: [department, model]',
        'budgets:',
        '  - name: research-month',
        '    match: { department: research }',
        '    window: month',
        '    timeZone: Europe/Berlin',
        '    limit: { usd: 500 }',
        'policies:',
        '  - name: no-o1',
        '    denyModels: ["o1*"]',
        'pricing:',
        '  overrides:',
        '    - { model: "acme-*", input_mtok: 1, output_mtok: 2 }',
        'ledger:',
        '  restore: { prometheus: "http://finance:s3cret@prometheus.internal:9090" }',
        '',
      ].join('\n'),
    );
    const run = await tokenfuse(['check', '--config', path]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const [head, body] = run.stdout.split('\n\n');
    expect(head).toBe(`tokenfuse configuration: ${path} is valid`);
    expect(run.stdout).not.toContain('s3cret');
    expect(parse(body!)).toEqual({
      labels: ['department', 'model'],
      labelLimits: { maxValuesPerLabel: 100, maxLabelValueLength: 128, maxSeries: 2000 },
      budgets: [
        {
          name: 'research-month',
          match: { department: 'research' },
          window: 'month (Europe/Berlin)',
          limit: { usd: 500 },
          action: 'block',
          thresholds: [0.5, 0.75, 0.9, 1],
        },
      ],
      policies: [{ name: 'no-o1', match: {}, denyModels: ['o1*'] }],
      priceOverrides: [{ model: 'acme-*', input_mtok: 1, output_mtok: 2 }],
      providers: [],
      ledger: {
        store: 'memory',
        onFailure: 'open',
        restore: { prometheus: 'http://prometheus.internal:9090/', intervalSeconds: 0 },
      },
    });
  });

  it('lists every problem of a bad config with its file, line and field, and exits 1', async () => {
    const path = file(
      'bad.yaml',
      [
        'budgets:',
        '  - name: research-month',
        '    match: { department: research }',
        '    window: fortnight',
        '    limit: { usd: -5 }',
        'metrics:',
        '  port: 99999',
        '',
      ].join('\n'),
    );
    const run = await tokenfuse(['check', '--config', path]);
    expect(run.stdout).toBe('');
    expect(run.code).toBe(1);
    const lines = run.stderr.trimEnd().split('\n');
    expect(lines[0]).toBe(`tokenfuse: invalid tokenfuse configuration in ${path}:`);
    expect(lines.slice(1)).toEqual([
      expect.stringMatching(/^ {2}- budgets\[0\]\.window \(line 4\): .*fortnight/),
      expect.stringMatching(/^ {2}- budgets\[0\]\.limit\.usd \(line 5\): .*-5/),
      expect.stringMatching(/^ {2}- metrics\.port \(line 7\): .*99999/),
    ]);
  });
});

describe('tokenfuse prices', () => {
  it('a catalog model: its source, rates and the cost of a usage, as calcPrice has it', async () => {
    const run = await tokenfuse([
      'prices',
      'gpt-4.1',
      '--tokens',
      '1000:500:200',
      '--config',
      file('empty.yaml', '{}\n'),
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    // 1000 uncached and 200 cached input tokens: 1200 input tokens as the catalog counts them.
    const price = calcPrice(
      { input_tokens: 1200, cache_read_tokens: 200, output_tokens: 500 },
      'gpt-4.1',
      { providerId: 'openai' },
    );
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('model     gpt-4.1');
    expect(lines[1]).toBe('provider  openai');
    expect(lines[2]).toMatch(
      /^source {4}catalog @pydantic\/genai-prices \d+\.\d+\.\d+, bundled data: openai\/gpt-4\.1$/,
    );
    expect(lines[3]).toBe(
      'per 1M    input $2.00, cached input $0.50, cache write $2.00, output $8.00',
    );
    expect(lines[4]).toBe('usage     1,000 input, 500 output, 200 cached, 0 cache write');
    expect(lines[5]).toBe(`cost      ${usd(price!.total_price)}`);
  });

  it('a price override of the config wins, and says so', async () => {
    const path = file(
      'override.yaml',
      'pricing:\n  overrides:\n    - { model: "gpt-4.1*", input_mtok: 1, output_mtok: 3 }\n',
    );
    const run = await tokenfuse([
      'prices',
      'gpt-4.1-mini',
      '--config',
      path,
      '--tokens',
      '1000:500',
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      [
        'model     gpt-4.1-mini',
        'provider  openai',
        `source    price override pricing.overrides[0] in ${path}`,
        'per 1M    input $1.00, cached input $1.00, cache write $1.00, output $3.00',
        'usage     1,000 input, 500 output, 0 cached, 0 cache write',
        // 1000 × $1 + 500 × $3 per million.
        'cost      $0.002500',
        '',
      ].join('\n'),
    );
  });

  it('an unknown model or bad --tokens: one line and a non-zero exit', async () => {
    const empty = file('empty2.yaml', '{}\n');
    const unknown = await tokenfuse(['prices', 'no-such-model-xyz', '--config', empty]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(
      /^tokenfuse: no price for model "no-such-model-xyz" with provider "openai": neither a price override in .* nor the catalog \(@pydantic\/genai-prices [\d.]+\) has it\n$/,
    );
    const bad = await tokenfuse(['prices', 'gpt-4.1', '--config', empty, '--tokens', '10:x']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe(
      'tokenfuse: --tokens: expected INPUT:OUTPUT[:CACHED[:CACHE_WRITE]] (e.g. 1000:500:200), got "10:x"\n',
    );
  });
});

describe('tokenfuse fake-server', () => {
  it('answers a real openai SDK call, deterministically, and stops on SIGTERM', async () => {
    const server = new App([CLI, 'fake-server', '--port', '0'], childEnv());
    try {
      const line = await server.firstLine(20_000);
      const url = /^Fake OpenAI-compatible server on (http:\/\/127\.0\.0\.1:\d+\/v1) /.exec(
        line,
      )?.[1];
      expect(url, line).toBeDefined();
      const openai = new OpenAI({ baseURL: url, apiKey: 'fake', maxRetries: 0 });
      const completion = await openai.chat.completions.create({
        model: 'gpt-4.1',
        messages: [{ role: 'user', content: 'hello there' }],
        max_tokens: 4,
      });
      expect(completion.choices[0]!.message.content).toBe('Hello from gpt-4.1 Hello');
      expect(completion.usage).toMatchObject({
        prompt_tokens: 5,
        completion_tokens: 4,
        total_tokens: 9,
      });
      server.child.kill('SIGTERM');
      expect(await server.exited).toEqual({ code: 0, signal: null });
    } finally {
      await server.kill();
    }
  });

  it('rejects a bad --port with one line and exit code 2', async () => {
    const run = await tokenfuse(['fake-server', '--port', 'abc']);
    expect(run).toEqual({
      code: 2,
      stdout: '',
      stderr: 'tokenfuse: --port: expected an integer 0..65535, got "abc"\n',
    });
  });
});
