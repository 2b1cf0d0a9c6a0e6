-- Acquire one resource on one node.
--
-- KEYS[1]  lock key   <prefix>{<resource>}:lock
-- KEYS[2]  fence key  <prefix>{<resource>}:fence
-- KEYS[3]  queue key  <prefix>{<resource>}:queue  (zset: waiting owners by arrival)
-- KEYS[4]  seen key   <prefix>{<resource>}:seen   (hash: owner -> last attempt, node ms)
-- ARGV[1]  owner (random, unique per attempt: a late clean-up of one attempt can never
--          delete the next attempt's grant)
-- ARGV[2]  ttl in milliseconds
-- ARGV[3]  "wait" if the caller waits when refused, "try" for a single attempt
-- ARGV[4]  how long the caller has been waiting, in µs of its own monotonic clock
-- ARGV[5]  "mint" to mint the fencing token here, on grant (single node: the one node's
--          counter is the whole quorum, so no second round is needed); "fence" when the
--          client mints the token from the nodes' counters and clocks (several nodes);
--          "" without fencing: the counter and the clock are then neither read nor
--          returned ("0" in their place), which is most of an unfenced acquire's cost
-- ARGV[6]  ms the wait queue is kept after its last arrival (longer than a waiter's
--          longest sleep between attempts)
-- ARGV[7]  waiter: the caller's id in the wait queue, the same for all its attempts
-- ARGV[8]  ms the fencing counter is kept after it was last written
-- ARGV[9]  "confirm" for the follow-up of a quick request that got the lock (ops/quick.rs):
--          only a key that already holds our owner counts (its ttl, marker and token are
--          completed here); the lock is never taken anew and the caller never queued, so
--          a follow-up that reaches the node after our own release leaves nothing behind.
--          "" otherwise.
-- ARGV[10] the owner of the caller's next attempt, registered by a refusal for a hand-off
--          grant (the caller counts the grants that releases publish for it, see below);
--          "" not to register
-- KEYS[5]  (optional) the node's marker key <prefix>marker:born, for delayed restart
--
-- Returns, for a grant, { 1, age } without fencing ({ 1, age, born } with a marker: born is
-- the marker's value, its birth on this node's clock in ms) and { 1, fence, age, now } with
-- fencing (each element costs the client a decoding step: a grant has no pttl or hand-off
-- to report), and for a refusal { granted, fence, pttl, handoff, age, now }:
--   granted  1 if the lock is now ours on this node, 0 otherwise
--   fence    this node's fencing counter for the resource, as a decimal string ("0" if none);
--            with "mint" and granted, the new token
--   pttl     the holder's remaining time to live in ms (-1 when granted)
--   handoff  1 if the key is a hand-off reservation for a waiter (see release.lua)
--   age      ms since this node's marker was first written, on the node's own clock (-1
--            without KEYS[5]). A node that lost its data (restart without persistence,
--            FLUSHALL) has a young marker; the client does not count its grant while other
--            nodes' markers are clearly older, until the age passes the maximum ttl.
--   now      this node's clock in microseconds, as a decimal string ("0" without fencing
--            and marker): the floor of a new fencing token, so that tokens keep growing when every copy of the counter
--            was lost (see docs/protocol.md, "Fencing tokens")
--
-- A key already holding our own owner counts as granted and gets a fresh TTL: the same
-- request may arrive twice (a client library re-sends it after a dropped connection).
-- A refused caller that waits joins the queue, so that a release can hand the lock to the
-- longest waiter instead of to whoever asks first. Its place is when it started waiting,
-- on this node's clock: now minus how long it says it has waited. No client's wall clock
-- enters it, so a client whose clock lags cannot jump the queue, and since every node
-- computes it from the same waited time, all nodes order the waiters alike up to the
-- network delay between them (fairness, never safety, depends on it). In microseconds:
-- in milliseconds, two waiters that start waiting within a millisecond or two of each
-- other (the releaser of each hand-off comes back that soon after the previous one)
-- were ordered one way on some nodes and the other way on others, so those nodes
-- reserved the lock for different waiters and the hand-off split.
-- The clock is read only when something needs it (the marker, the token's floor, the
-- queue): an unfenced grant without a marker does no more than SET NX would.
local now, now_us, micros
local function clock()
  if not now then
    local t = redis.call('TIME')
    now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    micros = tonumber(t[1]) * 1000000 + tonumber(t[2])
    now_us = t[1] .. string.format('%06d', tonumber(t[2]))
  end
end
local fencing = ARGV[5] ~= ''
if fencing then clock() end
local age, born = -1, nil
if KEYS[5] then
  clock()
  born = tonumber(redis.call('GET', KEYS[5]) or '')
  if not born then
    redis.call('SET', KEYS[5], now)
    born = now
  end
  age = math.max(now - born, 0)
end
local fence = '0'
if fencing then fence = redis.call('GET', KEYS[2]) or '0' end
local function reply(granted, pttl, handoff)
  return { granted, fence, pttl, handoff, age, now_us or '0' }
end
local function grant()
  if fencing then return { 1, fence, age, now_us } end
  -- The marker's birth tells this marker from a later one (see MarkerTrust).
  if born then return { 1, age, born } end
  return { 1, age }
end
local confirm = ARGV[9] == 'confirm'
local holder = redis.call('GET', KEYS[1])
if (not confirm) and ((not holder) or holder == ('handoff:' .. ARGV[7])) then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  -- A queued waiter keeps its place on a grant: this node cannot know whether the vote
  -- is won. Had it left here, a split vote would leave it queued only on the nodes that
  -- refused it, those nodes would then reserve the lock for it and the others for the
  -- next waiter, and the vote would split again. It leaves by its release (or its
  -- clean-up when it gives up), which removes it before choosing whom to hand off to.
  if ARGV[5] == 'mint' then fence = mint(KEYS[2], fence, now_us, ARGV[8]) end
  return grant()
end
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  -- Our own key: a re-sent request, or the quick acquire's SET (ops/quick.rs) that found
  -- no marker, or whose INCR failed or found a counter that no clock floored since it
  -- was lost. A token is minted as on a grant: above the counter (which may hold the
  -- previous holder's token) and floored by the clock.
  if ARGV[5] == 'mint' then fence = mint(KEYS[2], fence, now_us, ARGV[8]) end
  return grant()
end
if confirm then
  return reply(0, -2, 0)
end
if ARGV[3] == 'wait' then
  clock()
  redis.call('ZADD', KEYS[3], 'NX', micros - tonumber(ARGV[4]), ARGV[7])
  -- The entry in the seen hash is "<ms>", or registered for a hand-off grant
  -- "<ms> <owner> <ttl> <m|->": the owner of the caller's next attempt, this attempt's
  -- ttl, and whether the one node mints the token with the grant. A release may then
  -- set the lock to that owner for that ttl and publish it (release.lua): the caller
  -- holds the lease without another attempt, or its next attempt, which has that owner,
  -- finds the key its own. Never this attempt's owner: the clean-up of this attempt
  -- (which may reach a node after a grant there, when this reply was lost) deletes this
  -- attempt's keys, and must not delete a grant the caller counts.
  if ARGV[10] ~= '' then
    local minted = '-'
    if ARGV[5] == 'mint' then minted = 'm' end
    redis.call('HSET', KEYS[4], ARGV[7], now .. ' ' .. ARGV[10] .. ' ' .. ARGV[2] .. ' ' .. minted)
  else
    redis.call('HSET', KEYS[4], ARGV[7], now)
  end
  redis.call('PEXPIRE', KEYS[3], ARGV[6])
  redis.call('PEXPIRE', KEYS[4], ARGV[6])
end
local handoff = 0
if string.sub(holder, 1, 8) == 'handoff:' then handoff = 1 end
return reply(0, redis.call('PTTL', KEYS[1]), handoff)
