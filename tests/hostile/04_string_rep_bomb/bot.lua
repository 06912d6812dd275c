-- Attack: string.rep memory bomb (1 GB in one call, and 100 MB with a
-- separator).
-- Must get: refused up front with an error naming string.rep (the result is
-- larger than the memory left to the handler); no allocation of that size,
-- nothing committed.
bot.config{ name = "hostile 04", limits = { time = "200ms", memory = "8MB" } }

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

bot.keyword("attack", function(c)
  c.state.x = "changed"
  c:reply("before")
  local s = string.rep("x", 1e9)
  return "got " .. #s
end)

bot.keyword("attack2", function(c)
  c.state.x = "changed"
  local s = ("ab"):rep(5e7, ",")
  return "got " .. #s
end)

bot.keyword("ping", function() return "pong" end)
