-- Attack: table.move({}, 1, 3e7, 2): a 0.57 s C loop the count hook never
-- sees.
-- Must get: charged up front as 3e7 instructions, so the instruction limit
-- stops it ("instruction limit exceeded") before the loop runs; same for a
-- range covering every integer. Nothing committed.
bot.config{ name = "hostile 09", limits = { time = "200ms", memory = "8MB" } }

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

bot.keyword("attack", function(c)
  c.state.x = "changed"
  c:reply("before")
  table.move({}, 1, 3e7, 2)
  return "moved"
end)

bot.keyword("attack2", function(c)
  c.state.x = "changed"
  table.move({}, math.mininteger, math.maxinteger - 1, 1, {})
  return "moved"
end)

bot.keyword("ping", function() return "pong" end)
