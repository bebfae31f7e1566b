/**
 * The wire format between the Redis store and its Lua scripts (lua.ts documents
 * the keys and payloads): budgets encoded with their current window's keys, and
 * the scripts' JSON replies decoded into store outcomes.
 */
import { type Amounts, type Budget, windowLabel } from '../../../budgets/budget.js';
import { bucketSize, windowAt } from '../../../budgets/rules.js';
import type { FuseState } from '../../fuse.js';
import type { BudgetDecision, BudgetState, Transition, TransitionCause } from '../../fuse-store.js';

/** Window keys outlive their window by this much (clock skew between replicas, late settlements). */
const KEY_MARGIN_MS = 10 * 60_000;
/** A reservation not settled within this long is released (its process most likely died). */
export const LEASE_MS = 60 * 60_000;
/** A reservation record is kept this long, so a late settlement still finds it. */
export const RESERVATION_TTL_MS = 2 * LEASE_MS;
/** An observed spend's id is kept this long, so a reconciled retry still finds it. */
export const OBSERVED_TTL_MS = 24 * 60 * 60_000;

/** A budget as the scripts take it: the current window's keys and numbers (see lua.ts). */
export interface ScriptBudget {
  name: string;
  acct: string;
  fuse: string;
  thr: string;
  rolling: boolean;
  ws: number;
  bms: number;
  bucket: number;
  exp: number;
  lim: [number, number, number];
  cool: number;
  probes: number;
  th: number[];
  mode: 'block' | 'monitor';
  /** A per-value budget's fuse key expires with its window (others are kept: they are few). */
  fexp?: number;
}

/** One update the reconciliation script applies (see RECONCILE in lua.ts). */
export type ReconcileOp =
  /** `budgets`: where the reservation was taken (a cluster routes the cancellation by them). */
  | { op: 'cancel'; rid: string; budgets?: ScriptBudget[] }
  | { op: 'spend'; actual: number[]; budgets: ScriptBudget[] }
  | {
      op: 'settle';
      rid: string;
      cond: boolean;
      actual: number[];
      budgets: ScriptBudget[];
      /** Spend with no reservation (observed): its id is claimed for this long, so it counts once. */
      obs?: number;
    };

/** A budget's state as a script answers it: numbers as `%.17g` strings. */
export interface WireState {
  name: string;
  s: string[];
  r: string[];
  f: [FuseState, string, string, string, string, string, string];
  /** Raised by hand this window (`g:*`). */
  g?: string[];
}
export type WireTransition = [string, FuseState, FuseState, TransitionCause];

/** ADMIT's reply. */
export interface AdmitReply {
  a: number;
  d: Array<[BudgetDecision['kind'], string]>;
  st: WireState[];
  tr: WireTransition[] | object;
}

/** SETTLE's reply; without `st` when a retried settlement was skipped. */
export interface SettleReply {
  st?: WireState[];
  x?: Array<string[] | object>;
  tr?: WireTransition[] | object;
}

/** READ's and CONTROL's reply. */
export interface ReadReply {
  st: WireState[];
  tr: WireTransition[] | object;
}

/** RECONCILE's reply: empty lists arrive as objects (see {@link list}). */
export interface ReconcileReply {
  st?: WireState[] | object;
  tr?: WireTransition[] | object;
}

/** `budget` at `now`, with the keys of its current window under `prefix`. */
export function scriptBudget(budget: Budget, now: number, prefix: string): ScriptBudget {
  const rolling = budget.window.kind === 'rolling';
  const w = windowAt(budget, now);
  const label = windowLabel(budget.window);
  const bms = bucketSize(budget);
  const suffix = rolling ? `${budget.name}:${label}` : `${budget.name}:${label}:${w.start}`;
  return {
    name: budget.name,
    acct: `${prefix}a:${suffix}`,
    fuse: `${prefix}f:${budget.name}`,
    thr: `${prefix}t:${suffix}`,
    rolling,
    ws: w.start,
    bms,
    bucket: now - (now % bms),
    exp: (rolling ? now + windowLength(budget) : w.end) + KEY_MARGIN_MS,
    lim: [budget.limit.tokens ?? 0, budget.limit.usd ?? 0, budget.limit.requests ?? 0],
    cool: budget.cooldownMs,
    probes: budget.probes,
    th: budget.thresholds,
    mode: budget.action,
    ...(budget.instance === undefined
      ? {}
      : {
          fexp:
            Math.max(rolling ? now + windowLength(budget) : w.end, now + budget.cooldownMs) +
            KEY_MARGIN_MS,
        }),
  };
}

function windowLength(budget: Budget): number {
  return budget.window.kind === 'rolling' ? budget.window.durationMs : 0;
}

function amounts(values: string[]): Amounts {
  return { tokens: Number(values[0]), usd: Number(values[1]), requests: Number(values[2]) };
}

/** A state from a script; the window is the client's to know (time zones are resolved here). */
export function parseState(s: WireState, budget: Budget | undefined, now: number): BudgetState {
  const [state, isolated, openedAt, openedInWindow, probesLeft, probesInFlight, trips] = s.f;
  const w = budget ? windowAt(budget, now) : { start: 0, end: 0 };
  const granted = s.g === undefined ? undefined : amounts(s.g);
  return {
    ...(granted !== undefined && (granted.tokens || granted.usd || granted.requests)
      ? { granted }
      : {}),
    spent: amounts(s.s),
    reserved: amounts(s.r),
    windowStart: w.start,
    windowEnd: w.end,
    fuse: {
      state,
      isolated: Number(isolated) === 1,
      openedAt: Number(openedAt),
      openedInWindow: Number(openedInWindow),
      probesLeft: Number(probesLeft),
      probesInFlight: Number(probesInFlight),
      trips: Number(trips),
    },
  };
}

/**
 * A list from a script's reply: cjson encodes an empty Lua table as `{}`, so an empty
 * list arrives as an object (a reconciliation of spend and cancellations only has no states).
 */
export function list<T>(value: T[] | object | undefined): T[] {
  return Array.isArray(value) ? value : [];
}

export function parseTransitions(tr: WireTransition[] | object | undefined): Transition[] {
  if (!Array.isArray(tr)) return [];
  return tr.map(([budget, from, to, cause]) => ({ budget, from, to, cause }));
}

/** ADMIT's verdicts, per budget in request order. */
export function parseDecisions(d: AdmitReply['d']): BudgetDecision[] {
  return d.map(([kind, reason]) =>
    kind === 'block'
      ? { kind, reason: reason as Extract<BudgetDecision, { kind: 'block' }>['reason'] }
      : { kind },
  );
}

/** SETTLE's thresholds newly crossed, per budget (an empty list arrives as an object). */
export function parseCrossed(x: SettleReply['x']): number[][] {
  return (x ?? []).map((t) => (Array.isArray(t) ? t.map(Number) : []));
}

/** One lease written by LEASE (lease-lua.ts): amounts are [tokens, usd, requests]. */
export interface LeaseWrite {
  id: string;
  /** Numbers this write among the holder's writes of the lease. */
  w: number;
  b: ScriptBudget;
  spent: [number, number, number];
  used: [number, number, number];
  floor: [number, number, number];
  want: [number, number, number];
  min: [number, number, number];
  give?: 1 | undefined;
  prev?: { w: number; spent: [number, number, number] } | undefined;
}

/** LEASE's reply. */
export interface LeaseWireReply {
  l: Array<{ h: string[]; st: WireState; x: string[] | object; dm: number }>;
  tr?: WireTransition[] | object;
}

/** LEASE's reply, per lease in request order. */
export function parseLeases(
  reply: LeaseWireReply,
  writes: LeaseWrite[],
  budgets: Budget[],
  now: number,
) {
  return reply.l.map((l, i) => ({
    held: l.h.map(Number) as [number, number, number],
    state: parseState(l.st, budgets[i], now),
    crossed: Array.isArray(l.x) ? l.x.map(Number) : [],
    demand: l.dm === 1,
    id: writes[i]!.id,
  }));
}
