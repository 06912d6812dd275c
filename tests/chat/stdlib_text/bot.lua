-- require of a module shipped in stdlib/
local text = require("text")

bot.match("^city (.+)$", function(c, msg, city)
  c.fields.city = text.title(text.trim(city))
  return "City: {{fields.city}}"
end)

bot.match("^pick (.+)$", function(c, msg, list)
  local items = text.split(list, ",")
  for i = 1, #items do items[i] = text.trim(items[i]) end
  return "You picked " .. text.list(items)
end)

bot.fallback(function(c, msg)
  return table.concat(text.words(msg.text), "|")
end)
