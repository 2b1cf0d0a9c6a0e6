-- Read one node's fencing counter and clock, for a token minted on demand.
--
-- KEYS[1]  fence key  <prefix>{<resource>}:fence
--
-- Returns { counter, now }: the counter as a decimal string ("0" if none) and this node's
-- clock in microseconds, as a decimal string (the token's floor, see acquire.lua).
--
-- Read-only: the client takes the largest counter of every node that answers, and records
-- the token with fence.lua where the lock is still ours (docs/protocol.md, "Tokens minted
-- on demand").
local t = redis.call('TIME')
return { redis.call('GET', KEYS[1]) or '0', t[1] .. string.format('%06d', tonumber(t[2])) }
