/**
 * Writing a replica's leases (LEASE in lease-lua.ts): their spend, renewed and resized
 * slices, idle and forgotten leases given back; and what each write answered, handed
 * to the lease and to the settlements waiting on it (see leases.ts).
 */
import type { LeaseParts, LeaseReply } from './lease-parts.js';
import { type Lease, type Triple, type Written, zero } from './lease-record.js';
import type { LeaseWrite } from './wire.js';

/** A lease with no call for this many TTLs is given back, then dropped from the book. */
export const IDLE_TTLS = 1;

/**
 * Writes leases: their spend, and new slices (`wants`: room a call asked for).
 * Idle and forgotten leases, and all of them when `give`, are given back.
 */
export function writeLeases(
  parts: LeaseParts,
  leases: Lease[],
  now: number,
  wants?: Map<Lease, Triple>,
  give = false,
): Promise<void> {
  const writes: LeaseWrite[] = [];
  const sent = new Map<Lease, { spent: Triple; waiters: Lease['waiters'] }>();
  const { minSlice, ttlMs } = parts;
  for (const lease of leases) {
    const spent = lease.unflushed;
    lease.unflushed = zero();
    lease.flushing = spent;
    const used = [...lease.inflight] as Triple;
    // What Redis must keep: the calls in flight, and half the last slice's headroom
    // (local calls may use that while the write is on its way), so a lease shrinks
    // step by step to smaller slices; nothing spare while another replica waits.
    const spare = lease.demand ? 0 : lease.slice.map((v) => v / 2);
    const floor = used.map((v, u) =>
      Math.max(v, Math.min(lease.held[u]! - spent[u]!, v + (spare === 0 ? 0 : spare[u]!))),
    ) as Triple;
    lease.cap = floor;
    const b = parts.encode(lease.budget, now);
    const idle = (lease.gone || now - lease.lastUse > IDLE_TTLS * ttlMs) && !wants?.has(lease);
    lease.seq++;
    writes.push({
      id: lease.id,
      w: lease.seq,
      b,
      spent,
      used,
      floor: give || idle ? used : floor,
      want: wants?.get(lease) ?? zero(),
      min: b.lim.map((l) => l * minSlice) as Triple,
      give: give || idle ? 1 : undefined,
      prev: lease.prev,
    });
    sent.set(lease, { spent, waiters: lease.waiters });
    lease.waiters = [];
  }
  const done = runGroups(parts, writes, now).then((results) => {
    for (const lease of leases) {
      const { spent, waiters } = sent.get(lease)!;
      const result = results.get(lease.id);
      lease.cap = undefined;
      lease.writing = undefined;
      // Answered, the spend is in `seen`; lost, it is in `prev` until the next write.
      lease.flushing = zero();
      if (result === undefined) {
        // The reply was lost: the write may have run. Send it again with the next one,
        // and count only the room every outcome leaves.
        lease.prev = {
          w: lease.seq,
          spent: spent.map((v, u) => v + (lease.prev?.spent[u] ?? 0)) as Triple,
        };
        lease.held = writes.find((w) => w.id === lease.id)!.floor;
        lease.waiters.unshift(...waiters);
        continue;
      }
      const { reply, shared } = result;
      lease.prev = undefined;
      lease.lastWrite = now;
      lease.held = reply.held;
      lease.slice = reply.held.map((h, u) => Math.max(0, h - lease.inflight[u]!)) as Triple;
      lease.demand = reply.demand;
      lease.seen = reply.state;
      parts.seen(lease.budget, reply.state);
      const written: Written = { state: reply.state, crossed: reply.crossed, shared };
      for (const resolve of waiters) resolve(written);
    }
  });
  for (const lease of leases) lease.writing = done;
  return done;
}

/** Runs the writes, by group; a failed group leaves its leases out of the result. */
async function runGroups(
  parts: LeaseParts,
  writes: LeaseWrite[],
  now: number,
): Promise<Map<string, { reply: LeaseReply; shared: Written['shared'] }>> {
  const results = new Map<string, { reply: LeaseReply; shared: Written['shared'] }>();
  await Promise.all(
    parts.group(writes).map(async (group) => {
      try {
        const { replies, tr } = await parts.run(group, now);
        const shared = { transitions: tr };
        for (const [i, w] of group.entries()) results.set(w.id, { reply: replies[i]!, shared });
      } catch (err) {
        parts.failed(err);
      }
    }),
  );
  return results;
}
