-- Attack: a time-limit kill swallowed by pcall (the loop catches every error
-- and keeps going, then claims success).
-- Must get: "time limit exceeded (100 ms)": the kill cannot be caught, the
-- handler never gets to reply "survived", nothing is committed.
bot.config{ name = "hostile 02", limits = { time = "100ms", memory = "8MB", instructions = 1e9 } }

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

bot.keyword("attack", function(c)
  c.state.x = "changed"
  c:reply("before")
  for _ = 1, 1e9 do
    pcall(function() while true do end end)
  end
  return "survived"
end)

bot.keyword("attack2", function(c)
  -- the same, with the kill landing inside nested pcalls
  c.state.x = "changed"
  local function deep(n)
    if n == 0 then while true do end end
    pcall(deep, n - 1)
    return deep(n - 1)
  end
  while true do pcall(deep, 20) end
end)

bot.keyword("ping", function() return "pong" end)
