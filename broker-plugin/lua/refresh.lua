-- Terminals still connected to this broker: ARGV[5] how long the records
-- last (ms), ARGV[6..] their IDs. Each record is renewed (unless another
-- broker took the terminal since) and the inbox drained, in case a word on
-- this broker's channel was lost.
for i = 6, #ARGV do
  local id = ARGV[i]
  local tk = P .. 't:' .. id
  local at = redis.call('GET', tk)
  if not at or at == ME then
    redis.call('SET', tk, ME, 'PX', ARGV[5])
    drain(id)
  end
end
return out
