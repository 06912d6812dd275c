-- Attack: persisted tables with keys JSON cannot hold faithfully: a table
-- key, a float key, a boolean key, a key with a NUL byte, a key that is not
-- UTF-8; and string keys that look like the encoding of integer keys.
-- Must get: the bad keys are refused, naming the path; nothing committed.
-- Keys "#1" and 1 stay distinct after a round trip.
bot.config{ name = "hostile 30", limits = { time = "200ms", memory = "8MB" } }

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

bot.keyword("attack", function(c)
  c.state.x = "changed"
  c:reply("before")
  c.state[{}] = 1
end)

bot.keyword("attack2", function(c)
  c.state[1.5] = 1
end)

bot.keyword("attack3", function(c)
  c.state[true] = 1
end)

bot.keyword("attack4", function(c)
  c.state["a\0b"] = 1
end)

bot.keyword("attack5", function(c)
  c.state["\xff\xfe"] = 1
end)

bot.keyword("attack6", function(c)
  c.state.v = "\xff\xfe"
end)

bot.keyword("lookalike", function(c)
  c.state.m = { [1] = "int", ["#1"] = "str", ["##1"] = "str2" }
  return "stored"
end)

bot.keyword("read", function(c)
  local m = c.state.m
  return m[1] .. " " .. m["#1"] .. " " .. m["##1"]
end)

bot.keyword("ping", function() return "pong" end)
