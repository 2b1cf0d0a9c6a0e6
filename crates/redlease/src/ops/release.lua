-- Release our lease on one node: compare-and-delete, then wake the waiters.
--
-- KEYS[1]  lock key
-- KEYS[2]  queue key (zset: waiting owners by arrival)
-- KEYS[3]  seen key  (hash: owner -> last attempt, node ms)
-- KEYS[4]  (optional) holder key (the holder's description, "<owner> <text>"): passed
--          only when the owner may have given one, which saves the rest a read
-- ARGV[1]  owner
-- ARGV[2]  channel on which waiters listen
-- ARGV[3]  hand-off window in ms ("0": no hand-off)
-- ARGV[4]  ms after which a queued waiter that has not tried again counts as gone
-- ARGV[5]  the owner's waiter id in the wait queue
-- ARGV[6]  the publish command: 'PUBLISH', or 'SPUBLISH' on a Redis Cluster (sharded
--          pub/sub: the channel shares the keys' hash tag, so it is in their slot)
-- ARGV[7]  "always" to publish every release (hand-off off: waiters then subscribe
--          without joining the queue), "queued" to publish only when someone else is
--          queued here
-- ARGV[8]  "stay" to keep the owner's place in the wait queue (a failed attempt of a
--          caller that goes on waiting), "leave" otherwise
-- ARGV[9]  ms the wait queue is kept after a waiter kept its place in it
--
-- Returns 1 if the key held our owner and was released, 0 if it was absent or someone
-- else's (release is idempotent: releasing twice is not an error).
--
-- The owner leaves this node's wait queue (unless it stays, ARGV[8]): a lease joined the queue on
-- nodes that refused it and won elsewhere, and a waiter that gives up (its wait ran out,
-- its call was dropped) leaves by a release, so that no reservation is made for it.
-- With live waiters queued, the lock is not simply deleted: it becomes a short
-- reservation, 'handoff:<owner>', that only the longest-waiting live owner may take, and
-- the channel message names that owner. Without it, the releasing client, looping
-- straight back to acquire, would win again and again and starve the waiters. Queue
-- entries not refreshed within ARGV[4] belong to waiters that died and are dropped.
--
-- Nobody else queued, nobody to wake: a waiter subscribes only after a refusal, and a
-- refusal of a caller that waits queues it on that node (with hand-off on), before the
-- holder can release there. So an empty queue means no PUBLISH, no TIME, no queue walk:
-- the uncontended release is a compare-and-delete plus the queue's read.
-- (The first two entries tell "empty", "only us" and "someone else" apart with a command
-- the lock user's ACL already allows.)
local others = 0
local firsts = redis.call('ZRANGE', KEYS[2], 0, 1)
if #firsts > 0 then
  others = #firsts
  if ARGV[8] == 'stay' then
    if firsts[1] == ARGV[5] or firsts[2] == ARGV[5] then others = others - 1 end
    -- A waiter that keeps winning this node in split votes is never refused here, so
    -- its attempts do not refresh its place: its clean-up does, or the queue would
    -- expire, or the waiter count as gone, while it still waits.
    if redis.call('ZSCORE', KEYS[2], ARGV[5]) then
      local t = redis.call('TIME')
      redis.call('HSET', KEYS[3], ARGV[5], tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
      redis.call('PEXPIRE', KEYS[2], ARGV[9])
      redis.call('PEXPIRE', KEYS[3], ARGV[9])
    end
  elseif redis.call('ZREM', KEYS[2], ARGV[5]) == 1 then
    redis.call('HDEL', KEYS[3], ARGV[5])
    others = others - 1
  end
end
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
if KEYS[4] then
  local holder = redis.call('GET', KEYS[4])
  if holder and string.sub(holder, 1, #ARGV[1] + 1) == ARGV[1] .. ' ' then
    redis.call('DEL', KEYS[4])
  end
end
local head = ''
if others > 0 and ARGV[3] ~= '0' then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local stale = tonumber(ARGV[4])
  for _ = 1, 8 do
    local first = redis.call('ZRANGE', KEYS[2], 0, 0)
    if #first == 0 then break end
    local seen = tonumber(redis.call('HGET', KEYS[3], first[1]) or '0') or 0
    if now - seen <= stale then
      head = first[1]
      break
    end
    redis.call('ZREM', KEYS[2], first[1])
    redis.call('HDEL', KEYS[3], first[1])
  end
end
if head ~= '' then
  redis.call('SET', KEYS[1], 'handoff:' .. head, 'PX', ARGV[3])
else
  redis.call('DEL', KEYS[1])
end
-- The clean-up of a failed attempt by a caller that goes on waiting ("stay") wakes
-- nobody: that caller retries by itself (at once after a split vote, else when the
-- holder of the other nodes releases them, which wakes the head there). Waking every
-- waiter here made them all try at once, lose to the real holder (or split among
-- themselves), and clean up, waking everyone again.
if ARGV[8] ~= 'stay' and (others > 0 or ARGV[7] == 'always') then
  redis.call(ARGV[6] == 'SPUBLISH' and 'SPUBLISH' or 'PUBLISH', ARGV[2], head)
end
return 1
