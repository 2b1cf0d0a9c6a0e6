-- Extend many leases on one node in one call: compare-and-pexpire for each.
--
-- For lease i (1-based), KEYS[2i-1] is its lock key and KEYS[2i] its holder key;
-- ARGV[2i-1] its owner and ARGV[2i] its new ttl in milliseconds.
--
-- Returns one integer per lease, in order: 1 if its key held its owner and got the new
-- TTL, 0 otherwise. The same rule as extend.lua, lease by lease: a missing key is never
-- re-created (a lease that expired may already be someone else's on other nodes).
--
-- Renewal sends this instead of one extend.lua per lease: 100,000 kept-alive leases cost
-- a few hundred calls a second per node instead of tens of thousands. The fencing
-- counter is not read: renewal does not use it.
local out = {}
for i = 1, #KEYS / 2 do
  local lock, holder_key = KEYS[2 * i - 1], KEYS[2 * i]
  local owner, ttl = ARGV[2 * i - 1], ARGV[2 * i]
  if redis.call('GET', lock) == owner then
    redis.call('PEXPIRE', lock, ttl)
    local holder = redis.call('GET', holder_key)
    if holder and string.sub(holder, 1, #owner + 1) == owner .. ' ' then
      redis.call('PEXPIRE', holder_key, ttl)
    end
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
