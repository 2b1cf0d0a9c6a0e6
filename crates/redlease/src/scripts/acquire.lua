-- Acquire one resource on one node.
--
-- KEYS[1]  lock key   <prefix>{<resource>}:lock
-- KEYS[2]  fence key  <prefix>{<resource>}:fence
-- ARGV[1]  owner (random, unique per acquisition)
-- ARGV[2]  ttl in milliseconds
--
-- Returns { granted, fence, pttl }:
--   granted  1 if the lock is now ours on this node, 0 if another owner holds it
--   fence    this node's fencing counter for the resource, as a decimal string ("0" if none)
--   pttl     the other holder's remaining time to live in ms (-1 when granted)
--
-- A key already holding our own owner counts as granted and gets a fresh TTL: a retry of
-- the same acquisition may find the key left by an earlier attempt whose clean-up was lost.
local fence = redis.call('GET', KEYS[2]) or '0'
local holder = redis.call('GET', KEYS[1])
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return { 1, fence, -1 }
end
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return { 1, fence, -1 }
end
return { 0, fence, redis.call('PTTL', KEYS[1]) }
