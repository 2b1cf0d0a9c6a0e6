-- Read one resource's state on one node, atomically.
--
-- KEYS[1]  lock key
-- KEYS[2]  fence key
--
-- Returns { owner, pttl, fence }: owner is the holder ("" if none), pttl its remaining
-- time to live in ms (-2 if there is no holder), fence the node's counter ("0" if none).
local owner = redis.call('GET', KEYS[1]) or ''
return { owner, redis.call('PTTL', KEYS[1]), redis.call('GET', KEYS[2]) or '0' }
