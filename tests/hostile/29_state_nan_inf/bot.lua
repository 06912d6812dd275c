-- Attack: persist NaN and infinities (c.state.x = 0/0, 1/0, -1/0), also
-- nested and in c.fields and bot.store.
-- Must get: refused ("NaN cannot be stored", "infinity cannot be stored"),
-- naming the key; nothing committed. Finite floats still round-trip.
bot.config{ name = "hostile 29", limits = { time = "200ms", memory = "8MB" } }

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

bot.keyword("attack", function(c)
  c.state.x = 0 / 0
  c:reply("before")
end)

bot.keyword("attack2", function(c)
  c.state.x = 1 / 0
end)

bot.keyword("attack3", function(c)
  c.state.list = { 1, 2, -1 / 0 }
end)

bot.keyword("attack4", function(c)
  c.fields.score = 0 / 0
end)

bot.keyword("attack5", function(c)
  bot.store.total = math.huge
end)

bot.keyword("finite", function(c)
  c.state.f = 0.1
  c.state.big = 1.7976931348623157e308
  return "stored"
end)

bot.keyword("read", function(c)
  return string.format("%.17g %.17g %s", c.state.f, c.state.big, math.type(c.state.f))
end)

bot.keyword("ping", function() return "pong" end)
