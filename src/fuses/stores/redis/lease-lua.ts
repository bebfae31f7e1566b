/**
 * The LEASE script: a replica's leased slices of budgets' room, renewed, resized,
 * and the spend its calls settled locally written back (see leases.ts and
 * docs/fleet-scale.md). A lease is a reservation (`r:<id>`, in the `leases` zset,
 * counted in the account's `r:*` like a call's), so the per-call ADMIT script and
 * every other replica see leased room as taken.
 */
import { PRELUDE } from './lua-prelude.js';

/**
 * LEASE `{prefix, now, ttl, rsvTtl, holder, k, leases: [{id, w, b, spent, used, floor, want, min, give?, prev?}]}`
 * → `{l: [{h: [t, u, q], st: state, x: [threshold], dm: 0|1}], tr: [...]}`.
 *
 * Per lease, in order: the old lease is released; `spent` (settled locally since the
 * last write) is added to the current window, crossing thresholds and tripping the
 * fuse when the limit is reached. Then the new lease `h`, per unit with a limit:
 * - no room is leased while the fuse is not closed, when the budget only monitors, or
 *   when the holder gives its lease back (`give`: idle, closing):
 *   `h` = `used`, the reservations of the holder's calls in flight;
 * - else `h` = max(`floor`, min(`used + want + slice`, room left)), with
 *   slice = max(`min`, (limit − spent) / (`k` × holders)): slices shrink as the
 *   budget nears its limit and as more replicas share it;
 * - a call that asked for room (`want`) and does not get it from what is left
 *   gets it anyway if the budget still has room in every unit (`s + r < limit`), as
 *   ADMIT admits a call: the one reservation a limit may be overshot by. Otherwise
 *   the budget is marked in demand for one TTL (`dm`): holders give back their unused
 *   room at their next write and lease at most `min` while it lasts.
 * `w` numbers the holder's writes of a lease: a write sent again after its reply was
 * lost comes back as `prev` `{w, spent}`, and its spend is added only if the lease
 * record shows an older write.
 * A lease not renewed within `ttl` ms is released by `reap()` (its replica died).
 */
export const LEASE_LUA = `${PRELUDE}
reap()
local out = {}
for i, L in ipairs(P.leases) do
  local b = L.b
  local key = rsv_key(L.id)
  -- A lease that expired (its holder stalled past the TTL) held nothing since.
  local lost = redis.call('HGET', key, 'released') ~= '0'
  local R = release(L.id, false)
  if R ~= nil then
    redis.call('DEL', key)
    redis.call('ZREM', LEASES, L.id)
  end
  -- A write whose reply was lost is sent again (prev): its spend counts once.
  if L.prev and (R == nil or n(R.w) < n(L.prev.w)) then add_spend(b, nums(L.prev.spent)) end
  local spent = nums(L.spent)
  if spent[1] ~= 0 or spent[2] ~= 0 or spent[3] ~= 0 then add_spend(b, spent) end
  local F = read_fuse(b.fuse)
  roll_fuse(b, F)
  local s, r = read_account(b)
  local crossed = cross(b, s)
  if exhausted(b, s) and F.state ~= 'open' then trip(b, F) end
  write_fuse(b.fuse, F)
  local hk = b.fuse .. ':h'
  redis.call('ZREMRANGEBYSCORE', hk, '-inf', f17(now))
  local dk = b.fuse .. ':d'
  local used, floor, want, mins = nums(L.used), nums(L.floor), nums(L.want), nums(L.min)
  local h = {0, 0, 0}
  local open = F.state ~= 'closed' or F.isolated == 1 or b.mode ~= 'block'
  local asked = want[1] + want[2] + want[3] > 0
  local demand = redis.call('EXISTS', dk) == 1
  if open or L.give then
    h = used
  else
    local holders = redis.call('ZCARD', hk)
    if redis.call('ZSCORE', hk, P.holder) == false then holders = holders + 1 end
    local fits, room = true, true
    for u = 1, 3 do
      local l = n(b.lim[u])
      if l > 0 then
        local avail = l - s[u] - r[u]
        local slice = mins[u]
        if not demand then slice = math.max(mins[u], (l - s[u]) / (n(P.k) * holders)) end
        local keep = floor[u]
        if lost then keep = math.max(used[u], math.min(keep, avail)) end
        h[u] = math.max(keep, math.min(used[u] + want[u] + slice, avail))
        if h[u] < used[u] + want[u] then fits = false end
        if avail <= used[u] then room = false end
      end
    end
    if asked and not fits then
      if room then
        for u = 1, 3 do
          if n(b.lim[u]) > 0 then h[u] = math.max(h[u], used[u] + want[u]) end
        end
      else
        redis.call('SET', dk, '1', 'PX', f17(n(P.ttl)))
        demand = true
      end
    end
  end
  for u = 1, 3 do if h[u] < 0 then h[u] = 0 end end
  if h[1] + h[2] + h[3] > 0 then
    for u = 1, 3 do
      if h[u] ~= 0 then redis.call('HINCRBYFLOAT', b.acct, 'r:' .. UNITS[u], f17(h[u])) end
    end
    expire(b.acct, b.exp)
    redis.call('HSET', key, 'n', '1', 'k1', b.acct, 'f1', b.fuse, 't1', f17(h[1]), 'u1', f17(h[2]),
      'q1', f17(h[3]), 'p1', '0', 'w', f17(n(L.w)), 'released', '0')
    redis.call('PEXPIRE', key, f17(n(P.rsvTtl)))
    redis.call('ZADD', LEASES, f17(now + n(P.ttl)), L.id)
    redis.call('ZADD', hk, f17(now + n(P.ttl)), P.holder)
    redis.call('PEXPIRE', hk, f17(2 * n(P.ttl)))
  else
    redis.call('ZREM', hk, P.holder)
  end
  local r2 = {r[1] + h[1], r[2] + h[2], r[3] + h[3]}
  out[i] = {h = f3(h), st = state_out(b, F, s, r2), x = crossed, dm = demand and 1 or 0}
end
return cjson.encode({l = out, tr = TR})
`;
