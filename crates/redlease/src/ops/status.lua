-- Read one resource's state on one node, atomically.
--
-- KEYS[1]  lock key
-- KEYS[2]  fence key
--
-- Returns { owner, pttl, fence }: owner is the holder ("" if none, or if the key is only a
-- hand-off reservation for waiters), pttl its remaining time to live in ms (-2 if there is
-- no holder), fence the node's counter ("0" if none).
local owner = redis.call('GET', KEYS[1]) or ''
if owner == '' or string.sub(owner, 1, 8) == 'handoff:' then
  return { '', -2, redis.call('GET', KEYS[2]) or '0' }
end
return { owner, redis.call('PTTL', KEYS[1]), redis.call('GET', KEYS[2]) or '0' }
