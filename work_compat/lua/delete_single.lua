-- delete_single: remove the member with a given score and job id from a sorted set
-- (gocraft redisLuaDeleteSingleCmd; used for dead, retry and scheduled jobs).
-- KEYS[1]  the sorted set
-- ARGV[1]  the score (run_at, retry_at or died_at)
-- ARGV[2]  the job id
-- returns  {number removed, bytes of the last member removed or ""}
local members = redis.call('zrangebyscore', KEYS[1], ARGV[1], ARGV[1])
local removed = 0
local last = ''
for _, member in ipairs(members) do
  -- A member that is not JSON is passed over rather than failing the whole delete.
  local ok, job = pcall(cjson.decode, member)
  if ok and type(job) == 'table' and job['id'] == ARGV[2] then
    redis.call('zrem', KEYS[1], member)
    removed = removed + 1
    last = member
  end
end
return {removed, last}
