-- Release our lease on one node where nobody waits: compare-and-delete, nothing more.
--
-- KEYS[1]  lock key
-- KEYS[2]  queue key (zset: waiting owners by arrival)
-- ARGV[1]  owner
--
-- Returns -1 if anyone is queued on this node (the client then sends release.lua, which
-- hands the lock off and wakes the waiters), else 1 if the key held our owner and was
-- deleted, 0 if it was absent or someone else's.
--
-- With nobody queued, release.lua does exactly this too (no hand-off, no PUBLISH, no
-- queue to leave), but reads nine more arguments that only a queue needs: on Redis 7.0
-- its set-up cost this node ~1.3 µs more per release (redis-benchmark on this project's
-- machine: ~560k calls/s here against ~300k/s). A waiter queues on a node before the
-- holder can release there (see release.lua), so an empty queue means nobody to wake.
--
-- Whether the queue exists is asked with PTTL (-2: no such key; Redis deletes a zset
-- with its last member), not by reading its first entry: ZRANGE's reply, even empty,
-- becomes a Lua table, and with redis-benchmark here the script took ~2.05 µs per call
-- with it against ~1.5 µs with PTTL (the compare-and-delete alone: ~1.1-1.2 µs).
-- EXISTS would cost the same, but the documented lock-user ACL does not allow it.
if redis.call('PTTL', KEYS[2]) ~= -2 then
  return -1
end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
