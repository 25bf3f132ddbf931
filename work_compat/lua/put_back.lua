-- put_back: return fetched jobs, bytes unchanged, to the front of their queues (the RPOP side),
-- undoing the fetch's lock counts. Used when a pool stops with fetched jobs it never started,
-- and by handlers that hand a job back untouched (rate limits). The state it leaves is the one
-- before the fetch, which every Go peer reads as usual.
-- KEYS     groups of four per job: in-progress key, queue key, P jobs:N:lock, P jobs:N:lock_info
-- ARGV[1]  the pool id
-- ARGV[2..] the job bytes, one per group, in the same order
-- returns  how many jobs were found in progress and put back
local back = 0
for g = 0, (#KEYS / 4) - 1 do
  local i = g * 4 + 1
  local job = ARGV[g + 2]
  if redis.call('lrem', KEYS[i], 1, job) == 1 then
    redis.call('rpush', KEYS[i + 1], job)
    redis.call('decr', KEYS[i + 2])
    redis.call('hincrby', KEYS[i + 3], ARGV[1], -1)
    back = back + 1
  end
end
return back
