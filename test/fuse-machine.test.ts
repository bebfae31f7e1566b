// The fuse state machine, one case table (test/helpers/fuse-cases.ts), three
// implementations: the pure machine, the in-memory store built on it, and the Redis
// store's Lua scripts on a real redis-server. Every step must show the same decisions,
// transitions and fuse records in all three. Time is the `now` each step passes.
import { describe, expect, it } from 'vitest';
import { type Amounts, type Budget, normalizeBudget } from '../src/budgets/budget.js';
import { type Account, windowAt } from '../src/budgets/rules.js';
import { resolveConfig } from '../src/config/resolved-config.js';
import { closedFuse, type FuseRecord, type FuseState } from '../src/fuses/fuse.js';
import { admitCall, type FuseEvent, stepFuse } from '../src/fuses/fuse-machine.js';
import type {
  BudgetDecision,
  BudgetState,
  FuseStore,
  Transition,
} from '../src/fuses/fuse-store.js';
import { MemoryFuseStore } from '../src/fuses/stores/memory.js';
import { RedisFuseStore } from '../src/fuses/stores/redis/store.js';
import { CASE_BUDGETS, CASE_DAY, FUSE_CASES, type FuseCaseStep } from './helpers/fuse-cases.js';
import { useRedisServer } from './helpers/redis.js';

/** What a step shows, in the table's terms. */
interface Seen {
  admitted?: boolean;
  decisions?: string[];
  /** Tokens [spent, reserved]; the pure machine keeps no ledger and shows none. */
  accounts?: Array<[number, number]>;
  /** Thresholds crossed by a settlement: the stores' part, beside the machine. */
  crossed?: number[][];
  transitions: string[];
  fuses: FuseRecord[];
}

interface Driver {
  admit(
    budgets: Budget[],
    amounts: Amounts,
    now: number,
    accounts: Account[],
  ): Promise<{ seen: Seen; ticket: unknown }>;
  settle(
    budgets: Budget[],
    ticket: unknown,
    actual: Amounts,
    now: number,
    accounts: Account[],
  ): Promise<Seen>;
  /** Spend with no admission behind it (a call seen only in a span). */
  observe(budgets: Budget[], actual: Amounts, now: number, accounts: Account[]): Promise<Seen>;
  control(budget: Budget, op: 'isolate' | 'reset', now: number): Promise<Seen>;
  read(budgets: Budget[], now: number): Promise<Seen>;
  close(): Promise<void>;
}

const showTransitions = (ts: Transition[]) =>
  ts.map((t) => `${t.budget}: ${t.from} -> ${t.to} (${t.cause})`);
const showDecision = (d: BudgetDecision) => (d.kind === 'block' ? `block:${d.reason}` : d.kind);

/** A driver over a FuseStore: the in-memory store and the Redis store alike. */
function storeDriver(store: FuseStore): Driver {
  const show = (states: BudgetState[], transitions: Transition[]): Seen => ({
    accounts: states.map((s) => [s.spent.tokens, s.reserved.tokens]),
    transitions: showTransitions(transitions),
    fuses: states.map((s) => s.fuse),
  });
  return {
    async admit(budgets, amounts, now) {
      const outcome = await store.admit({
        now,
        entries: budgets.map((budget) => ({ budget, amounts })),
      });
      if (outcome.kind !== 'decided') throw outcome.error;
      return {
        seen: {
          admitted: outcome.admitted,
          decisions: outcome.decisions.map(showDecision),
          ...show(outcome.states, outcome.transitions),
        },
        ticket: outcome.ticket,
      };
    },
    async settle(budgets, ticket, actual, now) {
      const outcome = await store.settle({ now, budgets, ticket, actual });
      if (outcome === undefined) throw new Error('the store did not settle');
      return { ...show(outcome.states, outcome.transitions), crossed: outcome.crossed };
    },
    async observe(budgets, actual, now) {
      const id = `observed-${now}`;
      const outcome = await store.observe({ now, budgets, id, actual });
      if (outcome === undefined) throw new Error('the store did not record the spend');
      return { ...show(outcome.states, outcome.transitions), crossed: outcome.crossed };
    },
    async control(budget, op, now) {
      const outcome = await store.control(budget, op, now);
      return { ...show(outcome.states, outcome.transitions), accounts: undefined };
    },
    async read(budgets, now) {
      const outcome = await store.read(budgets, now);
      return show(outcome.states, outcome.transitions);
    },
    close: () => store.close(),
  };
}

/**
 * The pure machine alone, fed the accounts the table states. Records it keeps are
 * frozen: an event that changed the record it was given would throw.
 */
function machineDriver(): Driver {
  const fuses = new Map<string, FuseRecord>();
  const fuseOf = (b: Budget) => fuses.get(b.name) ?? Object.freeze(closedFuse());
  const keep = (b: Budget, f: FuseRecord) => fuses.set(b.name, Object.freeze(f));
  const step = (b: Budget, event: FuseEvent, now: number, out: Transition[]) => {
    const next = stepFuse(fuseOf(b), event, b, now);
    keep(b, next.fuse);
    out.push(...next.transitions);
    return next.fuse;
  };
  return {
    async admit(budgets, _amounts, now, accounts) {
      const call = admitCall(
        budgets.map((budget, i) => ({
          budget,
          fuse: fuseOf(budget),
          account: accounts[i]!,
          windowStart: windowAt(budget, now).start,
        })),
        now,
      );
      budgets.forEach((b, i) => {
        keep(b, call.fuses[i]!);
      });
      return {
        seen: {
          admitted: call.admitted,
          decisions: call.decisions.map(showDecision),
          transitions: showTransitions(call.transitions),
          fuses: call.decided,
        },
        ticket: call.probes,
      };
    },
    async settle(budgets, ticket, _actual, now, accounts) {
      const probes = ticket as boolean[];
      const transitions: Transition[] = [];
      const after = budgets.map((b, i) =>
        step(
          b,
          {
            type: 'settle',
            account: accounts[i]!,
            windowStart: windowAt(b, now).start,
            probe: probes[i]!,
          },
          now,
          transitions,
        ),
      );
      return { transitions: showTransitions(transitions), fuses: after };
    },
    async observe(budgets, _actual, now, accounts) {
      // Spend recorded without an admission: a settlement that held no probe slot.
      return this.settle(
        budgets,
        budgets.map(() => false),
        _actual,
        now,
        accounts,
      );
    },
    async control(budget, op, now) {
      const transitions: Transition[] = [];
      const event: FuseEvent =
        op === 'isolate'
          ? { type: 'isolate', windowStart: windowAt(budget, now).start }
          : { type: 'reset' };
      const fuse = step(budget, event, now, transitions);
      return { transitions: showTransitions(transitions), fuses: [fuse] };
    },
    async read(budgets, now) {
      const transitions: Transition[] = [];
      const after = budgets.map((b) =>
        step(b, { type: 'roll', windowStart: windowAt(b, now).start }, now, transitions),
      );
      return { transitions: showTransitions(transitions), fuses: after };
    },
    close: async () => {},
  };
}

const at = (time: string) => Date.parse(`${CASE_DAY}T${time.length === 5 ? `${time}:00` : time}Z`);
const tokens = (n: number): Amounts => ({ tokens: n, usd: 0, requests: 1 });
const account = ([spent, reserved]: [number, number]): Account => ({
  spent: { tokens: spent, usd: 0, requests: 0 },
  reserved: { tokens: reserved, usd: 0, requests: 0 },
});

function budgetsOf(step: FuseCaseStep): Budget[] {
  return step.budgets.map((name) => {
    const options = CASE_BUDGETS.find((b) => b.name === name);
    if (options === undefined) throw new Error(`no case budget ${name}`);
    const budget = normalizeBudget(options);
    return step.limit === undefined ? budget : { ...budget, limit: { tokens: step.limit } };
  });
}

/** `open isolated trips=1 at=10:01 left=2 flight=1` as a record. */
function parseFuse(text: string, budget: Budget): FuseRecord {
  const [state, ...rest] = text.split(' ');
  const fuse = { ...closedFuse(), state: state as FuseState };
  for (const word of rest) {
    const [key, value = ''] = word.split('=');
    if (key === 'isolated') fuse.isolated = true;
    else if (key === 'trips') fuse.trips = Number(value);
    else if (key === 'left') fuse.probesLeft = Number(value);
    else if (key === 'flight') fuse.probesInFlight = Number(value);
    else if (key === 'at') {
      fuse.openedAt = at(value);
      // Tripping and isolating record the window they happened in.
      fuse.openedInWindow = windowAt(budget, fuse.openedAt).start;
    } else throw new Error(`unknown fuse word ${word}`);
  }
  return fuse;
}

function expected(step: FuseCaseStep, budgets: Budget[], seen: Seen): Seen {
  const e = step.expect;
  return {
    ...('admitted' in e ? { admitted: e.admitted, decisions: e.decisions } : {}),
    // Checked where the driver shows accounts (the stores); control shows none.
    accounts: seen.accounts === undefined ? undefined : e.accounts,
    ...(seen.crossed !== undefined && 'crossed' in e ? { crossed: e.crossed } : {}),
    transitions: e.transitions,
    fuses: e.fuses.map((f, i) => parseFuse(f, budgets[i]!)),
  };
}

async function run(driver: Driver, steps: FuseCaseStep[]): Promise<void> {
  const tickets = new Map<string, unknown>();
  try {
    for (const step of steps) {
      const budgets = budgetsOf(step);
      const now = at(step.at);
      const accounts = (step.expect.accounts ?? []).map(account);
      let seen: Seen;
      if (step.op === 'admit') {
        const admitted = await driver.admit(budgets, tokens(step.tokens), now, accounts);
        seen = admitted.seen;
        if (step.id !== undefined) tickets.set(step.id, admitted.ticket);
      } else if (step.op === 'settle') {
        if (!tickets.has(step.id)) throw new Error(`no admission ${step.id}`);
        seen = await driver.settle(
          budgets,
          tickets.get(step.id),
          tokens(step.tokens),
          now,
          accounts,
        );
      } else if (step.op === 'observe') {
        seen = await driver.observe(budgets, tokens(step.tokens), now, accounts);
      } else if (step.op === 'read') {
        seen = await driver.read(budgets, now);
      } else {
        seen = await driver.control(budgets[0]!, step.op, now);
      }
      expect(seen, `${step.at} ${step.op} ${step.budgets.join(',')}`).toEqual(
        expected(step, budgets, seen),
      );
    }
  } finally {
    await driver.close();
  }
}

const redis = useRedisServer();
let prefixes = 0;

const drivers: Record<string, () => Driver> = {
  'the pure machine': machineDriver,
  'the in-memory store': () => storeDriver(new MemoryFuseStore()),
  'the Redis store': () =>
    storeDriver(
      new RedisFuseStore(
        resolveConfig(
          {
            ledger: {
              store: 'redis',
              url: redis.url,
              keyPrefix: `tf-machine-${process.pid}-${++prefixes}:`,
              timeoutMs: 5000,
            },
          },
          { env: {} },
        ).ledger,
      ),
    ),
};

describe.each(Object.keys(drivers))('the fuse case table against %s', (name) => {
  it.each(FUSE_CASES.map((c) => [c.name, c.steps] as const))('%s', async (_, steps) => {
    await run(drivers[name]!(), steps);
  });
});
