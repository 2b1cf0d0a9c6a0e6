-- Read one resource's state on one node, atomically.
--
-- KEYS[1]  lock key
-- KEYS[2]  fence key
-- KEYS[3]  holder key (the holder's description, "<owner> <text>", if it gave one)
--
-- Returns { owner, pttl, fence, holder }: owner is the holder ("" if none, or if the key
-- is only a hand-off reservation for waiters), pttl its remaining time to live in ms (-2
-- if there is no holder), fence the node's counter ("0" if none), holder the holder's
-- description ("" if it gave none, or the description is a former holder's).
local owner = redis.call('GET', KEYS[1]) or ''
local fence = redis.call('GET', KEYS[2]) or '0'
if owner == '' or string.sub(owner, 1, 8) == 'handoff:' then
  return { '', -2, fence, '' }
end
local holder = redis.call('GET', KEYS[3]) or ''
if string.sub(holder, 1, #owner + 1) == owner .. ' ' then
  holder = string.sub(holder, #owner + 2)
else
  holder = ''
end
return { owner, redis.call('PTTL', KEYS[1]), fence, holder }
