-- requeue_single_dead: move one dead job back to its queue (gocraft redisLuaRequeueSingleDeadCmd).
-- KEYS[1]     P dead
-- KEYS[2..n]  P jobs:N of every name in known_jobs
-- ARGV[1]     P jobs: (the jobs prefix)
-- ARGV[2]     now, epoch seconds
-- ARGV[3]     the died_at score
-- ARGV[4]     the job id
-- returns     the number of jobs requeued. A job whose queue is not in KEYS goes back to dead at
--             now + 5 with err "unknown job when requeueing", as Go's client does.
local known = {}
for i = 2, #KEYS do known[KEYS[i]] = true end
local now = tonumber(ARGV[2])
local requeued = 0
for _, member in ipairs(redis.call('zrangebyscore', KEYS[1], ARGV[3], ARGV[3])) do
  local ok, job = pcall(cjson.decode, member)
  if ok and type(job) == 'table' and job['id'] == ARGV[4] then
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
