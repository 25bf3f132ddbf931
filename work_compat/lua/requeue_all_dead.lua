-- requeue_all_dead: move up to a limit of due dead jobs back to their queues
-- (gocraft redisLuaRequeueAllDeadCmd).
-- KEYS[1]     P dead
-- KEYS[2..n]  P jobs:N of every name in known_jobs
-- ARGV[1]     P jobs: (the jobs prefix)
-- ARGV[2]     now, epoch seconds; only members scored <= now are considered
-- ARGV[3]     the most members to consider in this call
-- returns     the number of jobs requeued (jobs of unknown names go back to dead at now + 5 and
--             are not counted, as in Go)
local known = {}
for i = 2, #KEYS do known[KEYS[i]] = true end
local now = tonumber(ARGV[2])
local requeued = 0
local members = redis.call('zrangebyscore', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
for _, member in ipairs(members) do
  local ok, job = pcall(cjson.decode, member)
  if ok and type(job) == 'table' then
    redis.call('zrem', KEYS[1], member)
    local queue = type(job['name']) == 'string' and (ARGV[1] .. job['name']) or nil
    if queue and known[queue] then
      job['t'] = now
      job['fails'] = nil
      job['failed_at'] = nil
      job['err'] = nil
      redis.call('lpush', queue, cjson.encode(job))
      requeued = requeued + 1
    else
      job['err'] = 'unknown job when requeueing'
      job['failed_at'] = now
      redis.call('zadd', KEYS[1], now + 5, cjson.encode(job))
    end
  end
end
return requeued
