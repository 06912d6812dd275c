-- Attack: reading an undefined global (typos, probing for hidden names).
-- Must get: an error naming the global ("undefined global 'nope'"), also
-- through _G and _ENV; nothing committed.
bot.config{ name = "hostile 14", limits = { time = "200ms", memory = "8MB" } }

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

bot.keyword("attack", function(c)
  c.state.x = "changed"
  c:reply("before")
  return "value=" .. tostring(nope)
end)

bot.keyword("attack2", function(c)
  return tostring(_G.sandbox_internals)
end)

bot.keyword("attack3", function(c)
  return tostring(_ENV["host"])
end)

bot.keyword("ping", function() return "pong" end)
