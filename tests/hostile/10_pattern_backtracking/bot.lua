-- Attack: catastrophic backtracking, string.find(("a"):rep(100),
-- (".-"):rep(6) .. "b"): about 15 s in stock Lua, all inside one C call.
-- Must get: the bounded matcher charges its steps, so the instruction limit
-- stops it ("limit exceeded"), through find, match, gmatch and gsub alike.
bot.config{ name = "hostile 10", limits = { time = "200ms", memory = "8MB" } }

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

local subject, pattern = ("a"):rep(100), (".-"):rep(6) .. "b"

bot.keyword("attack", function(c)
  c.state.x = "changed"
  c:reply("before")
  return tostring(string.find(subject, pattern))
end)

bot.keyword("attack2", function(c)
  return tostring(subject:match(pattern))
end)

bot.keyword("attack3", function(c)
  for m in subject:gmatch(pattern) do return m end
  return "none"
end)

bot.keyword("attack4", function(c)
  return (subject:gsub(pattern, "x"))
end)

bot.keyword("attack5", function(c)
  -- a balanced-match pattern over a long unbalanced string
  return tostring((("("):rep(20000)):find(("%b()"):rep(3)))
end)

bot.keyword("ping", function() return "pong" end)
