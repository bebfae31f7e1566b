// The in-memory store's fast path (every matched budget closed, unraised, with room:
// one reservation for all, a settlement with nothing to report answers nothing) against
// the full path it stands in for. The reference board runs the same store with its fast
// path taken away; both are driven call for call and must agree on every decision,
// event, fuse and per-value summary, and the fast board's figures are asserted exactly.
// Then the same through the real `openai` SDK over HTTP: the exact /metrics lines.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { normalizeBudget } from '../src/budgets/budget.js';
import { type CallDescription, FuseBoard } from '../src/fuses/fuse-board.js';
import { MemoryFuseStore } from '../src/fuses/stores/memory.js';
import { withAttribution } from '../src/index.js';
import { PriceBook } from '../src/pricing/price-book.js';
import type { BudgetOptions } from '../src/types.js';
import { rejection, x } from './helpers/budget-calls.js';
import { LOCAL_RELAY, useFakeServerHarness } from './helpers/fake-server-harness.js';
import { select } from './helpers/prom-text.js';

const prices = new PriceBook();
const T0 = Date.parse('2026-12-01T10:10:00Z');
const HOUR = 3_600_000;

const BUDGETS: BudgetOptions[] = [
  // Per value, calendar window: thresholds 0.5/0.75/0.9/1.
  { name: 'per-user', per: 'user', window: 'hour', limit: { tokens: 100 } },
  // Per value, rolling window, thresholds of its own.
  {
    name: 'per-user-10m',
    per: 'user',
    window: { rolling: '10m' },
    limit: { tokens: 200 },
    thresholds: [0.25, 0.5],
  },
  // Not per value: every call of the department.
  { name: 'team', match: { department: 'search' }, window: 'day', limit: { tokens: 400 } },
];

/** A call whose length bound reserves 12 + 6 = 18 tokens and whose exact count reserves 4 + 6. */
const call = (user: string): CallDescription => ({
  tags: { department: 'search', user },
  provider: 'openai',
  model: 'gpt-4.1-mini',
  inputUpperBound: 12,
  exactInput: () => 4,
  inputUnseen: false,
  maxOutput: { kind: 'set', tokens: 6 },
});

function boardOf(fast: boolean, notesPerValue = true) {
  const store = new MemoryFuseStore();
  // The reference: no fast path, so every call takes the full path.
  if (!fast) Object.defineProperty(store, 'admitClear', { value: undefined });
  // A store whose fast path does not note values (as the Redis store's).
  if (!notesPerValue) Object.defineProperty(store, 'notesPerValue', { value: undefined });
  const fullPath = vi.spyOn(store, 'admit');
  let now = T0;
  const board = new FuseBoard({
    budgets: BUDGETS.map(normalizeBudget),
    policies: [],
    prices,
    store,
    now: () => now,
  });
  const events: unknown[] = [];
  board.onThreshold((e) => events.push({ threshold: e }));
  board.onTrip((e) => events.push({ trip: e }));
  board.onReset((e) => events.push({ reset: e }));
  board.onStateChange((e) => events.push({ change: e }));
  board.onBlocked((e) => events.push({ blocked: e }));
  /** Admits a call for `user` and settles it at `tokens`; what the admission answered. */
  const run = (user: string, tokens: number): string => {
    const result = board.admit(call(user));
    if ('blocked' in result) return `blocked ${result.blocked.budget} ${result.blocked.reason}`;
    if (result instanceof Promise) throw new Error('the in-memory store answers at once');
    board.settle(result.admitted, { tokens, usd: 0, outputTokens: tokens });
    return `admitted ${result.admitted.reserved.map((r) => r.tokens).join('/')}`;
  };
  return {
    board,
    events,
    fullPath,
    run,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

/** The calls both boards get: [user, tokens used] or a step of the clock. */
const SCRIPT: Array<[string, number] | number> = [
  ['a', 40], // per-user[a] 0.40, rolling 0.20, team 0.10: nothing crossed
  ['b', 30],
  ['a', 15], // per-user[a] 0.55: crosses 0.5; rolling 0.275: crosses 0.25
  ['a', 25], // 0.80: crosses 0.75
  60_000,
  ['a', 12], // 0.92: crosses 0.9
  ['a', 10], // 8 tokens left: the bound (18) does not fit, the exact count (10) does; 1.02: crosses 1, trips
  ['a', 5], // blocked: limit reached
  ['b', 20], // b goes on: 50 tokens, crosses 0.5 and its rolling budget's 0.25
  HOUR, // a new hour: a's and b's values are forgotten at the next call, a starts afresh
  ['a', 5],
  ['a', 5],
];

describe('the fast path against the full path', () => {
  it('per-value and plain budgets crossing thresholds and tripping: the same decisions, events, fuses and summaries, call for call', () => {
    const fast = boardOf(true);
    const full = boardOf(false);
    const answers: string[] = [];
    for (const step of SCRIPT) {
      if (typeof step === 'number') {
        fast.advance(step);
        full.advance(step);
        continue;
      }
      const answer = fast.run(...step);
      expect(full.run(...step)).toBe(answer);
      answers.push(answer);
      expect(fast.events).toEqual(full.events);
      expect(fast.board.list()).toEqual(full.board.list());
      expect(fast.board.perValueSummaries(10)).toEqual(full.board.perValueSummaries(10));
    }

    expect(answers).toEqual([
      'admitted 18/18/18',
      'admitted 18/18/18',
      'admitted 18/18/18',
      'admitted 18/18/18',
      'admitted 18/18/18',
      'admitted 10/10/10',
      'blocked per-user[a] limit_reached',
      'admitted 18/18/18',
      'admitted 18/18/18',
      'admitted 18/18/18',
    ]);
    // Every call with its fuses closed and room for its bound took the fast path: all but
    // the one whose bound did not fit and the blocked one.
    expect(full.fullPath).toHaveBeenCalledTimes(10);
    expect(fast.fullPath).toHaveBeenCalledTimes(2);

    const thresholds = fast.events.flatMap((e) => {
      const t = (e as { threshold?: { budget: string; threshold: number; spent: number } })
        .threshold;
      return t === undefined ? [] : [[t.budget, t.threshold, t.spent]];
    });
    expect(thresholds).toEqual([
      ['per-user[a]', 0.5, 55],
      ['per-user-10m[a]', 0.25, 55],
      ['per-user[a]', 0.75, 80],
      ['per-user[a]', 0.9, 92],
      ['per-user[a]', 1, 102],
      ['per-user-10m[a]', 0.5, 102],
      ['per-user[b]', 0.5, 50],
      ['per-user-10m[b]', 0.25, 50],
    ]);
    const changes = fast.events.flatMap((e) => {
      const c = (e as { change?: { budget: string; from: string; to: string; cause: string } })
        .change;
      return c === undefined ? [] : [[c.budget, c.from, c.to, c.cause]];
    });
    expect(changes).toEqual([['per-user[a]', 'closed', 'open', 'trip']]);
    expect(fast.board.perValueSummaries(10).map((s) => [s.budget.name, s.top, s.counts])).toEqual([
      ['per-user', [{ key: 'a', utilization: 0.1 }], { tracked: 1, near: 0, over: 0, open: 0 }],
      [
        'per-user-10m',
        [{ key: 'a', utilization: 0.05 }],
        { tracked: 1, near: 0, over: 0, open: 0 },
      ],
    ]);
  });
});

describe("a rolling window's values", () => {
  it('are kept until their window has ended and forgotten at most a second after, however often they are used', () => {
    for (const b of [boardOf(true), boardOf(false)]) {
      const tracked = () =>
        b.board.perValueSummaries(10).find((s) => s.budget.name === 'per-user-10m')!.counts.tracked;
      b.run('a', 1); // a's window ends at T0 + 10m
      b.advance(100);
      b.run('b', 1); // b's at T0 + 100 ms + 10m
      b.advance(800);
      b.run('a', 1); // a's moves to T0 + 900 ms + 10m; a keeps its place before b (less than a second on)
      b.advance(10 * 60_000 - 900 + 99); // T0 + 10m + 99 ms: neither has ended
      expect(tracked()).toBe(2);
      b.advance(101); // T0 + 10m + 200 ms: b's has ended; it waits behind a, whose has not
      expect(tracked()).toBe(2);
      b.advance(700); // T0 + 10m + 900 ms: a's ends now, b's 800 ms ago: both go
      expect(tracked()).toBe(0);
      // Used again, a value starts afresh.
      b.run('a', 1);
      expect(tracked()).toBe(1);
    }
  });
});

describe('a store whose fast path does not note per-value budgets', () => {
  it('takes the full path for calls that match one, and its summaries are the same', () => {
    const quiet = boardOf(true, false);
    const full = boardOf(false);
    for (const [user, tokens] of [
      ['a', 40],
      ['b', 30],
      ['a', 15],
    ] as const) {
      expect(quiet.run(user, tokens)).toBe(full.run(user, tokens));
    }
    expect(quiet.fullPath).toHaveBeenCalledTimes(3);
    expect(quiet.events).toEqual(full.events);
    expect(quiet.board.perValueSummaries(10)[0]!.top).toEqual([
      { key: 'a', utilization: 0.55 },
      { key: 'b', utilization: 0.3 },
    ]);
    expect(quiet.board.perValueSummaries(10)).toEqual(full.board.perValueSummaries(10));
  });
});

describe('through the SDK: a per-value budget crossing thresholds on the fast path', () => {
  const { llm, harness, client } = useFakeServerHarness();
  afterEach(() => {
    vi.useRealTimers();
  });

  it('fires each threshold once, trips at the limit, and /metrics reads the values exactly', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: new Date(T0) });
    const h = await harness({
      providers: [LOCAL_RELAY],
      metrics: { perValueTop: 3 },
      budgets: [{ name: 'per-user', per: 'user', window: 'hour', limit: { tokens: 100 } }],
    });
    const openai = client(h);
    const crossed: Array<[string, number, number]> = [];
    h.tokenfuse.fuses.onThreshold((e) => crossed.push([e.budget, e.threshold, e.spent]));
    const trips: string[] = [];
    h.tokenfuse.fuses.onTrip((e) => trips.push(e.budget));
    const as = (user: string, maxTokens: number) =>
      withAttribution({ user }, () => openai.chat.completions.create(x(maxTokens)));

    // 4 + max_tokens tokens a call: a 30, 60, 90 (crosses 0.5, then 0.75 and 0.9), b 20.
    await as('a', 26);
    await as('b', 16);
    expect(crossed).toEqual([]);
    await as('a', 26);
    await as('a', 26);
    expect(crossed).toEqual([
      ['per-user[a]', 0.5, 60],
      ['per-user[a]', 0.75, 90],
      ['per-user[a]', 0.9, 90],
    ]);
    // a's last call: 10 tokens left, it reserves 4 + 6 and uses them all: 1, the fuse opens.
    await as('a', 6);
    expect(crossed.at(-1)).toEqual(['per-user[a]', 1, 100]);
    expect(trips).toEqual(['per-user[a]']);
    await rejection(as('a', 1));

    const m = await h.scrape();
    expect(
      select(m, 'tokenfuse_budget_top_utilization')
        .map((s) => [s.labels.budget, s.labels.key, s.value])
        .sort(),
    ).toEqual([
      ['per-user', 'a', 1],
      ['per-user', 'b', 0.2],
    ]);
    expect(
      Object.fromEntries(
        select(m, 'tokenfuse_budget_values').map((s) => [s.labels.state, s.value]),
      ),
    ).toEqual({ tracked: 2, near: 1, over: 1, open: 1 });
    expect(llm.requests.length).toBe(5);
  });
});
