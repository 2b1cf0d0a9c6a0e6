-- Read or set this node's delayed-restart marker (operator actions).
--
-- KEYS[1]  marker key  <prefix>marker:born
-- ARGV[1]  "age" | "reset" | "ready"
-- ARGV[2]  max ttl in ms (for "ready")
--
-- "age"    returns ms since the marker was written, on this node's clock; -1 if none.
-- "reset"  deletes the marker: the node looks new (use on every node of a deployment that
--          is being started afresh, with no lease outstanding).
-- "ready"  back-dates the marker by the max ttl, so the node's grants count at once (use
--          when you know the node kept its data, or was down for longer than the max ttl).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[1] == 'reset' then
  redis.call('DEL', KEYS[1])
  return -1
end
if ARGV[1] == 'ready' then
  redis.call('SET', KEYS[1], now - tonumber(ARGV[2]))
  return tonumber(ARGV[2])
end
local born = tonumber(redis.call('GET', KEYS[1]) or '')
if not born then
  return -1
end
return math.max(now - born, 0)
