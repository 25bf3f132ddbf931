-- requeue_due: move due jobs from the scheduled or retry set to their queues with "t" set to
-- now, as Go does (gocraft redisLuaZremLpushCmd moves one job, sets t and re-encodes it with
-- cjson, which rounds long numbers and turns [] into {}). This moves up to ARGV[3] jobs and only
-- rewrites the digits of "t" in the Go-ordered head {"name":"..","id":"..","t":N, so every other
-- byte stays as stored; a member laid out otherwise is pushed unchanged. So is a unique job: a Go
-- worker releases a by-key unique job by LREMing the lock's value (the job's bytes as enqueued)
-- from its in-progress list, which must therefore still hold those exact bytes (after Go's own
-- requeuer it does not, and the entry leaks: protocol P13).
-- KEYS[1]     the sorted set (P scheduled or P retry)
-- KEYS[2]     P dead
-- KEYS[3..n]  P jobs:N of every name this pool knows
-- ARGV[1]     P jobs: (the jobs prefix)
-- ARGV[2]     now, epoch seconds
-- ARGV[3]     the most jobs to move in this call
-- ARGV[4]     a fresh random seed; a buried member's id is the first 24 hex digits of
--             SHA1(seed .. member), so two members buried in one call get two ids
-- returns     {moved, looked, bad}: jobs moved, due members examined (at most 1000 a call, so a
--             pile of jobs nobody here knows cannot make one call slow), and the first key that
--             refused a write for holding another type ("" when none)
-- A due job whose name this pool does not know is left where it is, for a pool that knows it
-- (as the fork does; the original kills it into dead), and the scan goes on past it. A member
-- that is not JSON or has no name can never be moved by anyone: it goes to dead as a valid job,
-- {"id": <24 hex>, "t": now, "args": {"raw": <member>}, "err": ..., "failed_at": now}, so that
-- listings show it instead of every requeuer failing on it forever.
-- A member is removed only after its new copy was written: a queue (or the dead set) of the wrong
-- type refuses the write, and the member then stays where it is instead of being lost.
local known = {}
for i = 3, #KEYS do known[KEYS[i]] = true end

-- The member with its "t" set to now, when its head is laid out as Go writes it.
local function stamped(member)
  local head = string.match(member, '^{"name":"[^"\\]*","id":"[^"\\]*","t":%-?%d+')
  if not head then return member end
  local after = string.sub(member, #head + 1, #head + 1)
  if after ~= ',' and after ~= '}' then return member end
  return string.match(head, '^(.*"t":)') .. ARGV[2] .. string.sub(member, #head + 1)
end
local now = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local moved = 0
local looked = 0
local offset = 0
local bad = ''
-- Write the member's new copy; false (noting the key) when the key holds another type.
local function write(cmd, key, ...)
  local res = redis.pcall(cmd, key, ...)
  if type(res) == 'table' and res.err then
    if not string.find(res.err, '^WRONGTYPE') then error(res.err) end
    if bad == '' then bad = key end
    return false
  end
  return true
end
while moved < limit and looked < 1000 do
  local due = redis.call('zrangebyscore', KEYS[1], '-inf', ARGV[2], 'LIMIT', offset, 100)
  if #due == 0 then break end
  for _, member in ipairs(due) do
    looked = looked + 1
    local ok, job = pcall(cjson.decode, member)
    local name = ok and type(job) == 'table' and job['name'] or nil
    if type(name) ~= 'string' or name == '' then
      local reason = ok and 'job has no name' or 'job is not valid JSON'
      local buried = cjson.encode({id = string.sub(redis.sha1hex(ARGV[4] .. member), 1, 24), t = now, args = {raw = member}, err = reason .. ' (moved from ' .. KEYS[1] .. ')', fails = 1, failed_at = now})
      if write('zadd', KEYS[2], now, buried) then
        redis.call('zrem', KEYS[1], member)
        offset = offset - 1
      end
    elseif known[ARGV[1] .. name] then
      if write('lpush', ARGV[1] .. name, job['unique'] == true and member or stamped(member)) then
        redis.call('zrem', KEYS[1], member)
        moved = moved + 1
        offset = offset - 1
        if moved >= limit then break end
      end
    end
  end
  offset = offset + #due
end
return {moved, looked, bad}
