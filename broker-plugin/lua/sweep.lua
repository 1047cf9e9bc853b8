-- Expiry notices: ARGV[5] the most offers and the most exchanges handled.
-- Takes due entries from the timer sets; an entry whose object has a later
-- due (replaced) or is gone (matched, completed) is only dropped. The last
-- action, {"s", "", "more"} or {"s", "", "done"}, says whether a set held
-- as many due entries as the budget (the broker sweeps again at once).
local budget = tonumber(ARGV[5])
local now = now_ms()
local owners = redis.call('ZRANGEBYSCORE', P .. 'do', '-inf', now, 'LIMIT', 0, budget)
for i = 1, #owners do
  local o = redis.call('HMGET', P .. 'o:' .. owners[i], 'ref', 'due')
  if o[2] and tonumber(o[2]) <= now then
    expire_offer(owners[i], o[1])
  else
    redis.call('ZREM', P .. 'do', owners[i])
  end
end
local xids = redis.call('ZRANGEBYSCORE', P .. 'dx', '-inf', now, 'LIMIT', 0, budget)
for i = 1, #xids do
  local x = redis.call('HMGET', P .. 'x:' .. xids[i], 'a', 'b', 'due')
  if x[3] and tonumber(x[3]) <= now then
    expire_exchange(xids[i], x[1], x[2])
  else
    redis.call('ZREM', P .. 'dx', xids[i])
  end
end
local more = 'done'
if #owners >= budget or #xids >= budget then more = 'more' end
out[#out + 1] = {'s', '', more}
return out
