-- Attack: print / bot.log of huge data (4 MB strings, a table with a looping
-- __tostring, a deeply nested table).
-- Must get: the 4 MB log runs into the memory limit (the joined line is a
-- second copy); a table is logged as "<table>" without calling its
-- __tostring; nothing committed when the handler fails.
bot.config{ name = "hostile 40", limits = { time = "200ms", memory = "8MB" } }

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

bot.keyword("attack", function(c)
  c.state.x = "changed"
  c:reply("before")
  bot.log(("x"):rep(4e6), ("y"):rep(1e6))
  return "logged"
end)

bot.keyword("attack2", function(c)
  c.state.x = "changed"
  print(("x"):rep(3e6), ("y"):rep(1e6))
  return "printed"
end)

bot.keyword("tostring", function(c)
  local evil = setmetatable({}, { __tostring = function() while true do end end })
  bot.log("value:", evil, 1, true, nil)
  print(evil)
  return "logged safely"
end)

bot.keyword("ping", function() return "pong" end)
