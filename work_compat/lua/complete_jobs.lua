-- complete_jobs: finish a batch of jobs this pool ran (gocraft's completion MULTI, §4.8, per job).
-- KEYS[1]  P retry
-- KEYS[2]  P dead
-- KEYS[3]  P history
-- KEYS[4]  P history:index
-- then groups of four per job: in-progress key, P jobs:N:lock, P jobs:N:lock_info, P history:N
--          (N: the name of the queue the job was fetched from)
-- ARGV[1]  the pool id
-- then seven per job: the exact fetched bytes, the fate ("success", "retry", "dead" or "discard"),
--          the fate's score, the fate's member (job JSON, or ""), the history entry (or ""),
--          completed_at, the job id
-- returns  how many jobs were completed
-- Each job's writes happen only if its fetched bytes were still in progress (LREM removed one), so
-- a batch written twice after a lost reply, or a job a reaper already requeued, is not counted
-- twice in the lock counters. History writes use pcall: a job named "index" collides with the
-- fork's id index, and must not stop the other writes.
local pool = ARGV[1]
local done = 0
local jobs = (#KEYS - 4) / 4
for j = 0, jobs - 1 do
  local k = 5 + j * 4
  local a = 2 + j * 7
  if redis.call('lrem', KEYS[k], 1, ARGV[a]) == 1 then
    redis.call('decr', KEYS[k + 1])
    redis.call('hincrby', KEYS[k + 2], pool, -1)
    local fate = ARGV[a + 1]
    if fate == 'retry' then
      redis.call('zadd', KEYS[1], ARGV[a + 2], ARGV[a + 3])
    elseif fate == 'dead' then
      redis.call('zadd', KEYS[2], ARGV[a + 2], ARGV[a + 3])
    end
    local entry = ARGV[a + 4]
    if entry ~= '' then
      redis.pcall('zadd', KEYS[3], ARGV[a + 5], entry)
      redis.pcall('zadd', KEYS[k + 3], ARGV[a + 5], entry)
      redis.pcall('hset', KEYS[4], ARGV[a + 6], entry)
    end
    done = done + 1
  end
end
return done
