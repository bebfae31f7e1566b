// One table of fuse scenarios, run by test/fuse-machine.test.ts against the pure
// machine (src/fuses/fuse-machine.ts), the in-memory store and the Redis store (its Lua
// scripts): the same steps, the same expected transitions and fuse records.
//
// Limits are in tokens. A step's `accounts` are the budget's tokens [spent, reserved]
// as the store reports them: before the call's reservation for `admit`, after the
// spend for `settle`. The stores are checked against them; the pure machine, which
// keeps no ledger, is fed them.
//
// A fuse is written `state key=value …`: `trips` (times opened), `at` (when it last
// opened, HH:MM[:SS] on the cases' day), `left` / `flight` (probe slots left / in
// flight), and the flag `isolated`; what is not written is 0 (false). A settlement
// also states the thresholds it crosses per budget (the stores' part: settled spend,
// once per window), which the stores are checked against.
import type { BudgetOptions } from '../../src/types.js';

/** The cases' day (UTC); steps give the time of day. */
export const CASE_DAY = '2026-11-23';

type Decision =
  | 'admit'
  | 'probe'
  | 'block:limit_reached'
  | 'block:reserved'
  | 'block:probing'
  | 'block:isolated';

interface Expected {
  /** Per budget of the step, in order. */
  fuses: string[];
  /** `budget: from -> to (cause)`, in the order the store made them. */
  transitions: string[];
  accounts?: Array<[spent: number, reserved: number]>;
}

export type FuseCaseStep = { at: string; budgets: string[]; limit?: number } & (
  | {
      op: 'admit';
      /** Names the admission for a later `settle`. */
      id?: string;
      /** Tokens reserved in every budget. */
      tokens: number;
      expect: Expected & { admitted: boolean; decisions: Decision[] };
    }
  | {
      op: 'settle';
      id: string;
      tokens: number;
      /** Thresholds each budget crosses (settled spend; once per window). */
      expect: Expected & { crossed: number[][] };
    }
  | {
      /** Spend no admission reserved: a call seen only in another instrumentation's span. */
      op: 'observe';
      tokens: number;
      expect: Expected & { crossed: number[][] };
    }
  | { op: 'isolate' | 'reset' | 'read'; expect: Expected }
);

export interface FuseCase {
  name: string;
  steps: FuseCaseStep[];
}

/** The budgets the cases use (`limit` of a step overrides their token limit). */
export const CASE_BUDGETS: BudgetOptions[] = [
  { name: 'hourly', window: 'hour', limit: { tokens: 20 }, cooldown: '5m', probes: 2 },
  { name: 'daily', window: 'day', limit: { tokens: 20 }, cooldown: '5m', probes: 2 },
  {
    name: 'rolling',
    window: { rolling: '10m' },
    limit: { tokens: 20 },
    cooldown: '1m',
    probes: 2,
  },
  { name: 'trial', window: 'hour', limit: { tokens: 20 }, action: 'monitor' },
];

/** The default thresholds, all crossed at once. */
const ALL = [0.5, 0.75, 0.9, 1];
const H = ['hourly'];
const R = ['rolling'];
const T = ['trial'];

// biome-ignore format: a table, one step a line or two, reads better than one field a line
export const FUSE_CASES: FuseCase[] = [
  {
    name: 'closed → open when a settlement reaches the limit; stays open, after the cool-down too',
    steps: [
      { at: '10:00', op: 'admit', budgets: H, id: 'a', tokens: 10,
        expect: { admitted: true, decisions: ['admit'], accounts: [[0, 0]], transitions: [], fuses: ['closed'] } },
      { at: '10:01', op: 'settle', budgets: H, id: 'a', tokens: 20,
        expect: { accounts: [[20, 0]], crossed: [ALL], transitions: ['hourly: closed -> open (trip)'], fuses: ['open trips=1 at=10:01'] } },
      { at: '10:02', op: 'admit', budgets: H, tokens: 1,
        expect: { admitted: false, decisions: ['block:limit_reached'], accounts: [[20, 0]], transitions: [], fuses: ['open trips=1 at=10:01'] } },
      // The cool-down is over, but the spend is still in the window: no probes.
      { at: '10:30', op: 'admit', budgets: H, tokens: 1,
        expect: { admitted: false, decisions: ['block:limit_reached'], accounts: [[20, 0]], transitions: [], fuses: ['open trips=1 at=10:01'] } },
    ],
  },
  {
    name: 'room held by calls in flight is refused as reserved, without a trip',
    steps: [
      { at: '10:00', op: 'admit', budgets: H, id: 'a', tokens: 15,
        expect: { admitted: true, decisions: ['admit'], accounts: [[0, 0]], transitions: [], fuses: ['closed'] } },
      { at: '10:00', op: 'admit', budgets: H, id: 'b', tokens: 5,
        expect: { admitted: true, decisions: ['admit'], accounts: [[0, 15]], transitions: [], fuses: ['closed'] } },
      { at: '10:00', op: 'admit', budgets: H, tokens: 1,
        expect: { admitted: false, decisions: ['block:reserved'], accounts: [[0, 20]], transitions: [], fuses: ['closed'] } },
      { at: '10:01', op: 'settle', budgets: H, id: 'a', tokens: 3,
        expect: { accounts: [[3, 5]], crossed: [[]], transitions: [], fuses: ['closed'] } },
      { at: '10:01', op: 'admit', budgets: H, id: 'c', tokens: 1,
        expect: { admitted: true, decisions: ['admit'], accounts: [[3, 5]], transitions: [], fuses: ['closed'] } },
      { at: '10:02', op: 'settle', budgets: H, id: 'b', tokens: 4,
        expect: { accounts: [[7, 1]], crossed: [[]], transitions: [], fuses: ['closed'] } },
      { at: '10:02', op: 'settle', budgets: H, id: 'c', tokens: 1,
        expect: { accounts: [[8, 0]], crossed: [[]], transitions: [], fuses: ['closed'] } },
    ],
  },
  {
    name: 'reset closes it by hand; a call that finds the limit reached trips it at admission',
    steps: [
      { at: '10:00', op: 'admit', budgets: H, id: 'a', tokens: 5,
        expect: { admitted: true, decisions: ['admit'], accounts: [[0, 0]], transitions: [], fuses: ['closed'] } },
      { at: '10:01', op: 'settle', budgets: H, id: 'a', tokens: 20,
        expect: { accounts: [[20, 0]], crossed: [ALL], transitions: ['hourly: closed -> open (trip)'], fuses: ['open trips=1 at=10:01'] } },
      { at: '10:02', op: 'reset', budgets: H,
        expect: { transitions: ['hourly: open -> closed (manual)'], fuses: ['closed trips=1 at=10:01'] } },
      { at: '10:03', op: 'admit', budgets: H, tokens: 1,
        expect: { admitted: false, decisions: ['block:limit_reached'], accounts: [[20, 0]], transitions: ['hourly: closed -> open (trip)'], fuses: ['open trips=2 at=10:03'] } },
    ],
  },
  {
    name: 'a new calendar window closes an open fuse (a read rolls it too)',
    steps: [
      { at: '10:50', op: 'admit', budgets: H, id: 'a', tokens: 5,
        expect: { admitted: true, decisions: ['admit'], accounts: [[0, 0]], transitions: [], fuses: ['closed'] } },
      { at: '10:51', op: 'settle', budgets: H, id: 'a', tokens: 25,
        expect: { accounts: [[25, 0]], crossed: [ALL], transitions: ['hourly: closed -> open (trip)'], fuses: ['open trips=1 at=10:51'] } },
      { at: '10:59:59', op: 'read', budgets: H,
        expect: { accounts: [[25, 0]], transitions: [], fuses: ['open trips=1 at=10:51'] } },
      { at: '11:00', op: 'read', budgets: H,
        expect: { accounts: [[0, 0]], transitions: ['hourly: open -> closed (window)'], fuses: ['closed trips=1 at=10:51'] } },
      { at: '11:01', op: 'admit', budgets: H, id: 'b', tokens: 5,
        expect: { admitted: true, decisions: ['admit'], accounts: [[0, 0]], transitions: [], fuses: ['closed trips=1 at=10:51'] } },
      { at: '11:02', op: 'settle', budgets: H, id: 'b', tokens: 5,
        expect: { accounts: [[5, 0]], crossed: [[]], transitions: [], fuses: ['closed trips=1 at=10:51'] } },
    ],
  },
  {
    name: 'isolate opens it by hand and holds it through a new window until reset',
    steps: [
      { at: '10:10', op: 'isolate', budgets: H,
        expect: { transitions: ['hourly: closed -> open (isolate)'], fuses: ['open isolated at=10:10'] } },
      { at: '10:11', op: 'admit', budgets: H, tokens: 1,
        expect: { admitted: false, decisions: ['block:isolated'], accounts: [[0, 0]], transitions: [], fuses: ['open isolated at=10:10'] } },
      { at: '11:05', op: 'read', budgets: H,
        expect: { accounts: [[0, 0]], transitions: [], fuses: ['open isolated at=10:10'] } },
      { at: '11:06', op: 'admit', budgets: H, tokens: 1,
        expect: { admitted: false, decisions: ['block:isolated'], accounts: [[0, 0]], transitions: [], fuses: ['open isolated at=10:10'] } },
      { at: '11:07', op: 'reset', budgets: H,
        expect: { transitions: ['hourly: open -> closed (manual)'], fuses: ['closed at=10:10'] } },
      { at: '11:08', op: 'admit', budgets: H, id: 'a', tokens: 1,
        expect: { admitted: true, decisions: ['admit'], accounts: [[0, 0]], transitions: [], fuses: ['closed at=10:10'] } },
      { at: '11:09', op: 'settle', budgets: H, id: 'a', tokens: 1,
        expect: { accounts: [[1, 0]], crossed: [[]], transitions: [], fuses: ['closed at=10:10'] } },
    ],
  },
  {
    name: 'isolating a fuse the limit opened changes no state; reset closes it',
    steps: [
      { at: '10:00', op: 'admit', budgets: H, id: 'a', tokens: 5,
        expect: { admitted: true, decisions: ['admit'], accounts: [[0, 0]], transitions: [], fuses: ['closed'] } },
      { at: '10:01', op: 'settle', budgets: H, id: 'a', tokens: 20,
        expect: { accounts: [[20, 0]], crossed: [ALL], transitions: ['hourly: closed -> open (trip)'], fuses: ['open trips=1 at=10:01'] } },
      { at: '10:02', op: 'isolate', budgets: H,
        expect: { transitions: [], fuses: ['open isolated trips=1 at=10:01'] } },
      { at: '11:00', op: 'admit', budgets: H, tokens: 1,
        expect: { admitted: false, decisions: ['block:isolated'], accounts: [[0, 0]], transitions: [], fuses: ['open isolated trips=1 at=10:01'] } },
      { at: '11:01', op: 'reset', budgets: H,
        expect: { transitions: ['hourly: open -> closed (manual)'], fuses: ['closed trips=1 at=10:01'] } },
    ],
  },
  {
    name: 'cool-down → half-open once the spend leaves the window; probes up to the limit; the last good probe closes it',
    steps: [
      { at: '10:00', op: 'admit', budgets: R, id: 'a', tokens: 5,
        expect: { admitted: true, decisions: ['admit'], accounts: [[0, 0]], transitions: [], fuses: ['closed'] } },
      { at: '10:00', op: 'settle', budgets: R, id: 'a', tokens: 20,
        expect: { accounts: [[20, 0]], crossed: [ALL], transitions: ['rolling: closed -> open (trip)'], fuses: ['open trips=1 at=10:00'] } },
      { at: '10:00:30', op: 'admit', budgets: R, tokens: 1,
        expect: { admitted: false, decisions: ['block:limit_reached'], accounts: [[20, 0]], transitions: [], fuses: ['open trips=1 at=10:00'] } },
      { at: '10:01:30', op: 'admit', budgets: R, tokens: 1,
        expect: { admitted: false, decisions: ['block:limit_reached'], accounts: [[20, 0]], transitions: [], fuses: ['open trips=1 at=10:00'] } },
      // An admission reports the fuse after its decision, before it takes its probe slot.
      { at: '10:11', op: 'admit', budgets: R, id: 'p1', tokens: 5,
        expect: { admitted: true, decisions: ['probe'], accounts: [[0, 0]], transitions: ['rolling: open -> half_open (cooldown)'], fuses: ['half_open trips=1 at=10:00 left=2'] } },
      { at: '10:11', op: 'admit', budgets: R, id: 'p2', tokens: 5,
        expect: { admitted: true, decisions: ['probe'], accounts: [[0, 5]], transitions: [], fuses: ['half_open trips=1 at=10:00 left=1 flight=1'] } },
      { at: '10:11', op: 'admit', budgets: R, tokens: 1,
        expect: { admitted: false, decisions: ['block:probing'], accounts: [[0, 10]], transitions: [], fuses: ['half_open trips=1 at=10:00 flight=2'] } },
      { at: '10:12', op: 'settle', budgets: R, id: 'p1', tokens: 3,
        expect: { accounts: [[3, 5]], crossed: [[]], transitions: [], fuses: ['half_open trips=1 at=10:00 flight=1'] } },
      { at: '10:12', op: 'settle', budgets: R, id: 'p2', tokens: 3,
        expect: { accounts: [[6, 0]], crossed: [[]], transitions: ['rolling: half_open -> closed (room)'], fuses: ['closed trips=1 at=10:00'] } },
      // The last settlement saw the spend below every threshold: a rolling window's fire again.
      { at: '10:13', op: 'admit', budgets: R, id: 'c', tokens: 5,
        expect: { admitted: true, decisions: ['admit'], accounts: [[6, 0]], transitions: [], fuses: ['closed trips=1 at=10:00'] } },
      { at: '10:14', op: 'settle', budgets: R, id: 'c', tokens: 10,
        expect: { accounts: [[16, 0]], crossed: [[0.5, 0.75]], transitions: [], fuses: ['closed trips=1 at=10:00'] } },
    ],
  },
  {
    name: 'a probe holding the room refuses the next as reserved; a probe that reaches the limit opens it again',
    steps: [
      { at: '10:00', op: 'admit', budgets: R, id: 'a', tokens: 5,
        expect: { admitted: true, decisions: ['admit'], accounts: [[0, 0]], transitions: [], fuses: ['closed'] } },
      { at: '10:00', op: 'settle', budgets: R, id: 'a', tokens: 20,
        expect: { accounts: [[20, 0]], crossed: [ALL], transitions: ['rolling: closed -> open (trip)'], fuses: ['open trips=1 at=10:00'] } },
      { at: '10:11', op: 'admit', budgets: R, id: 'p1', tokens: 20,
        expect: { admitted: true, decisions: ['probe'], accounts: [[0, 0]], transitions: ['rolling: open -> half_open (cooldown)'], fuses: ['half_open trips=1 at=10:00 left=2'] } },
      { at: '10:11', op: 'admit', budgets: R, tokens: 1,
        expect: { admitted: false, decisions: ['block:reserved'], accounts: [[0, 20]], transitions: [], fuses: ['half_open trips=1 at=10:00 left=1 flight=1'] } },
      { at: '10:12', op: 'settle', budgets: R, id: 'p1', tokens: 21,
        expect: { accounts: [[21, 0]], crossed: [[]], transitions: ['rolling: half_open -> open (trip)'], fuses: ['open trips=2 at=10:12'] } },
      { at: '10:18', op: 'admit', budgets: R, tokens: 1,
        expect: { admitted: false, decisions: ['block:limit_reached'], accounts: [[21, 0]], transitions: [], fuses: ['open trips=2 at=10:12'] } },
    ],
  },
  {
    name: 'a raised limit half-opens a calendar fuse after the cool-down; lowered again, the half-open fuse trips at admission',
    steps: [
      { at: '10:00', op: 'admit', budgets: H, id: 'a', tokens: 5,
        expect: { admitted: true, decisions: ['admit'], accounts: [[0, 0]], transitions: [], fuses: ['closed'] } },
      { at: '10:01', op: 'settle', budgets: H, id: 'a', tokens: 20,
        expect: { accounts: [[20, 0]], crossed: [ALL], transitions: ['hourly: closed -> open (trip)'], fuses: ['open trips=1 at=10:01'] } },
      // Room again, but the cool-down (5 min) is not over.
      { at: '10:03', op: 'admit', budgets: H, limit: 40, tokens: 5,
        expect: { admitted: false, decisions: ['block:limit_reached'], accounts: [[20, 0]], transitions: [], fuses: ['open trips=1 at=10:01'] } },
      { at: '10:07', op: 'admit', budgets: H, limit: 40, id: 'p', tokens: 5,
        expect: { admitted: true, decisions: ['probe'], accounts: [[20, 0]], transitions: ['hourly: open -> half_open (cooldown)'], fuses: ['half_open trips=1 at=10:01 left=2'] } },
      { at: '10:08', op: 'admit', budgets: H, limit: 15, tokens: 1,
        expect: { admitted: false, decisions: ['block:limit_reached'], accounts: [[20, 5]], transitions: ['hourly: half_open -> open (trip)'], fuses: ['open trips=2 at=10:08 flight=1'] } },
      { at: '10:09', op: 'settle', budgets: H, limit: 15, id: 'p', tokens: 1,
        expect: { accounts: [[21, 0]], crossed: [[]], transitions: [], fuses: ['open trips=2 at=10:08'] } },
    ],
  },
  {
    name: 'spend observed without a reservation crosses thresholds and trips; it holds no probe slot, so it closes nothing',
    steps: [
      { at: '10:00', op: 'observe', budgets: R, tokens: 12,
        expect: { accounts: [[12, 0]], crossed: [[0.5]], transitions: [], fuses: ['closed'] } },
      { at: '10:00', op: 'admit', budgets: R, id: 'a', tokens: 5,
        expect: { admitted: true, decisions: ['admit'], accounts: [[12, 0]], transitions: [], fuses: ['closed'] } },
      { at: '10:01', op: 'observe', budgets: R, tokens: 9,
        expect: { accounts: [[21, 5]], crossed: [[0.75, 0.9, 1]], transitions: ['rolling: closed -> open (trip)'], fuses: ['open trips=1 at=10:01'] } },
      { at: '10:01:30', op: 'admit', budgets: R, tokens: 1,
        expect: { admitted: false, decisions: ['block:limit_reached'], accounts: [[21, 5]], transitions: [], fuses: ['open trips=1 at=10:01'] } },
      { at: '10:02', op: 'settle', budgets: R, id: 'a', tokens: 2,
        expect: { accounts: [[23, 0]], crossed: [[]], transitions: [], fuses: ['open trips=1 at=10:01'] } },
      { at: '10:13', op: 'admit', budgets: R, id: 'p', tokens: 5,
        expect: { admitted: true, decisions: ['probe'], accounts: [[0, 0]], transitions: ['rolling: open -> half_open (cooldown)'], fuses: ['half_open trips=1 at=10:01 left=2'] } },
      { at: '10:13:30', op: 'observe', budgets: R, tokens: 3,
        expect: { accounts: [[3, 5]], crossed: [[]], transitions: [], fuses: ['half_open trips=1 at=10:01 left=1 flight=1'] } },
      { at: '10:14', op: 'settle', budgets: R, id: 'p', tokens: 2,
        expect: { accounts: [[5, 0]], crossed: [[]], transitions: ['rolling: half_open -> closed (room)'], fuses: ['closed trips=1 at=10:01'] } },
    ],
  },
  {
    name: 'monitor mode never blocks, but reports the decision and trips',
    steps: [
      { at: '10:00', op: 'admit', budgets: T, id: 'a', tokens: 5,
        expect: { admitted: true, decisions: ['admit'], accounts: [[0, 0]], transitions: [], fuses: ['closed'] } },
      { at: '10:01', op: 'settle', budgets: T, id: 'a', tokens: 20,
        expect: { accounts: [[20, 0]], crossed: [ALL], transitions: ['trial: closed -> open (trip)'], fuses: ['open trips=1 at=10:01'] } },
      { at: '10:02', op: 'admit', budgets: T, id: 'b', tokens: 5,
        expect: { admitted: true, decisions: ['block:limit_reached'], accounts: [[20, 0]], transitions: [], fuses: ['open trips=1 at=10:01'] } },
      { at: '10:03', op: 'settle', budgets: T, id: 'b', tokens: 5,
        expect: { accounts: [[25, 0]], crossed: [[]], transitions: [], fuses: ['open trips=1 at=10:01'] } },
      { at: '10:04', op: 'reset', budgets: T,
        expect: { transitions: ['trial: open -> closed (manual)'], fuses: ['closed trips=1 at=10:01'] } },
      { at: '10:05', op: 'admit', budgets: T, id: 'c', tokens: 5,
        expect: { admitted: true, decisions: ['block:limit_reached'], accounts: [[25, 0]], transitions: ['trial: closed -> open (trip)'], fuses: ['open trips=2 at=10:05'] } },
      { at: '10:06', op: 'isolate', budgets: T,
        expect: { transitions: [], fuses: ['open isolated trips=2 at=10:05'] } },
      { at: '10:07', op: 'admit', budgets: T, id: 'd', tokens: 5,
        expect: { admitted: true, decisions: ['block:isolated'], accounts: [[25, 5]], transitions: [], fuses: ['open isolated trips=2 at=10:05'] } },
      { at: '10:08', op: 'settle', budgets: T, id: 'c', tokens: 1,
        expect: { accounts: [[26, 5]], crossed: [[]], transitions: [], fuses: ['open isolated trips=2 at=10:05'] } },
      { at: '10:08', op: 'settle', budgets: T, id: 'd', tokens: 1,
        expect: { accounts: [[27, 0]], crossed: [[]], transitions: [], fuses: ['open isolated trips=2 at=10:05'] } },
    ],
  },
  {
    name: 'a call is admitted against all its budgets or none: rolls and cool-downs first, then trips',
    steps: [
      { at: '10:50', op: 'admit', budgets: ['daily', 'hourly'], id: 'a', tokens: 5,
        expect: { admitted: true, decisions: ['admit', 'admit'], accounts: [[0, 0], [0, 0]], transitions: [], fuses: ['closed', 'closed'] } },
      { at: '10:51', op: 'settle', budgets: ['daily', 'hourly'], id: 'a', tokens: 20,
        expect: {
          crossed: [ALL, ALL],
          accounts: [[20, 0], [20, 0]],
          transitions: ['daily: closed -> open (trip)', 'hourly: closed -> open (trip)'],
          fuses: ['open trips=1 at=10:51', 'open trips=1 at=10:51'],
        } },
      { at: '10:52', op: 'reset', budgets: ['daily'],
        expect: { transitions: ['daily: open -> closed (manual)'], fuses: ['closed trips=1 at=10:51'] } },
      { at: '11:00', op: 'admit', budgets: ['daily', 'hourly'], tokens: 1,
        expect: {
          admitted: false,
          decisions: ['block:limit_reached', 'admit'],
          accounts: [[20, 0], [0, 0]],
          transitions: ['hourly: open -> closed (window)', 'daily: closed -> open (trip)'],
          fuses: ['open trips=2 at=11:00', 'closed trips=1 at=10:51'],
        } },
      // The refused call took no reservation in the budget that had room.
      { at: '11:01', op: 'admit', budgets: H, id: 'b', tokens: 1,
        expect: { admitted: true, decisions: ['admit'], accounts: [[0, 0]], transitions: [], fuses: ['closed trips=1 at=10:51'] } },
      { at: '11:02', op: 'settle', budgets: H, id: 'b', tokens: 1,
        expect: { accounts: [[1, 0]], crossed: [[]], transitions: [], fuses: ['closed trips=1 at=10:51'] } },
      // A monitor budget that would block refuses nothing: the call passes, reserving in both.
      { at: '11:03', op: 'admit', budgets: T, id: 'c', tokens: 1,
        expect: { admitted: true, decisions: ['admit'], accounts: [[0, 0]], transitions: [], fuses: ['closed'] } },
      { at: '11:04', op: 'settle', budgets: T, id: 'c', tokens: 20,
        expect: { accounts: [[20, 0]], crossed: [ALL], transitions: ['trial: closed -> open (trip)'], fuses: ['open trips=1 at=11:04'] } },
      { at: '11:05', op: 'admit', budgets: ['trial', 'hourly'], id: 'd', tokens: 1,
        expect: {
          admitted: true,
          decisions: ['block:limit_reached', 'admit'],
          accounts: [[20, 0], [1, 0]],
          transitions: [],
          fuses: ['open trips=1 at=11:04', 'closed trips=1 at=10:51'],
        } },
      { at: '11:06', op: 'settle', budgets: ['trial', 'hourly'], id: 'd', tokens: 2,
        expect: {
          crossed: [[], []],
          accounts: [[22, 0], [3, 0]],
          transitions: [],
          fuses: ['open trips=1 at=11:04', 'closed trips=1 at=10:51'],
        } },
    ],
  },
];
