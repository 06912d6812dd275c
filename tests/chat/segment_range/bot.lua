-- Segments by range: numbers (min, max) and dates (after, before) in fields.
bot.config{ name = "Ranges", timezone = "America/Chicago" }

bot.match("^age (%d+)$", function(c, msg, n)
  c.fields.age = tonumber(n)
  return "ok"
end)

local function list(q)
  local numbers = {}
  for fan in bot.contacts(q) do numbers[#numbers + 1] = fan.number end
  return table.concat(numbers, ",")
end

bot.keyword("adults", function() return "adults: " .. list{ age = { min = 18 } } end)
bot.keyword("twenties", function() return "20s: " .. list{ age = { min = 20, max = 29 } } end)
bot.keyword("young", function() return "under 18.5: " .. list{ age = { max = 18.5 } } end)
bot.keyword("born", function()
  return "born before 2008-12-05: " .. list{ birthday = { before = "2008-12-05" } }
end)
bot.keyword("since", function()
  return "born on or after 2008-12-05: " .. list{ birthday = { after = "2008-12-05" } }
end)
bot.keyword("nineties", function()
  return "90s: " .. list{ birthday = { after = "1990-01-01", before = "2000-01-01" } }
end)
bot.keyword("announce", function(c)
  c.state.b = bot.broadcast{ segment = { age = { min = 18 }, city = "Austin" }, text = "Adults in Austin" }
  return "broadcast"
end)
bot.keyword("bad1", function() bot.contacts{ age = { min = "18" } } end)
bot.keyword("bad2", function() bot.contacts{ age = { least = 18 } } end)
bot.keyword("bad3", function() bot.contacts{ birthday = { before = "Dec 5" } } end)
bot.keyword("bad4", function() bot.contacts{ age = { min = 1, before = "2000-01-01" } } end)
bot.keyword("bad5", function() bot.broadcast{ segment = { age = {} }, text = "x" } end)
