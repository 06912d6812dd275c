-- Attack: register routes from inside a handler (bot.keyword, bot.hear,
-- bot.match, bot.fallback, bot.handler, bot.on_join, bot.config), so that one
-- conversation rewires the bot for everybody.
-- Must get: each is an error ("can only be called at the top level of the
-- script"); nothing was registered: the word "sneaky" still gets no reply
-- (the bot has no fallback), for this fan and another.
bot.config{ name = "hostile 38", limits = { time = "200ms", memory = "8MB" } }

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

local function hijack() return "hijacked" end

bot.keyword("attack", function(c)
  c.state.x = "changed"
  c:reply("before")
  bot.keyword("sneaky", hijack)
  return "registered"
end)

bot.keyword("attack2", function(c) bot.hear("sneaky", hijack) end)
bot.keyword("attack3", function(c) bot.match("sneak", hijack) end)
bot.keyword("attack4", function(c) bot.fallback(hijack) end)
bot.keyword("attack5", function(c) bot.handler("sneaky", hijack) end)
bot.keyword("attack6", function(c) bot.on_join(hijack) end)
bot.keyword("attack7", function(c) bot.config{ limits = { time = "10s" } } end)

bot.keyword("attack8", function(c)
  -- registering from a pcall changes nothing either
  local ok = pcall(bot.keyword, "sneaky", hijack)
  return "pcall " .. tostring(ok)
end)

bot.keyword("ping", function() return "pong" end)
