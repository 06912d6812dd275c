-- Control: a well-formed bot `parley check` accepts (so the other cases fail
-- for their own reasons, not because check fails on everything).
bot.config{ name = "load 15", limits = { time = "200ms", memory = "8MB" } }
bot.handler("nope", function(c, msg) return "fine" end)
bot.keyword("start", function(c)
  c:expect("nope")
  return "go on"
end)
