-- Attack: an infinite loop in a handler.
-- Must get: the handler is stopped by the instruction limit ("instruction
-- limit exceeded", naming bot.lua and the line); nothing it did is committed
-- (no reply, no state change); the next message is handled normally.
bot.config{ name = "hostile 01", limits = { time = "200ms", memory = "8MB" } }

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

bot.keyword("attack", function(c)
  c.state.x = "changed" -- must not be committed
  c:reply("before")     -- must not be sent
  while true do end
end)

bot.keyword("ping", function() return "pong" end)
