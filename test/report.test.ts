// `tokenfuse report` end to end: the BUILT binary (dist/cli.js, `npm run build` first) run
// as a child process against a real Prometheus that scraped two replicas of a tokenfuse
// app, one restarted mid-period (test/helpers/report-scenario.ts). Every figure, in every
// format, is checked against what the apps were answered, priced by calcPrice.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolvePeriod } from '../src/cli/report/period.js';
import { usd } from '../src/cli/report/render-text.js';
import { exactChunking } from '../src/restore/spend-query.js';
import { freePort, ROOT } from './helpers/processes.js';
import { requireBinary } from './helpers/prometheus.js';
import {
  humanCells,
  launchChromium,
  ReportScenario,
  type Spent,
  tokenfuse,
} from './helpers/report-scenario.js';

const scenario = new ReportScenario();
/** `UPDATE_SCREENSHOT=1` writes the screenshot the docs show (docs/chargeback.md). */
const SCREENSHOT = process.env.UPDATE_SCREENSHOT
  ? join(ROOT, 'docs', 'images', 'chargeback-report.png')
  : undefined;
let range: string[];

beforeAll(async () => {
  requireBinary('prometheus');
  await scenario.start();
  range = [
    '--prometheus',
    scenario.prometheus.url,
    '--from',
    new Date(scenario.startedAt - 5000).toISOString(),
    '--to',
    new Date(Date.now() + 1000).toISOString(),
  ];
}, 180_000);

afterAll(() => scenario.stop());

const DEPARTMENTS = ['research', 'ops', 'marketing'];
const spent = (d: string): Spent => scenario.spent.get(d)!;

describe('tokenfuse report', () => {
  it('the scenario is what the figures below assume', () => {
    expect(spent('research')).toMatchObject({ ok: 6, error: 0, blocked: 0 });
    expect(spent('ops')).toMatchObject({ ok: 2, error: 0, blocked: 1 });
    expect(spent('marketing')).toMatchObject({ ok: 3, error: 1, blocked: 0 });
    expect(spent('research').cached).toBeGreaterThan(0);
    expect(spent('marketing').cached).toBeGreaterThan(0);
    // Largest spender first, as the report sorts.
    expect(spent('research').usd).toBeGreaterThan(spent('ops').usd);
    expect(spent('ops').usd).toBeGreaterThan(spent('marketing').usd);
  });

  it('json: every figure per department and in total, across the restart', async () => {
    const run = await tokenfuse(['report', ...range, '--format', 'json']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.by).toEqual(['department']);
    expect(report.rows.map((r: { group: { department: string } }) => r.group.department)).toEqual(
      DEPARTMENTS,
    );
    const total = scenario.total();
    const check = (row: any, s: Spent) => {
      expect(row.costUsd).toBeCloseTo(s.usd, 12);
      expect(row.sharePct).toBeCloseTo((s.usd / total.usd) * 100, 9);
      expect(row.tokens).toEqual({
        input: s.input,
        cached: s.cached,
        cacheWrite: 0,
        output: s.output,
        total: s.input + s.cached + s.output,
      });
      expect(row.requests).toEqual({ ok: s.ok, error: s.error, blocked: s.blocked });
      expect(row.avgCostPerRequestUsd).toBeCloseTo(s.usd / (s.ok + s.error), 12);
      expect(row.previousCostUsd).toBe(0);
      expect(row.changeUsd).toBeCloseTo(s.usd, 12);
      expect(row.changePct).toBeUndefined();
      expect(row.dailyUsd.reduce((a: number, b: number) => a + b, 0)).toBeCloseTo(s.usd, 12);
    };
    for (const [i, d] of DEPARTMENTS.entries()) check(report.rows[i], spent(d));
    check(report.total, total);
    expect(report.total.sharePct).toBe(100);
    expect(report.notes.join(' ')).toMatch(
      /Counter resets \(process restarts\) were read from raw samples/,
    );
  });

  it('csv: one line per department and a TOTAL line, plain exact numbers', async () => {
    const run = await tokenfuse(['report', ...range, '--format', 'csv']);
    expect(run.code).toBe(0);
    const lines = run.stdout
      .trimEnd()
      .split('\r\n')
      .map((l) => l.split(','));
    expect(lines[0]!.slice(0, 10)).toEqual([
      'department',
      'cost_usd',
      'share_pct',
      'input_tokens',
      'cached_tokens',
      'cache_write_tokens',
      'output_tokens',
      'requests_ok',
      'requests_error',
      'requests_blocked',
    ]);
    const rows = [
      ...DEPARTMENTS.map((d) => [d, spent(d)] as const),
      ['TOTAL', scenario.total()] as const,
    ];
    expect(lines.length).toBe(rows.length + 1);
    for (const [i, [name, s]] of rows.entries()) {
      const cells = lines[i + 1]!;
      expect(cells[0]).toBe(name);
      expect(Number(cells[1])).toBeCloseTo(s.usd, 11);
      expect(cells.slice(3, 10).map(Number)).toEqual([
        s.input,
        s.cached,
        0,
        s.output,
        s.ok,
        s.error,
        s.blocked,
      ]);
    }
  });

  it('table: the figures as people read them, a TOTAL row and the notes', async () => {
    const run = await tokenfuse(['report', ...range]);
    expect(run.code).toBe(0);
    const lines = run.stdout.split('\n');
    expect(lines[0]).toMatch(/^LLM spend .* \(UTC\) by department$/);
    const cellsOf = (first: string) => {
      const line = lines.find((l) => l.startsWith(`${first} `));
      expect(line, first).toBeDefined();
      const c = line!.trim().split(/\s{2,}/);
      return [c[1], c[3], c[4], c[5], c[6], c[7], c[8], c[9]];
    };
    for (const d of DEPARTMENTS) expect(cellsOf(d)).toEqual(humanCells(spent(d)));
    expect(cellsOf('TOTAL')).toEqual(humanCells(scenario.total()));
  });

  it('markdown: a table with the same figures', async () => {
    const run = await tokenfuse(['report', ...range, '--format', 'markdown']);
    expect(run.code).toBe(0);
    const rows = run.stdout.split('\n').filter((l) => l.startsWith('| '));
    const cellsOf = (first: string) => {
      const row = rows.find((l) => l.startsWith(`| ${first} |`));
      expect(row, first).toBeDefined();
      const c = row!.split(' | ').map((x) => x.replace(/^\| |\*\*| \|$/g, ''));
      return [c[1], c[3], c[4], c[5], c[6], c[7], c[8], c[9]];
    };
    for (const d of DEPARTMENTS) expect(cellsOf(d)).toEqual(humanCells(spent(d)));
    expect(cellsOf('**TOTAL**')).toEqual(humanCells(scenario.total()));
  });

  it('--month: the monthly budget’s limit and utilization; groups by any labels', async () => {
    const month = new Date().toISOString().slice(0, 7);
    const run = await tokenfuse([
      'report',
      '--prometheus',
      scenario.prometheus.url,
      '--month',
      month,
      '--format',
      'json',
      '--out',
      `${scenario.dir}/month.json`,
    ]);
    expect(run).toMatchObject({ code: 0, stdout: '', stderr: '' });
    const report = JSON.parse(readFileSync(`${scenario.dir}/month.json`, 'utf8'));
    expect(report.period).toMatchObject({ label: month, timeZone: 'UTC' });
    const research = report.rows.find((r: any) => r.group.department === 'research');
    expect(research.costUsd).toBeCloseTo(spent('research').usd, 12);
    expect(research.budget).toEqual({
      name: 'research-month',
      unit: 'usd',
      limit: 0.05,
      utilizationPct: expect.closeTo((spent('research').usd / 0.05) * 100, 9),
    });
    const ops = report.rows.find((r: any) => r.group.department === 'ops');
    expect(ops.budget).toMatchObject({
      name: 'ops-month',
      unit: 'requests',
      limit: 2,
      utilizationPct: 100,
    });
    expect(report.rows.find((r: any) => r.group.department === 'marketing').budget).toBeUndefined();

    const byModel = JSON.parse(
      (await tokenfuse(['report', ...range, '--by', 'department,model', '--format', 'json']))
        .stdout,
    );
    const groups = byModel.rows.map((r: any) => `${r.group.department}/${r.group.model}`).sort();
    expect(groups).toEqual([
      'marketing/error-500',
      'marketing/gpt-4.1-mini',
      'ops/gpt-4.1',
      'research/gpt-4.1',
      'research/gpt-4.1-mini',
    ]);
    expect(byModel.total.costUsd).toBeCloseTo(scenario.total().usd, 12);
  });

  it('--progress: a line per day on stderr; none without it when stderr is no terminal', async () => {
    const run = await tokenfuse(['report', ...range, '--format', 'csv', '--progress']);
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/^querying Prometheus: 1\/\d+ days\n/);
  });
});

describe('tokenfuse report: failures are one line and a non-zero exit', () => {
  const fails = async (args: string[], code: number, message: RegExp) => {
    const run = await tokenfuse(['report', ...args]);
    expect(run.stdout).toBe('');
    expect(run.code).toBe(code);
    expect(run.stderr.split('\n')).toEqual([expect.stringMatching(message), '']);
  };

  it('Prometheus unreachable', async () => {
    const port = await freePort();
    await fails(
      ['--prometheus', `http://127.0.0.1:${port}`, '--month', '2026-11'],
      1,
      /^tokenfuse: cannot reach Prometheus \(ECONNREFUSED\)$/,
    );
  });

  it('no data for the period', async () => {
    await fails(
      ['--prometheus', scenario.prometheus.url, '--month', '2020-01'],
      1,
      /^tokenfuse: no data: Prometheus at http:\/\/127\.0\.0\.1:\d+ has no tokenfuse_cost_usd_total series from 2020-01-01T00:00:00\.000Z to 2020-02-01T00:00:00\.000Z \(2020-01, UTC\)$/,
    );
  });

  it('bad month', async () => {
    await fails(
      ['--prometheus', scenario.prometheus.url, '--month', '2026-13'],
      2,
      /^tokenfuse: --month: expected a month as YYYY-MM \(e\.g\. 2026-11\), got "2026-13"$/,
    );
  });

  it('unknown group label', async () => {
    await fails(
      [...range, '--by', 'department,team'],
      2,
      /^tokenfuse: --by: unknown group label "team"; tokenfuse_cost_usd_total has department, environment, model, project, provider in /,
    );
  });

  it('unknown time zone', async () => {
    await fails(
      [...range, '--tz', 'Mars/Olympus'],
      2,
      /^tokenfuse: --tz: unknown time zone "Mars\/Olympus"/,
    );
  });
});

describe('tokenfuse report --format html, in a real headless Chromium', () => {
  it('shows the table’s figures, renders every chart, loads nothing and logs no error', async () => {
    const month = new Date().toISOString().slice(0, 7);
    const file = join(scenario.dir, 'report.html');
    const run = await tokenfuse([
      'report',
      '--prometheus',
      scenario.prometheus.url,
      '--month',
      month,
      '--format',
      'html',
      '--out',
      file,
    ]);
    expect(run).toMatchObject({ code: 0, stdout: '', stderr: '' });
    const html = readFileSync(file, 'utf8');
    expect(html).not.toMatch(/<script|<link|@import|url\(/i);

    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const errors: string[] = [];
      const requests: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.route('**/*', (route) => {
        const url = route.request().url();
        if (url.startsWith('file:')) return route.continue();
        requests.push(url);
        return route.abort();
      });
      await page.goto(pathToFileURL(file).href);

      // The table, as the reader sees it.
      const rows = await page.$$eval('#report tbody tr, #report tfoot tr', (trs) =>
        trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')),
      );
      const pick = (c: string[]) => [c[1], c[3], c[4], c[5], c[6], c[7], c[8], c[9]];
      expect(rows.map((c) => c[0])).toEqual([...DEPARTMENTS, 'TOTAL']);
      for (const [i, d] of DEPARTMENTS.entries())
        expect(pick(rows[i]!)).toEqual(humanCells(spent(d)));
      expect(pick(rows[3]!)).toEqual(humanCells(scenario.total()));
      expect(rows[0]!.slice(-2)).toEqual([
        usd(0.05),
        `${((spent('research').usd / 0.05) * 100).toFixed(1)}%`,
      ]);

      // Every chart drew its marks: a bar and an arc per department, a line per
      // department with a point per day of the month.
      const marks = (selector: string) => page.$$eval(selector, (els) => els.length);
      const days = new Date(
        Date.UTC(Number(month.slice(0, 4)), Number(month.slice(5)), 0),
      ).getUTCDate();
      expect(await marks('#chart-spend svg .mark-rect.role-mark path')).toBe(3);
      expect(await marks('#chart-share svg .mark-arc.role-mark path')).toBe(3);
      expect(await marks('#chart-daily svg .mark-line.role-mark path')).toBe(3);
      expect(await marks('#chart-daily svg .mark-symbol.role-mark path')).toBe(3 * days);

      const background = () =>
        page.evaluate<string>('getComputedStyle(document.body).backgroundColor');
      expect(await background()).toBe('rgb(255, 255, 255)');
      await page.screenshot({
        path: SCREENSHOT ?? join(scenario.dir, 'report.png'),
        fullPage: true,
      });
      await page.emulateMedia({ colorScheme: 'dark' });
      expect(await background()).toBe('rgb(13, 17, 23)');
      await page.emulateMedia({ colorScheme: 'dark', media: 'print' });
      expect(await background()).toBe('rgb(255, 255, 255)');

      expect(errors).toEqual([]);
      expect(requests).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 60_000);
});

describe('report periods: exact instants in the time zone, across DST', () => {
  const H = 3_600_000;

  it('a month where summer time ends has a 25-hour day', () => {
    // Europe/Berlin, October 2026: CEST (+2) until 25 Oct 03:00, then CET (+1).
    const p = resolvePeriod({ month: '2026-10' }, 'Europe/Berlin', 0);
    expect(new Date(p.start).toISOString()).toBe('2026-09-30T22:00:00.000Z');
    expect(new Date(p.end).toISOString()).toBe('2026-10-31T23:00:00.000Z');
    expect(p.end - p.start).toBe((31 * 24 + 1) * H);
    expect(p.days.map((d) => d.label)).toEqual(
      Array.from({ length: 31 }, (_, i) => `2026-10-${String(i + 1).padStart(2, '0')}`),
    );
    const lengths = p.days.map((d) => (d.end - d.start) / H);
    expect(lengths[24]).toBe(25);
    expect(lengths.filter((l) => l !== 24)).toEqual([25]);
    expect(p.previous).toEqual({
      start: Date.parse('2026-08-31T22:00:00Z'),
      end: p.start,
      label: '2026-09',
    });
  });

  it('a month where summer time starts has a 23-hour day', () => {
    // America/New_York, March 2026: EST (-5) until 8 Mar 02:00, then EDT (-4).
    const p = resolvePeriod({ month: '2026-03' }, 'America/New_York', 0);
    expect(new Date(p.start).toISOString()).toBe('2026-03-01T05:00:00.000Z');
    expect(new Date(p.end).toISOString()).toBe('2026-04-01T04:00:00.000Z');
    const lengths = p.days.map((d) => (d.end - d.start) / H);
    expect(lengths[7]).toBe(23);
    expect(lengths.filter((l) => l !== 24)).toEqual([23]);
  });

  it('days and months are cut into chunks that end exactly at their end', () => {
    const p = resolvePeriod({ month: '2026-10' }, 'Europe/Berlin', 0);
    for (const span of [p, ...p.days, p.previous]) {
      const { count, stepMs } = exactChunking(span.start, span.end);
      expect(count * stepMs).toBe(span.end - span.start);
      expect(Number.isInteger(stepMs)).toBe(true);
    }
    // A span no chunk count divides but one: one chunk.
    expect(exactChunking(0, 15 * 60_000 * 7 + 1)).toEqual({
      count: 1,
      stepMs: 15 * 60_000 * 7 + 1,
    });
  });

  it('--from/--to: dates are local midnights, date-times need their offset', () => {
    const p = resolvePeriod({ from: '2026-10-24', to: '2026-10-26' }, 'Europe/Berlin', 0);
    expect(new Date(p.start).toISOString()).toBe('2026-10-23T22:00:00.000Z');
    expect(new Date(p.end).toISOString()).toBe('2026-10-25T23:00:00.000Z');
    expect(p.days.map((d) => [d.label, (d.end - d.start) / H])).toEqual([
      ['2026-10-24', 24],
      ['2026-10-25', 25],
    ]);
    expect(p.previous).toMatchObject({ start: p.start - 49 * H, end: p.start });
    expect(() => resolvePeriod({ from: '2026-10-24T08:00' }, 'UTC', 0)).toThrow(
      '--from: expected a date (2026-11-03) or a date-time with its offset (2026-11-03T08:00:00Z), got "2026-10-24T08:00"',
    );
    expect(() => resolvePeriod({ month: '2026-10', from: '2026-10-01' }, 'UTC', 0)).toThrow(
      'give either --month or --from/--to, not both',
    );
  });
});
