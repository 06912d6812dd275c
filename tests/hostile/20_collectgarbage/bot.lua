-- Attack: collectgarbage (stop the collector for every conversation, force
-- full collections, read memory use).
-- Must get: an "undefined global 'collectgarbage'" error; nothing committed.
bot.config{ name = "hostile 20", limits = { time = "200ms", memory = "8MB" } }

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

bot.keyword("attack", function(c)
  c.state.x = "changed"
  c:reply("before")
  collectgarbage("stop")
  return "stopped"
end)

bot.keyword("attack2", function(c)
  return tostring(collectgarbage("count"))
end)

bot.keyword("ping", function() return "pong" end)
