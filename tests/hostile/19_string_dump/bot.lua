-- Attack: reach string.dump, directly or as a string method ("").dump, which
-- stock Lua exposes through the string metatable's __index.
-- Must get: both are nil (the string metatable's __index is the sanitized
-- string table); calling either is an error naming 'dump'.
bot.config{ name = "hostile 19", limits = { time = "200ms", memory = "8MB" } }

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

bot.keyword("look", function(c)
  return "string.dump=" .. tostring(string.dump) .. " (''):dump=" .. tostring(("").dump)
end)

bot.keyword("attack", function(c)
  c.state.x = "changed"
  c:reply("before")
  return ("").dump(function() end)
end)

bot.keyword("attack2", function(c)
  return string.dump(print)
end)

bot.keyword("ping", function() return "pong" end)
