/**
 * What every Lua script of the Redis ledger starts with (lua.ts prepends it): the
 * payload decoded, number formatting, reading and writing accounts and fuses, the
 * rules (src/budgets/rules.ts) and the fuse state machine (the in-memory store's,
 * src/fuses/stores/memory.ts, restated: keep the two in step), thresholds, and
 * reservations with their leases. Written once, so the five scripts cannot drift.
 */
export const PRELUDE = `
local P = cjson.decode(ARGV[1])
local now = tonumber(P.now)
local UNITS = {'t', 'u', 'q'}
local IDX = {t = 1, u = 2, q = 3}
local TR = {}

local function n(v) return tonumber(v) or 0 end
local function f17(x) return string.format('%.17g', x) end
local function f3(a) return {f17(a[1]), f17(a[2]), f17(a[3])} end
local function nums(a) return {n(a[1]), n(a[2]), n(a[3])} end

local function hgetall(key)
  local h = redis.call('HGETALL', key)
  local t = {}
  for i = 1, #h, 2 do t[h[i]] = h[i + 1] end
  return t
end

-- Spent and reserved of a budget's current window; drops rolling buckets that left it.
-- What operators raised by hand this window (g:*) is added to b.lim (once) and kept in b.g.
local function read_account(b)
  local h = redis.call('HGETALL', b.acct)
  local s, r, g, stale = {0, 0, 0}, {0, 0, 0}, {0, 0, 0}, {}
  local ws, bms = n(b.ws), n(b.bms)
  for i = 1, #h, 2 do
    local f, v = h[i], n(h[i + 1])
    local kind, rest = string.match(f, '^(%a):(.+)$')
    if kind == 'r' and IDX[rest] then r[IDX[rest]] = v
    elseif kind == 'g' and IDX[rest] then g[IDX[rest]] = v
    elseif kind == 's' and IDX[rest] then s[IDX[rest]] = s[IDX[rest]] + v
    elseif kind == 'b' then
      local start, u = string.match(rest, '^(%-?[%d.e+]+):(%a)$')
      if start and IDX[u] then
        if n(start) + bms <= ws then stale[#stale + 1] = f else s[IDX[u]] = s[IDX[u]] + v end
      end
    end
  end
  if #stale > 0 and not P.ro then redis.call('HDEL', b.acct, unpack(stale)) end
  for u = 1, 3 do
    if s[u] < 1e-9 then s[u] = 0 end
    if r[u] < 1e-9 then r[u] = 0 end
  end
  if b.base == nil then b.base = nums(b.lim) end
  for u = 1, 3 do
    if b.base[u] > 0 then b.lim[u] = b.base[u] + g[u] end
  end
  b.g = g
  return s, r
end

local function read_fuse(key)
  local h = hgetall(key)
  return {
    state = h.state or 'closed', isolated = n(h.isolated), openedAt = n(h.openedAt),
    openedInWindow = n(h.openedInWindow), probesLeft = n(h.probesLeft),
    probesInFlight = n(h.probesInFlight), trips = n(h.trips), dirty = false,
  }
end

-- fexp (per-value budgets only): the fuse key leaves with its window, unless isolated by hand.
local function write_fuse(key, F, fexp)
  if not F.dirty then return end
  redis.call('HSET', key, 'state', F.state, 'isolated', f17(F.isolated), 'openedAt', f17(F.openedAt),
    'openedInWindow', f17(F.openedInWindow), 'probesLeft', f17(F.probesLeft),
    'probesInFlight', f17(F.probesInFlight), 'trips', f17(F.trips))
  if fexp == nil then return end
  if F.isolated == 1 then redis.call('PERSIST', key)
  else redis.call('PEXPIRE', key, math.max(1, math.floor(n(fexp) - now))) end
end

local function fuse_out(F)
  return {F.state, f17(F.isolated), f17(F.openedAt), f17(F.openedInWindow), f17(F.probesLeft),
    f17(F.probesInFlight), f17(F.trips)}
end

local function state_out(b, F, s, r)
  return {name = b.name, s = f3(s), r = f3(r), f = fuse_out(F), g = f3(b.g or {0, 0, 0})}
end

local function set_state(b, F, to, cause)
  if F.state == to then return end
  TR[#TR + 1] = {b.name, F.state, to, cause}
  F.state = to
  F.dirty = true
end

-- The rules (src/budgets/rules.ts).
local function exhausted(b, s)
  for u = 1, 3 do
    local l = n(b.lim[u])
    if l > 0 and s[u] >= l then return u end
  end
  return nil
end
local function has_room(b, s, r)
  for u = 1, 3 do
    local l = n(b.lim[u])
    if l > 0 and s[u] + r[u] >= l then return false end
  end
  return true
end
local function utilization(b, s)
  local best = 0
  for u = 1, 3 do
    local l = n(b.lim[u])
    if l > 0 and s[u] / l > best then best = s[u] / l end
  end
  return best
end

local function close(b, F, cause)
  F.probesLeft = 0
  F.probesInFlight = 0
  F.dirty = true
  set_state(b, F, 'closed', cause)
end

-- A new calendar window closes a fuse that opened in an earlier one (unless isolated).
local function roll_fuse(b, F)
  if F.state ~= 'closed' and F.isolated == 0 and not b.rolling and F.openedInWindow ~= n(b.ws) then
    close(b, F, 'window')
  end
end

local function trip(b, F)
  if F.state == 'open' then return end
  F.trips = F.trips + 1
  F.openedAt = now
  F.openedInWindow = n(b.ws)
  F.probesLeft = 0
  F.dirty = true
  set_state(b, F, 'open', 'trip')
end

-- Returns kind, reason, trip.
local function decide(b, F, s, r)
  if F.isolated == 1 then return 'block', 'isolated', false end
  if F.state == 'open' then
    if now - F.openedAt < n(b.cool) or exhausted(b, s) then return 'block', 'limit_reached', false end
    set_state(b, F, 'half_open', 'cooldown')
    F.probesLeft = n(b.probes)
    F.probesInFlight = 0
  end
  if F.state == 'half_open' then
    if exhausted(b, s) then return 'block', 'limit_reached', true end
    if F.probesLeft <= 0 then return 'block', 'probing', false end
    if has_room(b, s, r) then return 'probe', '', false end
    return 'block', 'reserved', false
  end
  if has_room(b, s, r) then return 'admit', '', false end
  if exhausted(b, s) then return 'block', 'limit_reached', true end
  return 'block', 'reserved', false
end

-- Keys expire relative to the client's clock (window end - now): Redis's clock is not
-- the client's, and a key outliving its window by a margin is all that matters.
local function expire(key, exp)
  local ttl = math.floor(n(exp) - now)
  if ttl < 1 then ttl = 1 end
  redis.call('PEXPIRE', key, ttl)
end

local function add_spend(b, a)
  for u = 1, 3 do
    if a[u] ~= 0 then
      local field = b.rolling and ('b:' .. f17(n(b.bucket)) .. ':' .. UNITS[u]) or ('s:' .. UNITS[u])
      redis.call('HINCRBYFLOAT', b.acct, field, f17(a[u]))
    end
  end
  expire(b.acct, b.exp)
end

-- Thresholds newly crossed: SADD answers 1 in exactly one process of the fleet.
-- On settled spend only (s), never reservations: a threshold means money spent.
local function cross(b, s)
  local util, out = utilization(b, s), {}
  for _, th in ipairs(b.th) do
    if util >= n(th) then
      if redis.call('SADD', b.thr, f17(n(th))) == 1 then out[#out + 1] = f17(n(th)) end
    elseif b.rolling then
      redis.call('SREM', b.thr, f17(n(th)))
    end
  end
  if redis.call('EXISTS', b.thr) == 1 then expire(b.thr, b.exp) end
  return out
end

local LEASES = P.prefix .. 'leases'
local function rsv_key(id) return P.prefix .. 'r:' .. id end

-- Releases a reservation once (its amounts, and its probes). A probe that never
-- reported (cancelled, or its process died) gives its slot back when asked.
local function release(id, give_back)
  local key = rsv_key(id)
  local R = hgetall(key)
  if R.n == nil then return nil end
  if R.released ~= '1' then
    for i = 1, n(R.n) do
      local acct = R['k' .. i]
      if acct and redis.call('EXISTS', acct) == 1 then
        for u = 1, 3 do
          local a = n(R[UNITS[u] .. i])
          if a ~= 0 then
            local left = n(redis.call('HINCRBYFLOAT', acct, 'r:' .. UNITS[u], f17(-a)))
            if left < 1e-9 then redis.call('HSET', acct, 'r:' .. UNITS[u], '0') end
          end
        end
      end
      if R['p' .. i] == '1' then
        local fk = R['f' .. i]
        local inflight = n(redis.call('HGET', fk, 'probesInFlight'))
        if inflight > 0 then redis.call('HSET', fk, 'probesInFlight', f17(inflight - 1)) end
        if give_back and redis.call('HGET', fk, 'state') == 'half_open' then
          redis.call('HINCRBY', fk, 'probesLeft', 1)
        end
      end
    end
    redis.call('HSET', key, 'released', '1')
  end
  return R
end

-- Reservations whose lease ended (their process died, or the call outlived it).
local function reap()
  local ids = redis.call('ZRANGEBYSCORE', LEASES, '-inf', f17(now), 'LIMIT', 0, 20)
  for _, id in ipairs(ids) do
    release(id, true)
    redis.call('ZREM', LEASES, id)
  end
end

-- One settlement: release the reservation, add the spend to the current window,
-- cross thresholds, trip on a reached limit, close after the last good probe.
-- A retried settlement (cond) applies only if its reservation is still there:
-- the first attempt, if it ran, deleted it.
-- Observed spend (obs: no reservation) claims its id first: applied once, retried or not.
local function settle_one(op)
  if op.obs and not redis.call('SET', P.prefix .. 'o:' .. op.rid, '1', 'NX', 'PX', f17(n(op.obs))) then
    return nil
  end
  local R = release(op.rid, false)
  if R == nil and op.cond then return nil end
  if R ~= nil then
    redis.call('DEL', rsv_key(op.rid))
    redis.call('ZREM', LEASES, op.rid)
  end
  local actual = nums(op.actual)
  local states, crossed = {}, {}
  for i, b in ipairs(op.budgets) do
    add_spend(b, actual)
    local F = read_fuse(b.fuse)
    local s, r = read_account(b)
    local probe = R ~= nil and R['p' .. i] == '1'
    crossed[i] = cross(b, s)
    if exhausted(b, s) then
      if F.state ~= 'open' then trip(b, F) end
    elseif probe and F.state == 'half_open' and F.probesInFlight == 0 then
      close(b, F, 'room')
    end
    write_fuse(b.fuse, F, b.fexp)
    states[i] = state_out(b, F, s, r)
  end
  return {states = states, crossed = crossed}
end
`;
