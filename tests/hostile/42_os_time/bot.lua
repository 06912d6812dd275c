-- Attack: os.time, os.clock, os.date, os.exit, os.execute, os.remove (the
-- whole os library is absent; bot.now() is the clock).
-- Must get: "undefined global 'os'" for each; bot.now() works and is the
-- simulated clock.
bot.config{ name = "hostile 42", limits = { time = "200ms", memory = "8MB" } }

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

bot.keyword("time", function(c)
  c.state.x = "changed"
  c:reply("before")
  return tostring(os.time())
end)

bot.keyword("clock", function(c) return tostring(os.clock()) end)
bot.keyword("date", function(c) return os.date("%c") end)
bot.keyword("exit", function(c) os.exit(1) end)
bot.keyword("execute", function(c) os.execute("touch /tmp/parley-hostile-pwned") end)
bot.keyword("remove", function(c) os.remove("/tmp/parley-hostile-pwned") end)

bot.keyword("now", function(c)
  return "now=" .. bot.now()
end)

bot.keyword("ping", function() return "pong" end)
