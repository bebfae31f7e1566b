/**
 * The journal of manual actions (`P manual`, a stream CONTROL appends to), followed
 * by each process: an action another process made (the CLI, another replica) is
 * reported here too, so every replica fires its `manual` event and counts it.
 */
import { randomUUID } from 'node:crypto';
import { diag } from '@opentelemetry/api';
import type { Redis } from 'ioredis';
import type { FuseState } from '../../fuse.js';
import type { ManualEntry, StoreListener } from '../../fuse-store.js';
import type { LedgerConnection } from './connection.js';

/** At most this many entries per read; the rest follow at the next. */
const BATCH = 100;

export class JournalFollower {
  /** Marks this process's own entries (it reported them when it made them). */
  readonly origin = randomUUID();
  /** The last entry read: from this process's start (Redis stream ids are times in ms). */
  private last: string;

  constructor(
    private readonly key: string,
    startedAt: number,
  ) {
    this.last = `${Math.max(0, startedAt - 1)}-0`;
  }

  /** Reports to the listener the actions other processes made since the last read. Never rejects. */
  follow(connection: LedgerConnection, listener: () => StoreListener | undefined): Promise<void> {
    return connection
      .run(() => this.read(connection.redis))
      .then(
        (entries) => {
          if (entries.length > 0) listener()?.manual?.(entries);
        },
        (err: unknown) =>
          diag.debug('tokenfuse: reading the journal of manual actions failed', err),
      );
  }

  /** Entries since the last read made by other processes, oldest first. */
  async read(redis: Redis): Promise<ManualEntry[]> {
    const rows = (await redis.xrange(this.key, `(${this.last}`, '+', 'COUNT', BATCH)) as Array<
      [string, string[]]
    >;
    const out: ManualEntry[] = [];
    for (const [id, fields] of rows) {
      this.last = id;
      const f: Record<string, string> = {};
      for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
      if (f.origin === this.origin) continue;
      if (f.action !== 'reset' && f.action !== 'isolate' && f.action !== 'raise') continue;
      out.push({
        budget: f.budget ?? '',
        action: f.action,
        from: (f.from ?? 'closed') as FuseState,
        to: (f.to ?? 'closed') as FuseState,
        ...(f.by ? { by: f.by } : {}),
        ...(f.reason ? { reason: f.reason } : {}),
      });
    }
    return out;
  }
}
