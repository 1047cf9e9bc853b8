-- card/<peer>: ARGV[5] sender, [6] peer, [7] exchange ID, [8] kind
-- ("plain", "pk", "sealed"), [9] the payload for the peer (its "card" or
-- "pk" reply, encoded by the broker), [10] require_sealed (1/0). The checks
-- are the memory engine's (cx_engine_card).
local sender, peer, xid, kind, payload = ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local require_sealed = ARGV[10] == '1'
local now = now_ms()
local xk = P .. 'x:' .. xid
local x = redis.call('HMGET', xk, 'a', 'b', 'sent', 'pk', 'sealed', 'due')
if not x[6] then
  err(sender, 'unknown-exchange', '', 0, '', xid)
  return out
end
if tonumber(x[6]) <= now then
  expire_exchange(xid, x[1], x[2])
  err(sender, 'unknown-exchange', '', 0, '', xid)
  return out
end
local a, b, sent, pks, sealed = x[1], x[2], tonumber(x[3]), tonumber(x[4]), x[5] == '1'
local bit_, other
if sender == a then
  bit_, other = 1, b
elseif sender == b then
  bit_, other = 2, a
else
  err(sender, 'not-peer', '', 0, '', xid)
  return out
end
if peer ~= other then
  err(sender, 'not-peer', '', 0, '', xid)
  return out
end
local function has(v, b_) return v % (2 * b_) >= b_ end
if has(sent, bit_) then
  err(sender, 'already-sent', '', 0, '', xid)
  return out
end
if kind == 'pk' then
  if not sealed then
    err(sender, 'bad-order', 'this exchange is not sealed: its claim carried no commit', 0, '', xid)
    return out
  end
  if has(pks, bit_) then
    err(sender, 'already-sent', 'this terminal already sent its key in this exchange', 0, '', xid)
    return out
  end
  if bit_ == 2 and not has(pks, 1) then
    err(sender, 'bad-order', 'the claimer sends its key only after the offerer\'s', 0, '', xid)
    return out
  end
  redis.call('HSET', xk, 'pk', pks + bit_)
  route(other, payload)
  return out
elseif kind == 'sealed' then
  if pks ~= 3 then
    err(sender, 'bad-order', 'a sealed card passes only after both keys', 0, '', xid)
    return out
  end
else
  if require_sealed then
    err(sender, 'sealed-required', 'this server accepts only sealed cards', 0, '', xid)
    return out
  end
  if has(pks, bit_) then
    err(sender, 'bad-order', 'this terminal sealed this exchange: its card must be sealed', 0, '', xid)
    return out
  end
end
route(other, payload)
here(sender, j_sent(xid, other))
sent = sent + bit_
if sent == 3 then
  redis.call('DEL', xk)
  redis.call('ZREM', P .. 'dx', xid)
else
  redis.call('HSET', xk, 'sent', sent)
end
return out
