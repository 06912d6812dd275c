-- Load-time attack: c:expect names a handler that does not exist.
-- Must get: `parley check` reports it as this file's line 8.
bot.config{ name = "load 05" }

bot.handler("yes", function(c, msg) return "ok" end)

bot.keyword("start", function(c)
  c:expect("nope")
  return "go on"
end)
