-- chord_part: count one finished header task of a chord, exactly once (spec D15).
--
-- KEYS[1]  the finished task's canvas side key   <ns>:celery:canvas:<task_id>
-- KEYS[2]  the chord's counter                    <ns>:celery:chord:<group_id>
-- ARGV[1]  TTL of the counter in seconds (0: keep it until the chord completes)
--
-- Returns the counter after this task, or -1 when the side key is already gone: this task was
-- counted before (a rerun after a crash, or a duplicate delivery), so it must not count again.
-- Deleting the side key and incrementing in one script is what makes the count exact.

if redis.call('DEL', KEYS[1]) == 0 then
  return -1
end
local n = redis.call('INCR', KEYS[2])
local ttl = tonumber(ARGV[1])
if ttl > 0 then
  redis.call('EXPIRE', KEYS[2], ttl)
end
return n
