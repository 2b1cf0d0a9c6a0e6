-- Release our lease on one node: compare-and-delete, then hand off and wake the waiters.
--
-- KEYS[1]  lock key
-- KEYS[2]  queue key (zset: waiting owners by arrival)
-- KEYS[3]  seen key  (hash: waiter -> last attempt, node ms, and its registration)
-- KEYS[4]  fence key (the counter a hand-off grant mints from, on one node)
-- KEYS[5]  holder key (the holder's description, "<owner> <text>")
-- KEYS[6]  (optional) the node's marker key, for delayed restart
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
-- ARGV[10] "described" if the owner may have given a description (KEYS[5] is then
--          deleted with the lock), "" otherwise: saves the rest a read
-- ARGV[11] ms the fencing counter is kept after it was last written
-- ARGV[12] ms a registration is good for a grant (protocol/handoff.rs): an older one may
--          belong to a call that ended while this node missed its leave, and gets a
--          reservation instead
--
-- Returns 1 if the key held our owner and was released, 0 if it was absent or someone
-- else's (release is idempotent: releasing twice is not an error).
--
-- The owner leaves this node's wait queue (unless it stays, ARGV[8]): a lease joined the queue on
-- nodes that refused it and won elsewhere, and a waiter that gives up (its wait ran out,
-- its call was dropped) leaves by a release, so that no lock is handed to it.
-- With live waiters queued, the lock is not simply deleted: it goes to the longest-waiting
-- live waiter. If that waiter registered for a grant when it was refused (acquire.lua,
-- ARGV[10]), the lock is set to the owner it registered (its next attempt's) for the
-- refused attempt's ttl (a token minted with it where asked, on one node) and the
-- channel message carries the grant:
-- "<waiter> <owner> <token> <marker age>"; the waiter counts it as that owner's vote
-- here (protocol/handoff.rs). Otherwise the lock becomes a short reservation,
-- 'handoff:<waiter>', that only that waiter's next attempt may take, and the message
-- names the waiter. Without either, the releasing client, looping straight back to
-- acquire, would win again and again and starve the waiters. Queue entries not
-- refreshed within ARGV[4] belong to waiters that died and are dropped.
--
-- Nobody else queued, nobody to wake: a waiter subscribes only after a refusal, and a
-- refusal of a caller that waits queues it on that node (with hand-off on), before the
-- holder can release there. So an empty queue means no PUBLISH, no TIME, no queue walk:
-- the uncontended release is a compare-and-delete plus the queue's read.
-- (The first two entries tell "empty", "only us" and "someone else" apart with a command
-- the lock user's ACL already allows.)
local lock = redis.call('GET', KEYS[1])
local mine = lock == ARGV[1]
local others = 0
local firsts = redis.call('ZRANGE', KEYS[2], 0, 1)
if #firsts > 0 then
  others = #firsts
  if ARGV[8] == 'stay' then
    if firsts[1] == ARGV[5] or firsts[2] == ARGV[5] then others = others - 1 end
    -- A waiter that keeps winning this node in split votes is never refused here, so
    -- its attempts do not refresh its place: its clean-up does, or the queue would
    -- expire, or the waiter count as gone, while it still waits. The registration goes
    -- (until the next refusal registers again, a release here reserves instead), unless
    -- a release already granted the lock to it: then the call's end must still find it,
    -- to free that key if the call ends before its next attempt comes (the model found
    -- a lock left held for nobody when it went).
    if redis.call('ZSCORE', KEYS[2], ARGV[5]) then
      local t = redis.call('TIME')
      local entry = tostring(tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
      if lock and not mine then
        local own = redis.call('HGET', KEYS[3], ARGV[5])
        local registration = own and string.match(own, '^%d+( (%S+) .*)$')
        if registration and lock == string.match(registration, '^ (%S+)') then
          entry = entry .. registration
        end
      end
      redis.call('HSET', KEYS[3], ARGV[5], entry)
      redis.call('PEXPIRE', KEYS[2], ARGV[9])
      redis.call('PEXPIRE', KEYS[3], ARGV[9])
    end
  else
    -- The call is over (its lease is released, or it gave up): a key a release handed to
    -- the owner it registered (its next attempt, which will not come) is freed too.
    -- Only here: a clean-up ("stay") runs while the call still counts grants.
    if lock and not mine then
      local own = redis.call('HGET', KEYS[3], ARGV[5])
      if own then mine = lock == string.match(own, '^%d+ (%S+)') end
    end
    if redis.call('ZREM', KEYS[2], ARGV[5]) == 1 then
      redis.call('HDEL', KEYS[3], ARGV[5])
      others = others - 1
    end
  end
end
if not mine then
  return 0
end
if ARGV[10] == 'described' then
  local holder = redis.call('GET', KEYS[5])
  if holder and string.sub(holder, 1, #lock + 1) == lock .. ' ' then
    redis.call('DEL', KEYS[5])
  end
end
local head, entry, now, now_us = '', '', 0, '0'
if others > 0 and ARGV[3] ~= '0' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  now_us = t[1] .. string.format('%06d', tonumber(t[2]))
  local stale = tonumber(ARGV[4])
  for _ = 1, 8 do
    local first = redis.call('ZRANGE', KEYS[2], 0, 0)
    if #first == 0 then break end
    entry = redis.call('HGET', KEYS[3], first[1]) or ''
    local seen = tonumber(string.match(entry, '^%d+') or '0') or 0
    if now - seen <= stale then
      head = first[1]
      break
    end
    redis.call('ZREM', KEYS[2], first[1])
    redis.call('HDEL', KEYS[3], first[1])
  end
end
local message = head
if head ~= '' then
  local registered_at, owner, ttl, minted = string.match(entry, '^(%d+) (%S+) (%d+) ([m%-])$')
  if owner and head ~= ARGV[5] and now - tonumber(registered_at) <= tonumber(ARGV[12]) then
    redis.call('SET', KEYS[1], owner, 'PX', ttl)
    local token = '0'
    if minted == 'm' then
      token = mint(KEYS[4], redis.call('GET', KEYS[4]) or '0', now_us, ARGV[11])
    end
    -- The marker's age, for the waiter to judge as an attempt would (a missing marker
    -- counts as new: a node that lost its data holds nothing to hand off anyway).
    local age = -1
    if KEYS[6] then
      local born = tonumber(redis.call('GET', KEYS[6]) or '')
      age = 0
      if born then age = math.max(now - born, 0) end
    end
    message = head .. ' ' .. owner .. ' ' .. token .. ' ' .. age
  else
    redis.call('SET', KEYS[1], 'handoff:' .. head, 'PX', ARGV[3])
  end
else
  redis.call('DEL', KEYS[1])
end
-- The clean-up of a failed attempt by a caller that goes on waiting ("stay") wakes
-- nobody: that caller retries by itself (at once after a split vote, else when the
-- holder of the other nodes releases them, which wakes the head there). Waking every
-- waiter here made them all try at once, lose to the real holder (or split among
-- themselves), and clean up, waking everyone again.
if ARGV[8] ~= 'stay' and (others > 0 or ARGV[7] == 'always') then
  redis.call(ARGV[6] == 'SPUBLISH' and 'SPUBLISH' or 'PUBLISH', ARGV[2], message)
end
return 1
