-- A broker stopping with replies it could not publish any more: ARGV[5] the
-- terminal, ARGV[6..] the replies, oldest first. They go to the terminal's
-- inbox, handed over where it connects next; the terminal is no longer
-- recorded here.
local id = ARGV[5]
local ik = P .. 'in:' .. id
for i = 6, #ARGV do
  redis.call('RPUSH', ik, ARGV[i])
end
if redis.call('LLEN', ik) > INBOX_MAX then
  redis.call('LTRIM', ik, -INBOX_MAX, -1)
end
redis.call('PEXPIRE', ik, INBOX_TTL)
local tk = P .. 't:' .. id
if redis.call('GET', tk) == ME then
  redis.call('DEL', tk)
end
return out
