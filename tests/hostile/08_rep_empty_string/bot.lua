-- Attack: string.rep("", 3e8): in stock Lua a 0.74 s C loop producing
-- nothing, invisible to the count hook.
-- Must get: an empty string at once (the sandboxed rep returns "" when the
-- result is empty, without looping); the reply is "len=0 0".
-- (e2e/hostile_load.sh also runs this transcript under a short timeout.)
-- With a one-byte separator the result is not empty (3e8 bytes): refused.
bot.config{ name = "hostile 08", limits = { time = "200ms", memory = "8MB" } }

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

bot.keyword("attack", function(c)
  local total = 0
  for _ = 1, 100 do total = total + #string.rep("", 3e8) end
  local b = (""):rep(math.maxinteger, "")
  return "len=" .. total .. " " .. #b
end)

bot.keyword("attack2", function(c)
  c.state.x = "changed"
  return "len=" .. #string.rep("", 3e8, "x")
end)

bot.keyword("ping", function() return "pong" end)
