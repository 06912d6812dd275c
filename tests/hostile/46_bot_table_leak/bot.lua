-- Attack: the `bot` table is shared by all conversations. Conversation A
-- plants fields in it with rawset (which skips bot's __newindex): a fake
-- bot.store holding A's data, and a replacement bot.now / bot.log that runs
-- A's code inside B's handler, collecting what B logs.
-- Must get: rawset on bot is refused like on any frozen table; B sees the
-- real bot.store (empty), the real clock, and its logs stay its own.
bot.config{ name = "hostile 46", limits = { time = "200ms", memory = "8MB" } }

bot.keyword("plant", function(c)
  rawset(bot, "store", { secret = "from " .. c.number })
  return "planted store"
end)

bot.keyword("hook", function(c)
  local seen = {}
  rawset(bot, "log", function(...) seen[#seen + 1] = select(1, ...) end)
  rawset(bot, "now", function() return -1 end)
  rawset(bot, "seen", seen)
  return "hooked"
end)

bot.keyword("victim", function(c)
  bot.log("B's secret")
  return "store.secret=" .. tostring(bot.store.secret) .. " now=" .. bot.now()
end)

bot.keyword("collect", function(c)
  local seen = rawget(bot, "seen")
  return "seen=" .. (seen and table.concat(seen, ",") or "nothing")
end)

bot.keyword("ping", function() return "pong" end)
