-- Release our lease on one node: compare-and-delete.
--
-- KEYS[1]  lock key
-- ARGV[1]  owner
--
-- Returns 1 if the key held our owner and was deleted, 0 if it was absent or someone
-- else's (release is idempotent: releasing twice is not an error).
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
