-- reenqueue_job: give one job of a dead pool back to its queue (gocraft redisLuaReenqueueJob).
-- KEYS     groups of four per job name: P jobs:N:DEAD:inprogress, P jobs:N, P jobs:N:lock,
--          P jobs:N:lock_info
-- ARGV[1]  the dead pool's id
-- returns  nil when nothing was left, else {job bytes, in-progress key, queue key}
-- The earliest-fetched job (right end) goes to the back of the queue (left end), bytes
-- unchanged, and the dead pool's lock counts drop by one.
for i = 1, #KEYS, 4 do
  local job = redis.call('rpoplpush', KEYS[i], KEYS[i + 1])
  if job then
    redis.call('decr', KEYS[i + 2])
    redis.call('hincrby', KEYS[i + 3], ARGV[1], -1)
    return {job, KEYS[i], KEYS[i + 1]}
  end
end
return nil
