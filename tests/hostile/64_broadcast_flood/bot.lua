-- Attack: bot.broadcast in a loop with a 1 MB text. Each call copied the text
-- into the host's journal, with no limit on the count per handler nor on
-- the text's length: a loop under the time limit became gigabytes of host
-- memory, outside the handler's memory limit.
-- Must get: at most 10 broadcasts from one handler and a text no longer than
-- a message may be (bot.config max_message_chars), each refusal an error
-- naming the limit, checked before anything is copied; catching the error
-- does not help (a refused call copies nothing).
bot.config{ name = "hostile 56", limits = { time = "1s", memory = "16MB" },
  max_message_chars = 300 }

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

local big = ("x"):rep(1000000)

bot.keyword("attack", function(c)
  c.state.x = "changed"
  bot.broadcast{ text = big }
  return "sent"
end)

bot.keyword("attack2", function(c)
  c.state.x = "changed"
  for i = 1, 20 do bot.broadcast{ text = "hello " .. i } end
  return "sent 20"
end)

bot.keyword("attack3", function(c)
  -- the flood: every call refused before it copies anything
  local n = 0
  while true do
    if pcall(bot.broadcast, { text = big }) then n = n + 1 end
  end
end)

bot.keyword("attack4", function(c)
  c.state.x = "changed"
  bot.broadcast{ text = "caf\xc3" }
  return "sent"
end)

bot.keyword("ten", function(c)
  -- the limit counts characters: 300 of two bytes each is a message
  for i = 1, 9 do bot.broadcast{ text = "hello " .. i, at = bot.now() + 86400 } end
  return "ok " .. math.type(bot.broadcast{ text = ("é"):rep(300), at = bot.now() + 86400 })
end)

bot.keyword("ping", function() return "pong" end)
