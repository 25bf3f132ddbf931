-- requeue_dead: move dead jobs back to their queues, either one job (Go's client
-- RetryDeadJob, redisLuaRequeueSingleDeadCmd) or the due ones in batches (RetryAllDeadJobs,
-- redisLuaRequeueAllDeadCmd). One script, as both make the same move.
-- KEYS[1]     P dead
-- KEYS[2..n]  P jobs:N of every name in known_jobs
-- ARGV[1]     P jobs: (the jobs prefix)
-- ARGV[2]     now, epoch seconds
-- ARGV[3]     all:    the most members scored <= now to consider in this call
--             single: the died_at score of the job
-- ARGV[4]     single: the job id; absent for all
-- returns     the number of jobs requeued. A job whose queue is not in KEYS goes back to dead at
--             now + 5 with err "unknown job when requeueing" and is not counted, as in Go.
local known = {}
for i = 2, #KEYS do known[KEYS[i]] = true end
local now = tonumber(ARGV[2])
local single_id = ARGV[4]
local members
if single_id then
  members = redis.call('zrangebyscore', KEYS[1], ARGV[3], ARGV[3])
else
  members = redis.call('zrangebyscore', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
end
local requeued = 0
for _, member in ipairs(members) do
  local ok, job = pcall(cjson.decode, member)
  if ok and type(job) == 'table' and (single_id == nil or job['id'] == single_id) then
    -- The new copy first, then the removal: a queue of the wrong type fails the script with
    -- the member still in dead, instead of after removing it.
    local queue = type(job['name']) == 'string' and (ARGV[1] .. job['name']) or nil
    if queue and known[queue] then
      job['t'] = now
      job['fails'] = nil
      job['failed_at'] = nil
      job['err'] = nil
      redis.call('lpush', queue, cjson.encode(job))
      redis.call('zrem', KEYS[1], member)
      requeued = requeued + 1
    else
      job['err'] = 'unknown job when requeueing'
      job['failed_at'] = now
      redis.call('zrem', KEYS[1], member)
      redis.call('zadd', KEYS[1], now + 5, cjson.encode(job))
    end
  end
end
return requeued
