-- The MAC secret shared by every broker: ARGV[5] (64 hex digits, fresh
-- random) becomes it unless a broker set one before. Returns the secret.
redis.call('SET', KEYS[1], ARGV[5], 'NX')
return redis.call('GET', KEYS[1])
