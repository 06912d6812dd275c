-- A bot without bot.config{ name = ... }, configured twice: templates fall
-- back to the folder's name, and a second limits table replaces the first.
bot.config{ limits = { instructions = 2000 } }
bot.config{ limits = { time = "1s" } }

bot.keyword("who", function(c, msg)
  return "I am {{bot.name}}"
end)

bot.keyword("count", function(c, msg)
  local n = 0
  for i = 1, 10000 do n = n + i end
  return "counted " .. n
end)

bot.keyword("tags", function(c, msg)
  for i = 1, 10001 do c.tags["t" .. i] = true end
end)
