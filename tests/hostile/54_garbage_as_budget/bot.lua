-- Attack: garbage left by earlier handlers spent as memory budget. The limit
-- was measured as heap growth from the heap's size when the handler started;
-- the garbage of the previous handler was part of that size, and collected
-- while this handler ran it made room: successive handlers held 3, 6, 9,
-- 12 MB of live data under a 4 MB limit.
-- Must get: a handler never holds more live data than its limit, whatever
-- garbage others left ("memory limit exceeded"), nothing committed; a
-- handler within its limit runs; the next message is answered.
bot.config{ name = "hostile 54", limits = { memory = "4MB", instructions = 1e8, time = "2s" } }

local chunk = string.rep("x", 65536 - 32)

-- keeps n MiB of distinct strings alive until it returns, then drops them
local function hold(n)
  local t = {}
  for i = 1, n * 16 do t[i] = chunk .. i end
  return #t
end

bot.match("^hold (%d+)$", function(c, msg, n)
  c.state.held = tonumber(n)
  return "held " .. hold(tonumber(n)) // 16 .. " MiB"
end)

bot.keyword("ping", function() return "pong" end)
