-- Load-time attack: rawset skips the bot table's __newindex, so a table
-- planted in `bot` at the top level would be shared, and writable, by every
-- conversation (bot.cache.last = c.number in one, read in the next).
-- Must get: rawset on bot is refused at load as it is in handlers.
bot.config{ name = "load 20" }
rawset(bot, "cache", {})
bot.keyword("go", function(c)
  local last = bot.cache.last
  bot.cache.last = c.number
  return "last=" .. tostring(last)
end)
