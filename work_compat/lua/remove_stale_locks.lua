-- remove_stale_locks: take a dead pool's share out of the lock counters
-- (gocraft redisLuaRemoveStaleKeys).
-- KEYS     pairs per job name: P jobs:N:lock, P jobs:N:lock_info
-- ARGV[1]  the dead pool's id
-- returns  nil
for i = 1, #KEYS, 2 do
  local held = tonumber(redis.call('hget', KEYS[i + 1], ARGV[1]))
  if held then
    redis.call('decrby', KEYS[i], held)
    redis.call('hdel', KEYS[i + 1], ARGV[1])
    if (tonumber(redis.call('get', KEYS[i])) or 0) < 0 then
      redis.call('set', KEYS[i], 0)
    end
  end
end
return nil
