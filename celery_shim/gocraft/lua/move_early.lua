-- move_early: move one member of the scheduled or retry set to its queue before its whole-second
-- score comes round, because the exact eta in its "celery" metadata has come. The sets keep
-- whole-second scores (gocraft's, and Go pools', view of them: a Go pool never runs a job early);
-- celery_shim's Python workers use this to honour sub-second countdowns and retry delays. The
-- member's bytes are pushed unchanged ("t" stays the enqueue time).
-- KEYS[1]  the sorted set (P scheduled or P retry)
-- KEYS[2]  the job's queue (P jobs:N)
-- ARGV[1]  the member
-- returns  1 when moved, 0 when a requeuer or another worker moved (or someone deleted) it first
if redis.call('zrem', KEYS[1], ARGV[1]) == 1 then
  redis.call('lpush', KEYS[2], ARGV[1])
  return 1
end
return 0
