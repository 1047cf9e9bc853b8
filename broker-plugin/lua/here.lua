-- A terminal connected to this broker: ARGV[5] its ID, [6] how long the
-- record lasts (ms). Records it and hands over what its inbox holds.
redis.call('SET', P .. 't:' .. ARGV[5], ME, 'PX', ARGV[6])
drain(ARGV[5])
return out
