-- fetch_job: move jobs from the first eligible queues to this pool's in-progress lists
-- (gocraft redisLuaFetchJob, which takes one job; with ARGV[2] = 1 this does exactly that).
-- KEYS     groups of six per job name, in the sampled order:
--            P jobs:N, P jobs:N:POOL:inprogress, P jobs:N:paused, P jobs:N:lock,
--            P jobs:N:lock_info, P jobs:N:max_concurrency
-- ARGV[1]  the pool id
-- ARGV[2]  the most jobs to take (the pool's idle workers)
-- returns  nil, or a flat list {job bytes, queue key, in-progress key, ...}
-- A group is eligible when its queue is not empty, its paused key does not exist, and its lock
-- is under max_concurrency (missing or 0: no cap). Each job taken does INCR lock and
-- HINCRBY lock_info POOL 1, as Go's fetch does, so Go pools and reapers see the same counts.
-- Several jobs are taken round-robin over the eligible groups, so the sampled order still decides
-- which name goes first.
local pool = ARGV[1]
local want = tonumber(ARGV[2])
local out = {}
local room = {}
for i = 1, #KEYS, 6 do
  local r = 0
  if redis.call('llen', KEYS[i]) > 0 and not redis.call('get', KEYS[i + 2]) then
    local cap = tonumber(redis.call('get', KEYS[i + 5]))
    -- a missing lock counts as 0 (Go's one-job fetch calls that eligible; a batch must still stop at cap)
    local held = tonumber(redis.call('get', KEYS[i + 3])) or 0
    if not cap or cap == 0 then
      r = want
    elseif held < cap then
      r = cap - held
    end
  end
  room[i] = r
end
local progress = true
while want > 0 and progress do
  progress = false
  for i = 1, #KEYS, 6 do
    if want > 0 and room[i] > 0 then
      local job = redis.call('rpoplpush', KEYS[i], KEYS[i + 1])
      if job then
        redis.call('incr', KEYS[i + 3])
        redis.call('hincrby', KEYS[i + 4], pool, 1)
        out[#out + 1] = job
        out[#out + 1] = KEYS[i]
        out[#out + 1] = KEYS[i + 1]
        room[i] = room[i] - 1
        want = want - 1
        progress = true
      else
        room[i] = 0
      end
    end
  end
end
if #out == 0 then
  return nil
end
return out
