-- The keyword-autoresponder workload of shared/bench/WORKLOAD.md, rules 4-6
-- (rules 1-3 are the runtime's built-in compliance).
bot.config{ name = "Bench" }

bot.keyword("START", function(c, msg)
  return "Welcome back!"
end)

bot.hear("tour", function(c, msg)
  return "Tour dates: ..."
end)

bot.hear("merch", function(c, msg)
  return "Shop: ..."
end)

bot.fallback(function(c, msg)
  local n = (c.state.n or 0) + 1
  c.state.n = n
  return "Thanks " .. c.number .. ", message #" .. n .. " received"
end)
