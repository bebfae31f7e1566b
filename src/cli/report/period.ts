/**
 * The period a report covers, in a time zone: a calendar month (`--month 2026-11`) or
 * `--from/--to`, cut into the zone's days (23 or 25 hours long where DST changes), and
 * the period before it, which the report compares against.
 */
import { calendarWindow } from '../../budgets/window.js';
import { CliError } from '../cli-error.js';

/** A span of time, [start, end) in epoch ms, with the name a reader sees. */
export interface Span {
  start: number;
  end: number;
  label: string;
}

/** What a report covers. */
export interface Period extends Span {
  timeZone: string;
  /** A calendar month (budgets' monthly limits apply), or a free range. */
  kind: 'month' | 'range';
  /** The zone's days in the period, each named by its local date (the first and last may be partial). */
  days: Span[];
  /** The month before, or the range of equal length right before. */
  previous: Span;
}

const dateFormats = new Map<string, Intl.DateTimeFormat>();

/** `YYYY-MM-DD` of an instant in a zone. */
export function localDate(ms: number, timeZone: string): string {
  let f = dateFormats.get(timeZone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-CA', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
    });
    dateFormats.set(timeZone, f);
  }
  return f.format(ms);
}

/** Checks a zone name the way Intl does, with a message naming the value. */
export function checkTimeZone(timeZone: string): string {
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone }).resolvedOptions().timeZone;
  } catch {
    throw new CliError(
      `--tz: unknown time zone ${JSON.stringify(timeZone)} (an IANA name such as Europe/Berlin or UTC)`,
      2,
    );
  }
}

/** The calendar month `YYYY-MM` in a zone: [its first local midnight, the next month's). */
export function monthSpan(month: string, timeZone: string): Span {
  const m = /^(\d{4})-(\d{2})$/.exec(month);
  const index = m ? Number(m[2]) - 1 : -1;
  if (!m || index < 0 || index > 11)
    throw new CliError(
      `--month: expected a month as YYYY-MM (e.g. 2026-11), got ${JSON.stringify(month)}`,
      2,
    );
  // Mid-month at noon UTC is inside the month in every zone.
  const w = calendarWindow({ kind: 'month', timeZone }, Date.UTC(Number(m[1]), index, 15, 12));
  return { ...w, label: month };
}

/**
 * An instant from `--from/--to`: an ISO date (`2026-11-03`, local midnight in the zone)
 * or date-time with its offset (`2026-11-03T08:00:00Z`).
 */
export function parseInstant(flag: string, text: string, timeZone: string): number {
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) {
    const utcNoon = Date.parse(`${text}T12:00:00Z`);
    if (Number.isFinite(utcNoon) && new Date(utcNoon).toISOString().startsWith(text))
      return calendarWindow({ kind: 'day', timeZone }, utcNoon).start;
  } else if (/^\d{4}-\d{2}-\d{2}T.+(Z|[+-]\d{2}:\d{2})$/.test(text)) {
    const ms = Date.parse(text);
    if (Number.isFinite(ms)) return ms;
  }
  throw new CliError(
    `${flag}: expected a date (2026-11-03) or a date-time with its offset (2026-11-03T08:00:00Z), got ${JSON.stringify(text)}`,
    2,
  );
}

/** The zone's days overlapping [start, end), clipped to it. */
export function daysOf(start: number, end: number, timeZone: string): Span[] {
  const days: Span[] = [];
  for (let t = start; t < end; ) {
    const day = calendarWindow({ kind: 'day', timeZone }, t);
    const dayEnd = Math.min(day.end, end);
    days.push({ start: t, end: dayEnd, label: localDate(t, timeZone) });
    t = dayEnd;
  }
  return days;
}

/** The period of `--month` or `--from/--to` (exactly one of the two), in `timeZone`. */
export function resolvePeriod(
  opts: { month?: string; from?: string; to?: string },
  timeZoneName: string,
  now: number,
): Period {
  const timeZone = checkTimeZone(timeZoneName);
  if (opts.month !== undefined && (opts.from !== undefined || opts.to !== undefined))
    throw new CliError('give either --month or --from/--to, not both', 2);
  if (opts.month !== undefined) {
    const span = monthSpan(opts.month, timeZone);
    const before = calendarWindow({ kind: 'month', timeZone }, span.start - 1);
    return {
      ...span,
      timeZone,
      kind: 'month',
      days: daysOf(span.start, span.end, timeZone),
      previous: { ...before, label: localDate(before.start, timeZone).slice(0, 7) },
    };
  }
  if (opts.from === undefined) throw new CliError('give --month YYYY-MM or --from (and --to)', 2);
  const start = parseInstant('--from', opts.from, timeZone);
  const end = opts.to === undefined ? now : parseInstant('--to', opts.to, timeZone);
  if (end <= start)
    throw new CliError(`--to (${opts.to ?? 'now'}) must be after --from (${opts.from})`, 2);
  const label = `${opts.from} – ${opts.to ?? 'now'}`;
  const previous = { start: 2 * start - end, end: start, label: 'the period before' };
  return {
    start,
    end,
    label,
    timeZone,
    kind: 'range',
    days: daysOf(start, end, timeZone),
    previous,
  };
}
