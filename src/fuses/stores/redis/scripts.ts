/**
 * Runs the ledger's scripts: on one Redis as they are (every budget of a call in
 * one script), on a Redis Cluster one script per budget, each in the slot of that
 * budget's hash-tagged keys (`{keyPrefix + budget}`), their replies merged into the
 * one reply the store reads. On a cluster a call matching several budgets is
 * therefore decided budget by budget: reservations taken in the budgets that had
 * room are cancelled when another one blocks the call.
 */
import { randomUUID } from 'node:crypto';
import { diag } from '@opentelemetry/api';
import type { LedgerCommands, LedgerConnection, RedisLedgerOptions } from './connection.js';
import { READ_LUA } from './lua.js';
import type { ReconcileOp, ScriptBudget } from './wire.js';

export type ScriptName = 'admit' | 'settle' | 'read' | 'control' | 'reconcile' | 'lease';

type RoutedCommand = Exclude<keyof LedgerCommands, `${string}Keyless`>;

const COMMANDS: Record<ScriptName, RoutedCommand> = {
  admit: 'tokenfuseAdmit',
  settle: 'tokenfuseSettle',
  read: 'tokenfuseRead',
  control: 'tokenfuseControl',
  reconcile: 'tokenfuseReconcile',
  lease: 'tokenfuseLease',
};

/** A cancelled part's batch id is kept this long in its slot. */
const CANCEL_BATCH_TTL_MS = 24 * 60 * 60_000;

/** The key prefix a budget's keys start with: `{keyPrefix + name}` on a cluster (a hash tag). */
export function budgetPrefix(options: RedisLedgerOptions, name: string): string {
  return options.cluster === undefined ? options.keyPrefix : `{${options.keyPrefix}${name}}`;
}

/**
 * The journal of manual actions: `keyPrefix + 'manual'` on one Redis; on a cluster
 * `{keyPrefix}manual`, one stream in a slot of its own that every replica reads (each
 * budget's keys are in the budget's slot, so CONTROL cannot append to it itself).
 */
export function journalKey(options: RedisLedgerOptions): string {
  return options.cluster === undefined
    ? `${options.keyPrefix}manual`
    : `{${options.keyPrefix}}manual`;
}

/** The hash-tagged prefix of a budget's keys, from the keys themselves. */
export function tagOf(b: ScriptBudget): string {
  return b.fuse.slice(0, b.fuse.indexOf('}') + 1);
}

type Payload = Record<string, unknown> & { prefix?: string };
type Reply = Record<string, unknown>;

export class LedgerScripts {
  constructor(
    private readonly connection: LedgerConnection,
    private readonly options: RedisLedgerOptions,
  ) {}

  /** Runs script `name` with `payload` (its `prefix` is set here) within `timeoutMs`; the reply as JSON. */
  run(name: ScriptName, payload: Payload): Promise<string> {
    if (this.options.cluster === undefined)
      return this.one(name, { ...payload, prefix: this.options.keyPrefix });
    return this.split(name, payload).then((reply) => JSON.stringify(reply));
  }

  private one(name: ScriptName, payload: Payload): Promise<string> {
    const { connection } = this;
    const route = payload.prefix ?? this.options.keyPrefix;
    const json = JSON.stringify(payload);
    if (this.options.cluster === undefined) {
      const keyless = `${COMMANDS[name]}Keyless` as `${RoutedCommand}Keyless`;
      return connection.run(() => connection.redis[keyless](json));
    }
    const routed = connection.run(() => connection.redis[COMMANDS[name]](route, json));
    if (name !== 'read') return routed;
    return routed.catch((err: unknown) => {
      // A key declared to EVALSHA needs write permission: a read-only ACL user (`%R~`)
      // is refused even a read. EVAL_RO declares it for reading; the script then writes
      // nothing (`ro`), and the next call of an app rolls the window in Redis itself.
      if (!/NOPERM/.test(String((err as { message?: unknown } | undefined)?.message))) throw err;
      const ro = JSON.stringify({ ...payload, ro: 1 });
      return connection.run(
        () => connection.redis.call('EVAL_RO', READ_LUA, 1, route, ro) as Promise<string>,
      );
    });
  }

  private async part(name: ScriptName, payload: Payload): Promise<Reply> {
    return JSON.parse(await this.one(name, payload)) as Reply;
  }

  private async split(name: ScriptName, p: Payload): Promise<Reply> {
    switch (name) {
      case 'control':
        return this.control(p);
      case 'lease': {
        const leases = p.leases as Array<{ b: ScriptBudget }>;
        return this.part(name, { ...p, prefix: tagOf(leases[0]!.b) });
      }
      case 'read':
      case 'settle': {
        const budgets = p.budgets as ScriptBudget[];
        const replies = await Promise.all(
          budgets.map((b) => this.part(name, { ...p, prefix: tagOf(b), budgets: [b] })),
        );
        if (replies.some((r) => r.skip !== undefined)) return { skip: 1 };
        return {
          st: replies.flatMap((r) => list(r.st)),
          x: replies.flatMap((r) => (Array.isArray(r.x) ? r.x : [[]])),
          tr: replies.flatMap((r) => list(r.tr)),
        };
      }
      case 'admit':
        return this.admit(p);
      case 'reconcile':
        return this.reconcile(p);
    }
  }

  private async admit(p: Payload): Promise<Reply> {
    const budgets = p.budgets as ScriptBudget[];
    const amounts = p.amounts as unknown[];
    const replies = await Promise.all(
      budgets.map((b, i) =>
        this.part('admit', { ...p, prefix: tagOf(b), budgets: [b], amounts: [amounts[i]] }),
      ),
    );
    const admitted = replies.every((r) => r.a === 1);
    if (!admitted) {
      // The budgets that had room reserved it: give it back (a cancellation is idempotent).
      replies.forEach((r, i) => {
        if (r.a !== 1) return;
        const ops: ReconcileOp[] = [{ op: 'cancel', rid: p.rid as string }];
        this.part('reconcile', {
          prefix: tagOf(budgets[i]!),
          now: p.now,
          batch: randomUUID(),
          batchTtl: CANCEL_BATCH_TTL_MS,
          ops,
        }).catch((err: unknown) =>
          diag.warn(
            `tokenfuse: releasing a blocked call's reservation in budget "${budgets[i]!.name}" failed; it is released when its lease ends`,
            err,
          ),
        );
      });
    }
    return {
      a: admitted ? 1 : 0,
      d: replies.flatMap((r) => list(r.d)),
      st: replies.flatMap((r) => list(r.st)),
      tr: replies.flatMap((r) => list(r.tr)),
    };
  }

  /**
   * CONTROL in the budget's slot, then its entry appended to the fleet's journal (its own
   * slot) as a second step. The action holds once the first step is done: a journal entry
   * that cannot be written is said in the log (other replicas will not report the action).
   */
  private async control(p: Payload): Promise<Reply> {
    const b = p.budget as ScriptBudget;
    const reply = await this.part('control', { ...p, prefix: tagOf(b), journal: 0 });
    const note = (p.note ?? {}) as { by?: string; reason?: string; origin?: string };
    const fields = [
      ['action', String(p.op)],
      ['budget', b.name],
      ['by', note.by ?? ''],
      ['reason', note.reason ?? ''],
      ['from', String(reply.from)],
      ['to', String(reply.to)],
      ['at', String(p.now)],
      ['origin', note.origin ?? ''],
    ].flat();
    const { connection } = this;
    const key = journalKey(this.options);
    await connection
      .run(() => connection.redis.xadd(key, 'MAXLEN', '~', '1000', '*', ...fields))
      .catch((err: unknown) =>
        diag.warn(
          `tokenfuse: ${String(p.op)} of budget "${b.name}" is done, but writing it to the journal ${key} failed: other processes will not report it`,
          err,
        ),
      );
    return reply;
  }

  /** A batch split by slot; each part keeps the batch id (its claim lives in its own slot). */
  private async reconcile(p: Payload): Promise<Reply> {
    const groups = new Map<string, ReconcileOp[]>();
    const add = (tag: string, op: ReconcileOp) => {
      const ops = groups.get(tag) ?? [];
      ops.push(op);
      groups.set(tag, ops);
    };
    for (const op of p.ops as ReconcileOp[]) {
      if (op.op === 'cancel') {
        for (const b of op.budgets ?? []) add(tagOf(b), { op: 'cancel', rid: op.rid });
        continue;
      }
      for (const b of op.budgets) add(tagOf(b), { ...op, budgets: [b] });
    }
    const replies = await Promise.all(
      [...groups].map(([tag, ops]) => this.part('reconcile', { ...p, prefix: tag, ops })),
    );
    return {
      st: replies.flatMap((r) => list(r.st)),
      tr: replies.flatMap((r) => list(r.tr)),
    };
  }
}

/** cjson encodes an empty list as `{}`. */
function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}
