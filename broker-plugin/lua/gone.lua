-- A terminal left this broker: ARGV[5] its ID. Its record goes, unless it
-- names another broker already.
local tk = P .. 't:' .. ARGV[5]
if redis.call('GET', tk) == ME then
  redis.call('DEL', tk)
end
return out
