/** The lease book's link to Redis: the LEASE script run on the store's connection. */
import type { Budget } from '../../../budgets/budget.js';
import type { BudgetState, Transition } from '../../fuse-store.js';

type Triple = [number, number, number];

import type { RedisLedgerOptions } from './connection.js';
import { SHARE_K } from './leases.js';
import type { LedgerScripts } from './scripts.js';
import {
  type LeaseWireReply,
  type LeaseWrite,
  parseLeases,
  parseTransitions,
  RESERVATION_TTL_MS,
  type ScriptBudget,
} from './wire.js';

/** What the lease book needs from its store. */
export interface LeaseParts {
  /** Runs LEASE for writes that share a slot (all of them on one Redis). */
  run(writes: LeaseWrite[], now: number): Promise<{ replies: LeaseReply[]; tr: Transition[] }>;
  encode(budget: Budget, now: number): ScriptBudget;
  /** Groups writes that may run in one script (one group on one Redis; per slot on a cluster). */
  group(writes: LeaseWrite[]): LeaseWrite[][];
  /** A write failed (counted, said, degraded mode). */
  failed(err: unknown): void;
  /** A budget's state as Redis answered it (the store's last-seen cache). */
  seen(budget: Budget, state: BudgetState): void;
  /** A forgotten budget's lease was given back and dropped: the store forgets it again. */
  dropped(budget: Budget): void;
  minSlice: number;
  ttlMs: number;
}

export interface LeaseReply {
  held: Triple;
  state: BudgetState;
  crossed: number[];
  demand: boolean;
}

/** What the store lends its lease book. */
export interface LeaseHooks {
  encode(budget: Budget, now: number): ScriptBudget;
  failed(err: unknown): void;
  seen(budget: Budget, state: BudgetState): void;
  dropped(budget: Budget): void;
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
    dropped: hooks.dropped,
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
