-- A fencing token minted on one node, shared by acquire.lua and release.lua (this text
-- is put in front of each of them when they are loaded, see ops/acquire.rs): the
-- acquire script mints with a grant, the release script with a hand-off grant.
--
-- The token is one above the node's counter, and at least the node's clock in µs, so
-- that tokens keep growing when every copy of the counter was lost (docs/protocol.md,
-- "Fencing tokens"). Counters and clocks are decimal strings: Lua numbers are doubles,
-- inexact above 2^53.

-- Exact +1 on a decimal string.
local function increment(digits)
  local i = #digits
  local out = ''
  while i > 0 do
    local d = tonumber(string.sub(digits, i, i))
    if d < 9 then
      return string.sub(digits, 1, i - 1) .. tostring(d + 1) .. out
    end
    out = '0' .. out
    i = i - 1
  end
  return '1' .. out
end

-- The larger of two decimal strings without leading zeros.
local function larger(a, b)
  if #a ~= #b then
    if #a > #b then return a end
    return b
  end
  if a > b then return a end
  return b
end

-- Mint above `counter` (the counter key's value, "0" if none), floored by `now_us`, and
-- write it to `key`, kept `counter_ttl` ms from this write. Returns the token.
local function mint(key, counter, now_us, counter_ttl)
  local token = larger(increment(counter), now_us)
  redis.call('SET', key, token, 'PX', counter_ttl)
  return token
end
