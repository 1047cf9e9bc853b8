-- keys/<owner>: ARGV[5] owner, [6] key MAC (hex), [7] ref, [8] ttl (s),
-- [9] attempts, [10] max_offers. Replaces a live offer of owner ("revoked",
-- "replaced"), or opens one unless max_offers live offers are held.
local owner, mac, ref = ARGV[5], ARGV[6], ARGV[7]
local ttl, attempts, max_offers = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
local now = now_ms()
local ok = P .. 'o:' .. owner
local o = redis.call('HMGET', ok, 'ref', 'due')
local live = false
if o[2] then
  if tonumber(o[2]) <= now then
    expire_offer(owner, o[1])
  else
    here(owner, j_revoked('replaced', o[1]))
    live = true
  end
end
if not live and redis.call('ZCOUNT', P .. 'do', '(' .. now, '+inf') >= max_offers then
  err(owner, 'capacity', 'the server holds as many pending offers as it is configured to; try again later', 0, ref)
  return out
end
local due = now + ttl * 1000
redis.call('HSET', ok, 'mac', mac, 'ref', ref, 'left', attempts, 'due', due)
redis.call('PEXPIREAT', ok, due + GRACE_MS)
redis.call('ZADD', P .. 'do', due, owner)
here(owner, j_offer(ttl, ref))
return out
