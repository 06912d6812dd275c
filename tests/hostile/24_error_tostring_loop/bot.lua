-- Attack: raise an error object whose __tostring loops forever (a host that
-- calls luaL_tolstring on it to write the error record would hang), and
-- other non-string error objects (nil, a coroutine, a table with a looping
-- __index).
-- Must get: the error is recorded promptly: a table's __tostring makes its
-- message, but it runs inside the handler, under its limits, so the loop is
-- stopped there ("limit exceeded"); the host itself never calls a
-- metamethod. Nothing committed; the next message works.
bot.config{ name = "hostile 24", limits = { time = "200ms", memory = "8MB" } }

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

local function loop() while true do end end

bot.keyword("attack", function(c)
  c.state.x = "changed"
  c:reply("before")
  error(setmetatable({}, { __tostring = loop, __name = "Evil", __index = loop }))
end)

bot.keyword("attack2", function(c)
  error(nil)
end)

bot.keyword("attack3", function(c)
  error(coroutine.create(loop))
end)

bot.keyword("attack4", function(c)
  -- a handler that catches it and tries to print it loops under the limits
  local ok, e = pcall(error, setmetatable({}, { __tostring = loop }))
  return "caught " .. tostring(e)
end)

bot.keyword("ping", function() return "pong" end)
