-- A word on this broker's channel: ARGV[5] the terminal whose inbox got
-- replies. Handed over when the terminal is still connected here.
if redis.call('GET', P .. 't:' .. ARGV[5]) == ME then
  drain(ARGV[5])
end
return out
