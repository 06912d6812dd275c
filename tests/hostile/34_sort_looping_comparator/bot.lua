-- Attack: table.sort with a comparator that loops, and with an inconsistent
-- comparator ("invalid order function for sorting").
-- Must get: the looping comparator is stopped by the instruction limit; the
-- inconsistent one is an ordinary error or a finished sort, never a crash;
-- nothing committed.
bot.config{ name = "hostile 34", limits = { time = "200ms", memory = "8MB" } }

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

bot.keyword("attack", function(c)
  c.state.x = "changed"
  c:reply("before")
  local t = { 5, 3, 1, 4, 2 }
  table.sort(t, function(a, b) while true do end end)
  return "sorted"
end)

bot.keyword("attack2", function(c)
  c.state.x = "changed"
  local t = {}
  for i = 1, 1000 do t[i] = i % 7 end
  table.sort(t, function(a, b) return true end)
  return "sorted"
end)

bot.keyword("ping", function() return "pong" end)
