-- Record a newly minted fencing token on one node, only where we still hold the lock.
--
-- KEYS[1]  lock key
-- KEYS[2]  fence key
-- ARGV[1]  owner
-- ARGV[2]  token, a decimal u64 without leading zeros
-- ARGV[3]  ms the counter is kept after this write (tokens after it expired grow from
--          the nodes' clocks: see acquire.lua)
--
-- Returns 1 if the node holds our lock (its counter is now >= token), 0 otherwise.
--
-- The counter is a max-register: it only ever grows. Tokens are compared as decimal
-- strings (longer is larger, then lexicographic) so that all of u64 is exact; Lua numbers
-- are doubles and would round above 2^53.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
local current = redis.call('GET', KEYS[2])
if (not current) or #ARGV[2] > #current or (#ARGV[2] == #current and ARGV[2] > current) then
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
else
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
return 1
