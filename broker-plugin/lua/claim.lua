-- claim/<owner>: ARGV[5] claimer, [6] owner, [7] address key ("" unknown),
-- [8] MAC of owner and key (hex), [9] ref, [10] commit, [11] from,
-- [12] a fresh exchange ID, [13] a random MAC compared when there is no
-- offer, [14] claim_failures_per_min, [15] ..._per_address, [16] ..._total,
-- [17] exchange_ttl (s), [18] max_exchanges, [19] require_sealed (1/0).
-- The checks and their order are the memory engine's (engine.h,
-- cx_engine_claim_from).
local claimer, owner, addr, mac, ref, commit, from = ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11]
local xid, dummy = ARGV[12], ARGV[13]
local per_min, per_addr, total = tonumber(ARGV[14]), tonumber(ARGV[15]), tonumber(ARGV[16])
local xttl, max_x, require_sealed = tonumber(ARGV[17]), tonumber(ARGV[18]), ARGV[19] == '1'
local now = now_ms()
local rk = P .. 'rc:' .. claimer

-- A copy of the last evaluated claim is answered as it was.
local r = redis.call('HMGET', rk, 'ref', 'mac', 'out', 'xid')
if r[1] and r[1] == ref and r[2] == mac then
  if r[3] == 'm' then
    local x = redis.call('HMGET', P .. 'x:' .. r[4], 'a', 'b', 'due')
    if x[3] and tonumber(x[3]) > now and x[2] == claimer then
      here(claimer, j_match(r[4], x[1], secs(now, tonumber(x[3])), ref, nil))
      return out
    end
  end
  err(claimer, 'no-match', '', 0, ref)
  return out
end

-- A window: its count and the ms it has left, or nil.
local function window(k)
  local n = redis.call('GET', k)
  if not n then return nil, 0 end
  local t = redis.call('PTTL', k)
  if t <= 0 then return nil, 0 end
  return tonumber(n), t
end
local fc, fa, ft = P .. 'fc:' .. claimer, P .. 'fa:' .. addr, P .. 'ft'
local own, own_t = window(fc)
local at, at_t = nil, 0
if addr ~= '' then at, at_t = window(fa) end
local tot, tot_t = window(ft)
local retry = 0
if own and own >= per_min then
  retry = secs(0, own_t)
elseif tot and tot >= 2 * total then
  retry = secs(0, tot_t)
elseif own then
  local shared = 0
  if at and at >= per_addr then shared = secs(0, at_t) end
  if tot and tot >= total then shared = math.max(shared, secs(0, tot_t)) end
  if shared > 0 then retry = math.min(secs(0, own_t), shared) end
end
if retry > 0 then
  err(claimer, 'rate-limited', '', retry, ref)
  return out
end
if from ~= '' and from ~= claimer then
  err(claimer, 'bad-request', 'from is not the sender\'s terminal ID', 0, ref)
  return out
end
if require_sealed and commit == '' then
  err(claimer, 'sealed-required', 'this server accepts only sealed exchanges: the claim needs a "commit"', 0, ref)
  return out
end
if claimer == owner then
  err(claimer, 'self-claim', '', 0, ref)
  return out
end

-- Evaluated: a missing offer is compared against a random MAC, as a live one.
local ok = P .. 'o:' .. owner
local o = redis.call('HMGET', ok, 'mac', 'ref', 'left', 'due')
local live = o[4] and tonumber(o[4]) > now
if o[4] and not live then
  expire_offer(owner, o[2])
end
local omac = dummy
if live then omac = o[1] end
if omac == mac and live then
  if redis.call('ZCOUNT', P .. 'dx', '(' .. now, '+inf') >= max_x then
    err(claimer, 'capacity', 'the server holds as many live exchanges as it is configured to; try again later', 0, ref)
    return out
  end
  local xk = P .. 'x:' .. xid
  if redis.call('EXISTS', xk) == 1 then
    err(claimer, 'internal', '', 0, ref)
    return out
  end
  local due = now + xttl * 1000
  local sealed = 0
  if commit ~= '' then sealed = 1 end
  redis.call('HSET', xk, 'a', owner, 'b', claimer, 'sent', 0, 'pk', 0, 'sealed', sealed, 'due', due)
  redis.call('PEXPIREAT', xk, due + GRACE_MS)
  redis.call('ZADD', P .. 'dx', due, xid)
  redis.call('DEL', ok)
  redis.call('ZREM', P .. 'do', owner)
  route(owner, j_match(xid, claimer, xttl, o[2], commit))
  here(claimer, j_match(xid, owner, xttl, ref, nil))
  redis.call('HSET', rk, 'ref', ref, 'mac', mac, 'out', 'm', 'xid', xid)
  redis.call('PEXPIRE', rk, WINDOW_MS)
  return out
end

-- No match: one failure in each window, the claimer's answer first.
local function count(k)
  if redis.call('INCR', k) == 1 then redis.call('PEXPIRE', k, WINDOW_MS) end
end
count(fc)
if addr ~= '' then count(fa) end
count(ft)
err(claimer, 'no-match', '', 0, ref)
if live then
  local left = tonumber(o[3]) - 1
  if left > 0 then
    redis.call('HSET', ok, 'left', left)
    route(owner, j_attempt(left, o[2]))
  else
    redis.call('DEL', ok)
    redis.call('ZREM', P .. 'do', owner)
    route(owner, j_revoked('attempts', o[2]))
  end
end
redis.call('HSET', rk, 'ref', ref, 'mac', mac, 'out', 'n', 'xid', '')
redis.call('PEXPIRE', rk, WINDOW_MS)
return out
