-- enqueue_unique_in: schedule a job unless its unique key is held (gocraft redisLuaEnqueueUniqueIn).
-- KEYS[1]  P scheduled
-- KEYS[2]  the unique key
-- ARGV[1]  the job bytes
-- ARGV[2]  the value to hold at the unique key: "1" (args) or the job bytes (key map)
-- ARGV[3]  run-at, epoch seconds (the score)
-- returns  "ok" when scheduled; "dup" when the key was held (its value and 24 h TTL are renewed)
if redis.call('set', KEYS[2], ARGV[2], 'NX', 'EX', 86400) then
  local added = redis.pcall('zadd', KEYS[1], ARGV[3], ARGV[1])
  if type(added) == 'table' and added.err then
    redis.call('del', KEYS[2])
    return redis.error_reply(added.err)
  end
  return 'ok'
end
redis.call('set', KEYS[2], ARGV[2], 'EX', 86400)
return 'dup'
