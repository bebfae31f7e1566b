import type { Window } from './budget.js';

/** Bounds of a calendar window, in epoch milliseconds: [start, end). */
export interface WindowBounds {
  start: number;
  end: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

interface WallClock {
  year: number;
  month: number; // 1-12
  day: number;
  hour: number;
  minute: number;
  second: number;
}

function wallClock(ms: number, timeZone: string): WallClock {
  const out: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(ms)) {
    if (part.type !== 'literal') out[part.type] = Number(part.value);
  }
  return out as unknown as WallClock;
}

/** Offset of `timeZone` from UTC at instant `ms`, in ms (positive east of Greenwich). */
function offsetAt(ms: number, timeZone: string): number {
  const w = wallClock(ms, timeZone);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  return asUtc - (ms - (((ms % 1000) + 1000) % 1000));
}

/**
 * The instant at which the wall clock of `timeZone` shows the given local time.
 * Date.UTC normalises overflow (month 13, day 0), so callers can step fields freely.
 * Around a DST change a local time may not exist or exist twice; this picks the
 * instant after the gap, or the first of the two.
 */
function zonedTimeToUtc(
  year: number,
  monthIndex: number,
  day: number,
  hour: number,
  minute: number,
  timeZone: string,
): number {
  const local = Date.UTC(year, monthIndex, day, hour, minute);
  const first = local - offsetAt(local, timeZone);
  const second = local - offsetAt(first, timeZone);
  return Math.min(first, second);
}

/** The calendar window containing `now`. Not for rolling windows. */
export function calendarWindow(window: Window, now: number): WindowBounds {
  if (window.kind === 'rolling') throw new TypeError('calendarWindow() is for calendar windows');
  const tz = window.timeZone;
  const w = wallClock(now, tz);
  const m = w.month - 1;
  switch (window.kind) {
    case 'minute':
      return {
        start: zonedTimeToUtc(w.year, m, w.day, w.hour, w.minute, tz),
        end: zonedTimeToUtc(w.year, m, w.day, w.hour, w.minute + 1, tz),
      };
    case 'hour':
      return {
        start: zonedTimeToUtc(w.year, m, w.day, w.hour, 0, tz),
        end: zonedTimeToUtc(w.year, m, w.day, w.hour + 1, 0, tz),
      };
    case 'day':
      return {
        start: zonedTimeToUtc(w.year, m, w.day, 0, 0, tz),
        end: zonedTimeToUtc(w.year, m, w.day + 1, 0, 0, tz),
      };
    case 'month':
      return {
        start: zonedTimeToUtc(w.year, m, 1, 0, 0, tz),
        end: zonedTimeToUtc(w.year, m + 1, 1, 0, 0, tz),
      };
  }
}
