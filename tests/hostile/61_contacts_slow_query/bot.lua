-- Attack: bot.contacts with a segment that makes the store's query slow and
-- matches nothing: 900 tags, each a subquery per contact, over contacts
-- that have the first 899 of them. The query runs in
-- SQLite, where the hook never looks, and only contacts that match were
-- charged: with many contacts one page could take seconds, charged nothing.
-- Must get: the store's work is charged while the query runs (SQLite's
-- progress handler, every 1,000 of its steps) and the query stops at the
-- limit. The limit here is the instruction budget, so the outcome does not
-- depend on the machine's speed.
bot.config{ name = "hostile 61", limits = { instructions = 1e6, time = "10s" } }

bot.match("^city (.+)$", function(c, msg, city)
  c.fields.city = city
  for i = 1, 899 do c:tag("t" .. i) end
  return "ok"
end)

bot.keyword("attack", function(c)
  local tags = {}
  for i = 1, 900 do tags[i] = "t" .. i end
  local n = 0
  for fan in bot.contacts{ tags = tags } do n = n + 1 end
  return "matched " .. n
end)

bot.keyword("count", function(c)
  local n = 0
  for fan in bot.contacts{ city = "austin" } do n = n + 1 end
  return n .. " in austin"
end)

bot.keyword("ping", function() return "pong" end)
