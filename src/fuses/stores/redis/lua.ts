/**
 * Lua scripts of the Redis ledger. Each runs atomically in Redis (EVALSHA through
 * ioredis `defineCommand`), so a fleet of replicas admits and settles calls against
 * one set of numbers, one round trip per step.
 *
 * Every script takes one argument, a JSON object (`ARGV[1]`), and answers a JSON
 * string. Numbers travel as strings formatted with `%.17g` both ways, so nothing
 * is rounded by Redis's Lua-number-to-integer reply conversion or by cjson.
 *
 * ## Keys (P = `ledger.keyPrefix`, default `tokenfuse:`)
 *
 * | key | type | what |
 * | --- | --- | --- |
 * | `P a:<budget>:<window>:<windowStart>` | hash | a calendar window's account: `s:t`, `s:u`, `s:q` spent tokens/USD/requests, `r:t`, `r:u`, `r:q` reserved, `g:t`, `g:u`, `g:q` raised by hand (added to the limits); expires 10 min after the window ends |
 * | `P a:<budget>:rolling_<d>` | hash | a rolling window's account: `b:<bucketStart>:t\|u\|q` spent per bucket (60 buckets per window), `r:*` reserved; buckets that left the window are deleted when read; expires a window + 10 min after the last write |
 * | `P f:<budget>` | hash | the fuse: `state`, `isolated`, `openedAt`, `openedInWindow`, `probesLeft`, `probesInFlight`, `trips` |
 * | `P t:<budget>:<window>[:<windowStart>]` | set | thresholds crossed in the window (SADD = 1 fires the event: once fleet-wide) |
 * | `P r:<reservationId>` | hash | an admitted call's reservation: `n` budgets, per budget i `k<i>` account key, `f<i>` fuse key, `t<i>` `u<i>` `q<i>` amounts, `p<i>` probe; `released` |
 * | `P o:<id>` | string | an observed spend (a call seen only in a span) already added; expires after 24 h |
 * | `P leases` | zset | reservation ids by lease expiry: a reservation of a process that died is released when its lease ends |
 * | `P batch:<id>` | string | a reconciled batch (applied at most once) |
 * | `P manual` | stream | the journal of manual actions (CONTROL): `action`, `budget`, `by`, `reason`, `from`, `to`, `at`; the last ~1000. On a cluster one stream for all budgets, `{keyPrefix}manual`, written after CONTROL |
 *
 * A budget in a request (`b`) carries what the client computed for its current
 * window (time zones are resolved in JavaScript): `name`, `acct`, `fuse`, `thr` keys,
 * `rolling`, `ws` window start, `bms` bucket length, `bucket` current bucket start,
 * `exp` expiry (epoch ms, client clock: keys get `PEXPIRE exp - now`), `lim` limits [tokens, usd, requests] (0 = none), `cool`,
 * `probes`, `th` thresholds, `mode` ('block' | 'monitor'), and for the value of a per-value
 * budget (`<budget>[<value>]`: one key set per value) `fexp`, the fuse key's expiry.
 *
 * The state machine is the in-memory store's (src/fuses/stores/memory.ts),
 * restated in the prelude every script starts with (lua-prelude.ts): keep the two in step.
 */

import { PRELUDE } from './lua-prelude.js';

/**
 * ADMIT `{prefix, now, rid, lease, rsvTtl, budgets: [b], amounts: [[t, u, q]]}` →
 * `{a: 1|0, d: [[kind, reason]], st: [state], tr: [[budget, from, to, cause]]}`.
 *
 * Decides the call against every budget (rolling a calendar fuse into a new window,
 * open → half-open after the cool-down, probes), trips the budgets whose limit is
 * reached, and — only if no `block` budget blocks — takes the probes and adds the
 * reservation to every budget, recorded under `r:<rid>` with a lease. States are
 * the numbers before the reservation and the fuse after the decision.
 */
export const ADMIT_LUA = `${PRELUDE}
reap()
local Fs, Ss, Rs, D = {}, {}, {}, {}
local blocked = false
for i, b in ipairs(P.budgets) do
  local F = read_fuse(b.fuse)
  local s, r = read_account(b)
  roll_fuse(b, F)
  local kind, reason, t = decide(b, F, s, r)
  Fs[i], Ss[i], Rs[i], D[i] = F, s, r, {kind, reason, t}
  if kind == 'block' and b.mode == 'block' then blocked = true end
end
for i, b in ipairs(P.budgets) do
  if D[i][3] then trip(b, Fs[i]) end
end
local st = {}
for i, b in ipairs(P.budgets) do st[i] = state_out(b, Fs[i], Ss[i], Rs[i]) end
if not blocked then
  local rec = {'n', tostring(#P.budgets)}
  for i, b in ipairs(P.budgets) do
    local F, a = Fs[i], nums(P.amounts[i])
    local probe = D[i][1] == 'probe'
    if probe then
      F.probesLeft = F.probesLeft - 1
      F.probesInFlight = F.probesInFlight + 1
      F.dirty = true
    end
    for u = 1, 3 do
      if a[u] ~= 0 then redis.call('HINCRBYFLOAT', b.acct, 'r:' .. UNITS[u], f17(a[u])) end
    end
    expire(b.acct, b.exp)
    local j = tostring(i)
    for _, kv in ipairs({{'k', b.acct}, {'f', b.fuse}, {'t', f17(a[1])}, {'u', f17(a[2])},
        {'q', f17(a[3])}, {'p', probe and '1' or '0'}}) do
      rec[#rec + 1] = kv[1] .. j
      rec[#rec + 1] = kv[2]
    end
  end
  redis.call('HSET', rsv_key(P.rid), unpack(rec))
  redis.call('PEXPIRE', rsv_key(P.rid), f17(n(P.rsvTtl)))
  redis.call('ZADD', LEASES, f17(now + n(P.lease)), P.rid)
end
for i, b in ipairs(P.budgets) do write_fuse(b.fuse, Fs[i], b.fexp) end
local d = {}
for i = 1, #D do d[i] = {D[i][1], D[i][2]} end
return cjson.encode({a = blocked and 0 or 1, d = d, st = st, tr = TR})
`;

/**
 * SETTLE `{prefix, now, rid, cond, obs?, actual: [t, u, q], budgets: [b]}` →
 * `{st: [state], x: [[threshold]], tr: [...]}`, or `{skip: 1}` for a retried
 * settlement (`cond`) whose first attempt had already run, or for observed spend
 * (`obs`, ms to remember its id `rid`: no reservation) whose id was already claimed.
 *
 * The budgets carry the window at settlement time: spend goes to the current window;
 * the reservation is released from the account it was taken in.
 */
export const SETTLE_LUA = `${PRELUDE}
reap()
local res = settle_one(P)
if res == nil then return cjson.encode({skip = 1}) end
return cjson.encode({st = res.states, x = res.crossed, tr = TR})
`;

/**
 * READ `{prefix, now, budgets: [b], ro?: 1}` → `{st: [state], tr: [...]}`: the numbers,
 * rolling fuses into a new window. With `ro` it writes nothing (the roll is in the reply
 * only): it then runs as EVAL_RO, which a read-only ACL user may run on a cluster.
 */
export const READ_LUA = `${PRELUDE}
local st = {}
for i, b in ipairs(P.budgets) do
  local F = read_fuse(b.fuse)
  local s, r = read_account(b)
  roll_fuse(b, F)
  if not P.ro then write_fuse(b.fuse, F, b.fexp) end
  st[i] = state_out(b, F, s, r)
end
return cjson.encode({st = st, tr = TR})
`;

/**
 * CONTROL `{prefix, now, op: 'isolate'|'reset'|'raise', budget: b, amounts?: [t, u, q],
 * note?: {by, reason}}` → `{st: [state], tr: [...]}`. A raise adds `amounts` to the
 * window's `g:*` fields (they expire with its account). Every action is appended to the
 * journal `P manual` (a stream of the last 1000: action, budget, by, reason, from, to),
 * unless `journal: 0` (on a cluster: the journal is in a slot of its own, written after).
 * The reply also has `from` and `to`, the fuse's state before and after.
 */
export const CONTROL_LUA = `${PRELUDE}
local b = P.budget
local F = read_fuse(b.fuse)
local from = F.state
if P.op == 'raise' then
  local a = nums(P.amounts)
  for u = 1, 3 do
    if a[u] ~= 0 then redis.call('HINCRBYFLOAT', b.acct, 'g:' .. UNITS[u], f17(a[u])) end
  end
  expire(b.acct, b.exp)
elseif P.op == 'isolate' then
  F.dirty = true
  F.isolated = 1
  if F.state ~= 'open' then
    F.openedAt = now
    F.openedInWindow = n(b.ws)
    set_state(b, F, 'open', 'isolate')
  end
else
  F.dirty = true
  F.isolated = 0
  if F.state ~= 'closed' then close(b, F, 'manual') end
end
write_fuse(b.fuse, F, b.fexp)
local s, r = read_account(b)
local note = P.note or {}
if P.journal ~= 0 then
  redis.call('XADD', P.prefix .. 'manual', 'MAXLEN', '~', '1000', '*', 'action', P.op,
    'budget', b.name, 'by', tostring(note.by or ''), 'reason', tostring(note.reason or ''),
    'from', from, 'to', F.state, 'at', f17(now), 'origin', tostring(note.origin or ''))
end
return cjson.encode({st = {state_out(b, F, s, r)}, tr = TR, from = from, to = F.state})
`;

/**
 * RECONCILE `{prefix, now, batch, batchTtl, ops}` → `{st: [state], tr: [...]}` or
 * `{dup: 1}` when the batch was applied already (a retry after a reply was lost).
 * Ops, applied in order:
 * - `{op: 'spend', actual, budgets}`: spend of a call admitted locally while Redis
 *   was unreachable, added to the window it ended in;
 * - `{op: 'settle', rid, cond, actual, budgets}`: a settlement that failed, as SETTLE;
 * - `{op: 'cancel', rid}`: releases the reservation of an admission whose answer
 *   never arrived (the call went ahead locally, or was refused).
 */
export const RECONCILE_LUA = `${PRELUDE}
if not redis.call('SET', P.prefix .. 'batch:' .. P.batch, '1', 'NX', 'PX', f17(n(P.batchTtl))) then
  return cjson.encode({dup = 1})
end
reap()
local st = {}
for _, op in ipairs(P.ops) do
  if op.op == 'cancel' then
    if release(op.rid, true) ~= nil then
      redis.call('DEL', rsv_key(op.rid))
      redis.call('ZREM', LEASES, op.rid)
    end
  elseif op.op == 'spend' then
    local actual = nums(op.actual)
    for _, b in ipairs(op.budgets) do add_spend(b, actual) end
  elseif op.op == 'settle' then
    local res = settle_one(op)
    if res ~= nil then
      for _, s in ipairs(res.states) do st[#st + 1] = s end
    end
  end
end
return cjson.encode({st = st, tr = TR})
`;
