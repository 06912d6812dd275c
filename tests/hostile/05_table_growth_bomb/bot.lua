-- Attack: a table grown without bound.
-- Must get: "memory limit exceeded (8192 KiB per message)"; nothing committed.
bot.config{ name = "hostile 05", limits = { time = "5s", memory = "8MB" } }

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

bot.keyword("attack", function(c)
  c.state.x = "changed"
  c:reply("before")
  local t = {}
  for i = 1, 1e9 do t[i] = i end
  return "got " .. #t
end)

bot.keyword("attack2", function(c)
  -- hash part instead of array part
  c.state.x = "changed"
  local t = {}
  for i = 1, 1e9 do t["k" .. i] = true end
end)

bot.keyword("ping", function() return "pong" end)
