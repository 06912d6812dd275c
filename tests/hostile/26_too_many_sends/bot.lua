-- Attack: 60 sends from one handler (the limit is 50), to the fan and to
-- other numbers.
-- Must get: the 51st send is an error ("more than 50 messages from one
-- handler"); the handler commits nothing, so none of the 50 queued messages
-- goes out.
bot.config{ name = "hostile 26", limits = { time = "200ms", memory = "8MB" } }

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

bot.keyword("attack", function(c)
  c.state.x = "changed"
  for i = 1, 60 do c:send("message " .. i) end
  return "sent 60"
end)

bot.keyword("attack2", function(c)
  for i = 1, 60 do send(string.format("+1555%07d", 100 + i), "hello " .. i) end
  return "sent 60"
end)

bot.keyword("attack3", function(c)
  -- catching the error does not help: the queued messages are still dropped
  -- when the handler fails later
  for i = 1, 60 do pcall(c.send, c, "message " .. i) end
  error("give up")
end)

bot.keyword("fifty", function(c)
  for i = 1, 49 do c:send("m" .. i) end
  return "m50"
end)

bot.keyword("ping", function() return "pong" end)
