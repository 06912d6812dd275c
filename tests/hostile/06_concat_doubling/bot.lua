-- Attack: concatenation memory bomb, s = s .. s (doubling each time).
-- Must get: "memory limit exceeded"; nothing committed.
bot.config{ name = "hostile 06", limits = { time = "5s", memory = "8MB" } }

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

bot.keyword("attack", function(c)
  c.state.x = "changed"
  c:reply("before")
  local s = "x"
  for _ = 1, 64 do s = s .. s end
  return "got " .. #s
end)

bot.keyword("ping", function() return "pong" end)
