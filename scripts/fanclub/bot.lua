-- Ava Stone's fan line: the default bot `make run` serves.
bot.config{
  name = "Ava Stone",
  numbers = { "+15550100" },
  help = "Ava Stone fan line, ~4 msgs/mo. Msg&data rates may apply. Reply STOP to cancel.",
  timezone = "America/New_York",
}

bot.on_join(function(c, msg)
  -- a fan the ticket shop's confirmation reached first: their first text
  -- answers it (TOUR, MERCH...), so it goes on to the rest of the routing
  if c.tags.ticket_holder then return c:continue() end
  c:expect("city")
  return "Hey, it's Ava! Welcome to the fan club. What city are you in?"
end)

bot.handler("city", function(c, msg)
  local city = msg.text:gsub("^%s+", ""):gsub("%s+$", "")
  c.fields.city = city
  return "Noted, {{fields.city}}! Text TOUR for dates or MERCH for the shop."
end)

bot.keyword({ "TOUR", "DATES" }, function(c, msg)
  return "Tour dates: Mar 14 Austin, Mar 16 Dallas, Mar 20 Denver. Tickets: https://avastone.example/tour"
end)

bot.keyword("MERCH", function(c, msg)
  return "Shop: https://avastone.example/merch"
end)

bot.keyword("START", function(c, msg)
  return "Welcome back!"
end)

bot.hear("tour", function(c, msg)
  return "Tour dates: Mar 14 Austin, Mar 16 Dallas, Mar 20 Denver. Tickets: https://avastone.example/tour"
end)

bot.hear("merch", function(c, msg)
  return "Shop: https://avastone.example/merch"
end)

-- The ticket shop's backend posts this when a fan buys tickets
-- (POST /v1/bots/fanclub/events {"type":"tickets.purchased",
-- "contact":"+15550001","data":{"show":"Austin, Mar 14","qty":2}}).
bot.on_event("tickets.purchased", function(c, ev)
  if type(ev.show) ~= "string" then error("tickets.purchased needs a show, got " .. tostring(ev.show)) end
  local qty = math.tointeger(ev.qty) or 1
  c.tags.ticket_holder = true
  c:send("You're in! " .. qty .. (qty == 1 and " ticket" or " tickets") .. " for " .. ev.show
    .. " confirmed. See you there!", { transactional = true })
end)

bot.fallback(function(c, msg)
  c.state.count = (c.state.count or 0) + 1
  return "Thanks " .. c.number .. ", message #" .. c.state.count .. " received"
end)
