-- Attack: a handler stopped while bot.contacts reads a page of contacts
-- (each contact read is charged; here the instruction limit runs out
-- inside the page). The stop unwound through the store's query without
-- finishing it: the statement stayed open, holding its read snapshot, so
-- later pages did not see contacts that joined after it.
-- Must get: a limit hit inside the page stops the handler after the query
-- is finished; the next handlers see the store as it is.
bot.config{ name = "hostile 60", limits = { instructions = 2000 } }

bot.match("^city (.+)$", function(c, msg, city)
  c.fields.city = city
  return "ok"
end)

bot.keyword("attack", function(c)
  local n = 0
  for fan in bot.contacts{ city = "austin" } do n = n + 1 end
  return "read " .. n
end)

bot.keyword("count", function(c)
  local n = 0
  for fan in bot.contacts{ city = "paris" } do n = n + 1 end
  return n .. " in paris"
end)

bot.keyword("ping", function() return "pong" end)
