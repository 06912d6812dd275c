-- Attack: coroutine.yield at the handler's top level (the handler runs in a
-- coroutine the runtime resumes), also from inside pcall and from a
-- metamethod; a yielded handler would be left half-run.
-- Must get: an error ("coroutine.yield called outside a coroutine");
-- nothing committed; the next message is handled by a fresh run.
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
  pcall(coroutine.yield, "escape")
  return "resumed"
end)

bot.keyword("attack3", function(c)
  c.state.x = "changed"
  local t = setmetatable({}, { __index = function() return coroutine.yield("escape") end })
  return t.x
end)

bot.keyword("ping", function() return "pong" end)
