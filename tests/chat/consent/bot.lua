-- A shop's order bot whose customers were imported without evidence of
-- consent (status not_opted_in): no broadcast reaches them; texting the
-- number makes them subscribed, as it does a new number.
bot.config{ name = "Shop", timezone = "America/Chicago", broadcast_rate = 1 }

bot.on_join(function(c, msg)
  c:send("Welcome to the shop!")
  return c:continue()
end)

bot.match("^order (%d+)$", function(c, msg, id)
  return "Order " .. id .. " ships tomorrow."
end)

bot.keyword("sale", function(c, msg)
  c.state.b = bot.broadcast{ text = "Sale today!", at = "2026-03-02 13:00" }
  return "broadcast #" .. c.state.b
end)

bot.keyword("progress", function(c, msg)
  local s = bot.broadcast_status(c.state.b)
  return string.format("%s sent=%d suppressed=%d not_opted_in=%d", s.status, s.sent,
    s.suppressed, s.not_opted_in)
end)

bot.keyword("who", function(c, msg)
  local n = 0
  for _ in bot.contacts{ status = "not_opted_in" } do n = n + 1 end
  return n .. " not opted in"
end)

bot.on_event("order.shipped", function(c, ev)
  c:send("Order " .. ev.id .. " shipped.")
end)

-- staff send a code to a number that never texted the shop
bot.match("^code (%+%d+)$", function(c, msg, number)
  send(number, "Your pickup code is 4321.")
  return "sent"
end)

bot.fallback(function(c, msg) return "Text ORDER and its number." end)
