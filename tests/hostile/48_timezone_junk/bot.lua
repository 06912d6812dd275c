-- Attack: persist junk through c.timezone, the one per-contact value that is
-- not JSON-encoded: a 100 KB string, a name that is no time zone, a string
-- with a NUL byte.
-- Must get: refused when the handler ends (an error saying it is not a time
-- zone); the stored timezone is unchanged; a real zone is accepted.
bot.config{ name = "hostile 48", limits = { time = "200ms", memory = "8MB" } }

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

bot.keyword("attack", function(c)
  c.state.x = "changed"
  c:reply("before")
  c.timezone = ("x"):rep(100000)
  return "stored"
end)

bot.keyword("attack2", function(c)
  c.timezone = "Mars/Olympus_Mons"
  return "stored"
end)

bot.keyword("attack3", function(c)
  c.timezone = "America/Chicago\0; DROP TABLE contacts"
  return "stored"
end)

bot.keyword("attack4", function(c)
  c.timezone = { "America/Chicago" }
  return "stored"
end)

bot.keyword("real", function(c)
  c.timezone = "America/Chicago"
  return "stored"
end)

bot.keyword("ping", function() return "pong" end)
