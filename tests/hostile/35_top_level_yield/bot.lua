-- Attack: coroutine.yield at the handler's top level (the handler runs in a
-- coroutine the runtime resumes), also from inside pcall and from a
-- metamethod; a yielded handler would be left half-run.
-- Must get: Lua's error for a yield outside a coroutine ("attempt to yield
-- from outside a coroutine": the handler's coroutine stands for Lua's main
-- thread), which pcall catches as in Lua; an uncaught one commits nothing;
-- the next message is handled by a fresh run.
bot.config{ name = "hostile 35", limits = { time = "200ms", memory = "8MB" } }

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

bot.keyword("attack", function(c)
  c.state.x = "changed"
  c:reply("before")
  coroutine.yield("escape")
  c.state.x = "after yield"
  return "resumed"
end)

bot.keyword("attack2", function(c)
  c.state.x = "changed"
  local ok, err = pcall(coroutine.yield, "escape")
  return "resumed " .. tostring(ok) .. " " .. err .. " " .. tostring(coroutine.isyieldable())
end)

bot.keyword("attack3", function(c)
  c.state.x = "changed"
  local t = setmetatable({}, { __index = function() return coroutine.yield("escape") end })
  return t.x
end)

bot.keyword("ping", function() return "pong" end)
