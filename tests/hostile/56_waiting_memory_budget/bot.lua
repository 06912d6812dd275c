-- Attack: handlers waiting for a response keep their memory while other
-- conversations run; enough of them filled the VM to its hard cap, and the
-- engine's push of the next handler's arguments made Lua abort the process
-- (tests/unit/test_waiting.c has the many-handlers version). Here, one
-- handler holding more than the bot's budget for waiting handlers.
-- Must get: http.get raises in the handler (an error record, nothing
-- committed; catchable by pcall, since no request was made); a handler
-- within the budget waits and gets its answer; the next message is answered.
bot.config{ name = "hostile 56", http = { allow = { "api.test" } },
  limits = { memory = "4MB", waiting_memory = "1MB" } }

local chunk = string.rep("x", 65536 - 32)

local function hold(n)
  local t = {}
  for i = 1, n * 16 do t[i] = chunk .. i end
  return t
end

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

bot.keyword("attack", function(c)
  c.state.x = "changed"
  local t = hold(2)
  local res = http.get("https://api.test/x")
  return "waited holding " .. #t
end)

bot.keyword("caught", function(c)
  local t = hold(2)
  local ok = pcall(http.get, "https://api.test/x")
  return "caught " .. tostring(ok)
end)

bot.keyword("dropped", function(c)
  -- what it held is garbage by the time it waits: collected, not counted
  hold(2)
  local res = http.get("https://api.test/x")
  return "waited " .. res.status
end)

bot.keyword("ping", function() return "pong" end)
