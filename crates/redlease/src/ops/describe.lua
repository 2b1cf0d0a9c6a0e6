-- Record who holds our lease on one node: the holder's own description (host, process,
-- command...), for `redlease list` and `status`.
--
-- KEYS[1]  lock key
-- KEYS[2]  holder key
-- ARGV[1]  owner
-- ARGV[2]  the description (any text)
--
-- Returns 1 if the lock holds our owner here (the description is stored as
-- "<owner> <text>" with the lock's remaining TTL; extend and release keep it in step), 0
-- otherwise.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
local pttl = redis.call('PTTL', KEYS[1])
if pttl <= 0 then
  return 0
end
redis.call('SET', KEYS[2], ARGV[1] .. ' ' .. ARGV[2], 'PX', pttl)
return 1
