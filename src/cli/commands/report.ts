/**
 * `tokenfuse report`: the monthly chargeback, per department (or any labels), from
 * what Prometheus already has, with the restore's exact counter arithmetic.
 */
import { writeFileSync } from 'node:fs';
import { type Command, Option } from 'commander';
import { CliError } from '../cli-error.js';
import { collectReport } from '../report/collect.js';
import { buildReport } from '../report/figures.js';
import { resolvePeriod } from '../report/period.js';
import { renderCsv, renderJson, renderMarkdown, renderTable } from '../report/render-text.js';

const FORMATS = ['table', 'csv', 'json', 'markdown', 'html'] as const;
type Format = (typeof FORMATS)[number];

interface ReportOptions {
  prometheus: string;
  month?: string;
  from?: string;
  to?: string;
  tz: string;
  by: string;
  format: Format;
  out?: string;
  progress?: boolean;
  timeout: string;
}

/** A progress line on stderr, rewritten in place, when a person is watching (or asked). */
function progressLine(enabled: boolean): {
  step: (done: number, total: number) => void;
  end: () => void;
} {
  if (!enabled) return { step: () => {}, end: () => {} };
  const tty = process.stderr.isTTY === true;
  let shown = false;
  return {
    step: (done, total) => {
      shown = true;
      const text = `querying Prometheus: ${done}/${total} days`;
      process.stderr.write(tty ? `\r${text}` : `${text}\n`);
    },
    end: () => {
      if (shown && tty) process.stderr.write('\n');
    },
  };
}

async function runReport(opts: ReportOptions): Promise<void> {
  try {
    new URL(opts.prometheus);
  } catch {
    throw new CliError(`--prometheus: not a URL: ${JSON.stringify(opts.prometheus)}`, 2);
  }
  const timeoutMs = Number(opts.timeout) * 1000;
  if (!(timeoutMs > 0))
    throw new CliError(`--timeout: expected seconds > 0, got ${JSON.stringify(opts.timeout)}`, 2);
  const by = opts.by
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (by.length === 0) throw new CliError('--by: name at least one label (e.g. department)', 2);
  const period = resolvePeriod(opts, opts.tz, Date.now());

  const progress = progressLine(opts.progress ?? process.stderr.isTTY === true);
  const signal = AbortSignal.timeout(timeoutMs);
  let data: Awaited<ReturnType<typeof collectReport>>;
  try {
    data = await collectReport(opts.prometheus, by, period, signal, progress.step);
  } finally {
    progress.end();
  }
  const report = buildReport(data, period, by, new URL(opts.prometheus).host);
  let text: string;
  switch (opts.format) {
    case 'table':
      text = renderTable(report);
      break;
    case 'csv':
      text = renderCsv(report);
      break;
    case 'json':
      text = renderJson(report);
      break;
    case 'markdown':
      text = renderMarkdown(report);
      break;
    case 'html': {
      // Vega and Vega-Lite are loaded only for HTML.
      const { renderHtml } = await import('../report/render-html.js');
      text = await renderHtml(report);
      break;
    }
  }
  if (opts.out) writeFileSync(opts.out, text);
  else process.stdout.write(text);
}

/** Registers `report` on the program. */
export function registerReport(program: Command): void {
  program
    .command('report')
    .description(
      'chargeback: LLM spend per department (or any labels) for a month, from Prometheus',
    )
    .requiredOption(
      '--prometheus <url>',
      'Prometheus base URL (credentials in the URL become basic auth)',
    )
    .option('--month <YYYY-MM>', 'the calendar month, in --tz')
    .option('--from <date>', 'start: 2026-11-03 (midnight in --tz) or 2026-11-03T08:00:00Z')
    .option('--to <date>', 'end, exclusive (default: now); same forms as --from')
    .option('--tz <zone>', 'IANA time zone of the month and days', 'UTC')
    .option('--by <labels>', 'group by these labels, comma-separated', 'department')
    .addOption(new Option('--format <format>', 'output format').choices(FORMATS).default('table'))
    .option('--out <file>', 'write to this file instead of stdout')
    .option('--progress', 'show progress on stderr even when it is not a terminal')
    .option('--timeout <seconds>', 'give up on Prometheus after this long', '300')
    .action((opts: ReportOptions) => runReport(opts));
}
