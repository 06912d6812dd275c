-- Attack: table.concat memory bomb (a list of 1 MB strings joined, then
-- joined again).
-- Must get: "memory limit exceeded"; nothing committed.
bot.config{ name = "hostile 07", limits = { time = "5s", memory = "8MB" } }

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

bot.keyword("attack", function(c)
  c.state.x = "changed"
  c:reply("before")
  local s = ("x"):rep(1 << 20)
  local t = {}
  for i = 1, 64 do t[i] = s end
  local big = table.concat(t)
  return "got " .. #table.concat({ big, big })
end)

bot.keyword("attack2", function(c)
  -- a huge separator between short items
  c.state.x = "changed"
  local sep = ("-"):rep(1 << 20)
  local t = {}
  for i = 1, 100 do t[i] = "a" end
  return "got " .. #table.concat(t, sep)
end)

bot.keyword("ping", function() return "pong" end)
