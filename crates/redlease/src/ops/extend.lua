-- Extend our lease on one node: compare-and-pexpire.
--
-- KEYS[1]  lock key
-- KEYS[2]  fence key
-- KEYS[3]  holder key (the holder's description, "<owner> <text>", if it gave one)
-- ARGV[1]  owner
-- ARGV[2]  new ttl in milliseconds
--
-- Returns { extended, fence }: extended is 1 if the key held our owner and got the new
-- TTL, 0 otherwise; fence is this node's fencing counter ("0" if none).
--
-- A missing key is never re-created: a lease that expired may already have been granted
-- to someone else on other nodes, and silently re-acquiring would hide the loss.
local fence = redis.call('GET', KEYS[2]) or '0'
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  local holder = redis.call('GET', KEYS[3])
  if holder and string.sub(holder, 1, #ARGV[1] + 1) == ARGV[1] .. ' ' then
    redis.call('PEXPIRE', KEYS[3], ARGV[2])
  end
  return { 1, fence }
end
return { 0, fence }
