-- work_step: complete the jobs a worker finished, then fetch its next jobs, in one round trip.
-- The completion part is gocraft's completion MULTI (§4.8) per job; the fetch part is gocraft's
-- redisLuaFetchJob (§4.6), taking up to ARGV[3] jobs (1 = exactly Go's fetch).
-- KEYS[1..4]  P retry, P dead, P history, P history:index
-- then four per completed job: its in-progress key, P jobs:N:lock, P jobs:N:lock_info,
--             P history:M (N: the queue it was fetched from; M: its name), or for a job handed
--             back unstarted, its queue P jobs:N instead of the history key
-- then six per job name to fetch, in the sampled order: P jobs:N, P jobs:N:POOL:inprogress,
--             P jobs:N:paused, P jobs:N:lock, P jobs:N:lock_info, P jobs:N:max_concurrency
-- ARGV[1]     the pool id
-- ARGV[2]     the number of completed jobs
-- ARGV[3]     the most jobs to fetch (0: only complete)
-- then seven per completed job: the exact fetched bytes, the fate ("success", "retry", "dead" or
--             "discard", or "put_back": back to the front of its queue, bytes unchanged, as
--             if never fetched), the fate's score, the fate's member (job JSON, or ""), the history
--             entry (or ""), completed_at, the job id
-- then one per job name to fetch: its quota, how many of the jobs it is asked for first
-- returns     {completed, failures, fetch error, job bytes, queue key, in-progress key, ...}
--             failures: four per write that met an error (a key of the wrong Redis type): the
--             completion's 0-based index, the key, the error, and 1 if the completion was not
--             written (its job is still in progress; send it again later) or 0 if it was and only
--             that key's write was skipped (a lock counter, a history entry)
--             fetch error: "" or the error that stopped the fetch; the jobs taken before it are
--             returned, with their counters
--
-- LREM searches from the tail, where the oldest fetched jobs are (the fetch pushes to the head): a
-- list shared by many workers is long, and the job completed is most often among the oldest.
-- Completions are written in ARGV order: jobs handed back are given in reverse fetch order, so the
-- first fetched ends at the front again. A completion writes only if its fetched bytes were still in progress (LREM removed one): a
-- call repeated after a lost reply, or a job a reaper already requeued, does not change the lock
-- counters twice. Every completion write uses pcall, so one key of the wrong type cannot stop the
-- other completions (a job named "index" would collide with the fork's history index, too): a fate
-- write that fails puts the job back in progress, so nothing is lost, and the caller sends it again.
-- The fetch runs under pcall as well; RPOPLPUSH checks both keys' types before it moves a job, and
-- a counter that cannot be raised moves that job back, so a failed fetch strands nothing. A fetch group is eligible when its queue is not empty, its
-- paused key does not exist and its lock is under max_concurrency (missing or 0: no cap); every
-- job taken does INCR lock and HINCRBY lock_info POOL 1, as Go's fetch does. A first pass takes
-- each group's quota (drawn by priority, as that many one-job Go fetches would choose); what an
-- empty, paused or capped group leaves untaken then goes to the eligible groups in the sampled
-- order, as a Go fetch falls through to its next queue.
local pool = ARGV[1]
local completed = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local done = 0
local failures = {}
local function failed(j, key, reply, kept)
  failures[#failures + 1] = j
  failures[#failures + 1] = key
  failures[#failures + 1] = reply.err
  failures[#failures + 1] = kept
end
-- Counter and history writes are gathered per key and sent once per key: one DECRBY for all the
-- jobs of a queue instead of one DECR each, one ZADD with every history entry. The script is atomic,
-- so Redis ends exactly as after Go's per-job writes, for about half the server's work per job.
local gathered = {} -- key -> {command, {completion indexes}, {arguments}}
local order = {}
local function gather(key, command, j, ...)
  local g = gathered[key]
  if not g then
    g = {command, {}, {}}
    gathered[key] = g
    order[#order + 1] = key
  end
  g[2][#g[2] + 1] = j
  local a = g[3]
  for _, v in ipairs({...}) do
    a[#a + 1] = v
  end
end
for j = 0, completed - 1 do
  local k = 5 + j * 4
  local a = 4 + j * 7
  local removed = redis.pcall('lrem', KEYS[k], -1, ARGV[a])
  if type(removed) == 'table' then
    failed(j, KEYS[k], removed, 1)
  elseif removed == 1 then
    local fate = ARGV[a + 1]
    local reply, at = nil, nil
    if fate == 'put_back' then
      reply, at = redis.pcall('rpush', KEYS[k + 3], ARGV[a]), KEYS[k + 3]
    elseif fate == 'retry' then
      reply, at = redis.pcall('zadd', KEYS[1], ARGV[a + 2], ARGV[a + 3]), KEYS[1]
    elseif fate == 'dead' then
      reply, at = redis.pcall('zadd', KEYS[2], ARGV[a + 2], ARGV[a + 3]), KEYS[2]
    end
    if type(reply) == 'table' and reply.err then
      redis.call('rpush', KEYS[k], ARGV[a]) -- still in progress: the counters stay as they were
      failed(j, at, reply, 1)
    else
      gather(KEYS[k + 1], 'decrby', j)
      gather(KEYS[k + 2], 'hincrby', j)
      local entry = ARGV[a + 4]
      if entry ~= '' then
        gather(KEYS[3], 'zadd', j, ARGV[a + 5], entry)
        gather(KEYS[k + 3], 'zadd', j, ARGV[a + 5], entry)
        gather(KEYS[4], 'hset', j, ARGV[a + 6], entry)
      end
      done = done + 1
    end
  end
end
local CHUNK = 2000 -- arguments per call, well under Lua's limit on unpack
for _, key in ipairs(order) do
  local command, js, args = gathered[key][1], gathered[key][2], gathered[key][3]
  local reply
  if command == 'decrby' then
    reply = redis.pcall('decrby', key, #js)
  elseif command == 'hincrby' then
    reply = redis.pcall('hincrby', key, pool, -#js)
  else
    for i = 1, #args, CHUNK do
      reply = redis.pcall(command, key, unpack(args, i, math.min(i + CHUNK - 1, #args)))
      if type(reply) == 'table' and reply.err then
        break
      end
    end
  end
  if type(reply) == 'table' and reply.err then
    for _, j in ipairs(js) do
      failed(j, key, reply, 0)
    end
  end
end

local out = {done, failures, ''}
local first = 5 + completed * 4
local quota_at = 4 + completed * 7
local room = {}
local function take(i, n)
  local taken = 0
  while want > 0 and n > 0 and room[i] > 0 do
    local job = redis.call('rpoplpush', KEYS[i], KEYS[i + 1])
    if not job then
      room[i] = 0
      break
    end
    out[#out + 1] = job
    out[#out + 1] = KEYS[i]
    out[#out + 1] = KEYS[i + 1]
    taken = taken + 1
    room[i] = room[i] - 1
    want = want - 1
    n = n - 1
  end
  if taken == 0 then
    return
  end
  -- every job taken counts, as Go's fetch counts each: INCR lock and HINCRBY lock_info POOL 1
  local counted = redis.pcall('incrby', KEYS[i + 3], taken)
  if type(counted) ~= 'table' then
    counted = redis.pcall('hincrby', KEYS[i + 4], pool, taken)
    if type(counted) == 'table' then
      redis.call('decrby', KEYS[i + 3], taken)
    end
  end
  if type(counted) == 'table' then -- not counted: the jobs go back where they were, in order
    for _ = 1, taken do
      redis.call('rpush', KEYS[i], redis.call('lpop', KEYS[i + 1]))
      out[#out] = nil
      out[#out] = nil
      out[#out] = nil
    end
    error(counted)
  end
end
local function fetch()
  for i = first, #KEYS, 6 do
    local r = 0
    if want > 0 and redis.call('llen', KEYS[i]) > 0 and not redis.call('get', KEYS[i + 2]) then
      local cap = tonumber(redis.call('get', KEYS[i + 5]))
      -- a missing lock counts as 0: Go's one-job fetch calls that eligible; a batch stops at the cap
      local held = tonumber(redis.call('get', KEYS[i + 3])) or 0
      if not cap or cap == 0 then
        r = want
      elseif held < cap then
        r = cap - held
      end
    end
    room[i] = r
  end
  for i = first, #KEYS, 6 do
    take(i, tonumber(ARGV[quota_at + (i - first) / 6]) or 0)
  end
  for i = first, #KEYS, 6 do
    take(i, want)
  end
end
local ok, err = pcall(fetch)
if not ok then
  out[3] = type(err) == 'table' and err.err or tostring(err)
end
return out
