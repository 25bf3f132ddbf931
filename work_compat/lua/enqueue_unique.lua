-- enqueue_unique: queue a job unless its unique key is held (gocraft redisLuaEnqueueUnique).
-- KEYS[1]  P jobs:N (the queue)
-- KEYS[2]  the unique key, P unique:N:<Go-JSON of args or key map>\n
-- ARGV[1]  the job bytes
-- ARGV[2]  the value to hold at the unique key: "1" (args) or the job bytes (key map)
-- returns  "ok" when queued; "dup" when the key was held (its value and 24 h TTL are renewed)
if redis.call('set', KEYS[2], ARGV[2], 'NX', 'EX', 86400) then
  -- Unlike Go's script, release the key if the push fails, so a retry is not blocked for 24 h.
  local pushed = redis.pcall('lpush', KEYS[1], ARGV[1])
  if type(pushed) == 'table' and pushed.err then
    redis.call('del', KEYS[2])
    return redis.error_reply(pushed.err)
  end
  return 'ok'
end
redis.call('set', KEYS[2], ARGV[2], 'EX', 86400)
return 'dup'
