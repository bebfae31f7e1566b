/**
 * The Redis ledger's operator side (`tokenfuse fuses`, the admin endpoint, `fuses.reset`
 * and friends): reading budgets so that a failure is an error rather than the last
 * numbers seen, and the manual actions, atomic with the fleet's admissions.
 */
import { type Amounts, type Budget, UNITS } from '../../../budgets/budget.js';
import type { BudgetState, ManualAction, ManualNote, ReadOutcome } from '../../fuse-store.js';
import type { MemoryFuseStore } from '../memory.js';
import type { LedgerConnection, RedisLedgerOptions } from './connection.js';
import { controlFailure } from './control-failure.js';
import type { LedgerScripts } from './scripts.js';
import { parseState, parseTransitions, type ReadReply, type ScriptBudget } from './wire.js';

/** What the operator side uses of its store. */
export interface OperatorParts {
  options: RedisLedgerOptions;
  connection: LedgerConnection;
  scripts: LedgerScripts;
  /** Last state seen per budget (the store's). */
  cache: Map<string, BudgetState>;
  encode(budget: Budget, now: number): ScriptBudget;
  /** The local store while Redis is away. */
  local(): MemoryFuseStore | undefined;
  /** Marks this process's journal entries. */
  origin: string;
}

/**
 * The budgets' state read from Redis: rejects when Redis cannot answer, or refuses (a
 * user without permission), rather than answering the last numbers seen.
 */
export function inspect(
  parts: OperatorParts,
  budgets: readonly Budget[],
  now: number,
): Promise<ReadOutcome> {
  const { connection, scripts, cache, options } = parts;
  if (connection.starting !== undefined)
    return connection.afterStart(() => inspect(parts, budgets, now));
  return scripts.run('read', { now, budgets: budgets.map((b) => parts.encode(b, now)) }).then(
    (raw) => {
      const reply = JSON.parse(raw) as ReadReply;
      const states = reply.st.map((s, i) => parseState(s, budgets[i], now));
      states.forEach((s, i) => {
        cache.set(budgets[i]!.name, s);
      });
      return { states, transitions: parseTransitions(reply.tr) };
    },
    (err: unknown) => {
      const names = budgets.map((b) => b.name).join(', ');
      throw controlFailure(err, names, 'read', options, connection.host);
    },
  );
}

/** A manual action (reset, isolate, raise) in Redis, appended to the journal. */
export function control(
  parts: OperatorParts,
  budget: Budget,
  op: ManualAction['op'],
  now: number,
  detail: { amounts?: Amounts; note?: ManualNote },
): Promise<ReadOutcome> {
  const { connection, scripts, cache, options } = parts;
  if (connection.starting !== undefined)
    return connection.afterStart(() => control(parts, budget, op, now, detail));
  return scripts
    .run('control', {
      now,
      op,
      budget: parts.encode(budget, now),
      amounts: UNITS.map((u) => detail.amounts?.[u] ?? 0),
      note: { ...detail.note, origin: parts.origin },
    })
    .then(
      (raw) => {
        const reply = JSON.parse(raw) as ReadReply;
        const states = reply.st.map((s) => parseState(s, budget, now));
        cache.set(budget.name, states[0]!);
        // While Redis was away the local store decides: it follows the operator too.
        parts.local()?.control(budget, op, now, detail);
        return { states, transitions: parseTransitions(reply.tr) };
      },
      (err: unknown) => {
        throw controlFailure(err, budget.name, op, options, connection.host);
      },
    );
}
