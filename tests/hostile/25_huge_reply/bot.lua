-- Attack: a huge reply (100 KB returned, and sent with c:reply, c:send and
-- send to another number), and a reply with a NUL byte.
-- Must get: refused by the maximum message length (1600) with an error
-- naming the length; nothing is sent, nothing committed.
bot.config{ name = "hostile 25", limits = { time = "200ms", memory = "8MB" } }

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

local big = ("x"):rep(100000)

bot.keyword("attack", function(c)
  c.state.x = "changed"
  c:reply("before")
  return big
end)

bot.keyword("attack2", function(c)
  c:reply(big)
end)

bot.keyword("attack3", function(c)
  c:send(("y"):rep(1601))
end)

bot.keyword("attack4", function(c)
  send("+15550002", big)
end)

bot.keyword("attack5", function(c)
  return "a\0b"
end)

bot.keyword("edge", function(c)
  return ("z"):rep(1600)
end)

bot.keyword("ping", function() return "pong" end)
