/** The lease book's link to Redis: the LEASE script run on the store's connection. */
import type { Budget } from '../../../budgets/budget.js';
import type { BudgetState } from '../../fuse-store.js';
import type { RedisLedgerOptions } from './connection.js';
import { type LeaseParts, SHARE_K } from './leases.js';
import type { LedgerScripts } from './scripts.js';
import {
  type LeaseWireReply,
  type LeaseWrite,
  parseLeases,
  parseTransitions,
  RESERVATION_TTL_MS,
  type ScriptBudget,
} from './wire.js';

/** What the store lends its lease book. */
export interface LeaseHooks {
  encode(budget: Budget, now: number): ScriptBudget;
  failed(err: unknown): void;
  seen(budget: Budget, state: BudgetState): void;
}

export function leaseParts(
  options: RedisLedgerOptions,
  leases: { minSlice: number; ttlMs: number },
  scripts: LedgerScripts,
  hooks: LeaseHooks,
  budgetOf: (name: string) => Budget | undefined,
): LeaseParts {
  return {
    minSlice: leases.minSlice,
    ttlMs: leases.ttlMs,
    encode: hooks.encode,
    failed: hooks.failed,
    seen: hooks.seen,
    // One script for all on one Redis; one per budget on a cluster (each its own slot).
    group: (writes) => (options.cluster === undefined ? [writes] : writes.map((w) => [w])),
    async run(writes: LeaseWrite[], now: number) {
      const raw = await scripts.run('lease', {
        now,
        ttl: leases.ttlMs,
        rsvTtl: RESERVATION_TTL_MS,
        holder: holderOf(writes[0]!.id),
        k: SHARE_K,
        leases: writes,
      });
      const reply = JSON.parse(raw) as LeaseWireReply;
      const budgets = writes.map((w) => budgetOf(w.b.name)!);
      return { replies: parseLeases(reply, writes, budgets, now), tr: parseTransitions(reply.tr) };
    },
  };
}

/** `L:<holder>:<budget>` → holder. */
function holderOf(id: string): string {
  return id.split(':')[1] ?? '';
}
