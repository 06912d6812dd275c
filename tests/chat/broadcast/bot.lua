-- Segments and broadcasts.
bot.config{ name = "Tour", timezone = "America/Chicago", broadcast_rate = 1 }

bot.match("^city (.+)$", function(c, msg, city)
  c.fields.city = city
  return "ok"
end)

bot.keyword("vip", function(c, msg)
  c:tag("vip")
  return "vip"
end)

bot.keyword("count", function(c, msg)
  local n, numbers = 0, {}
  for fan in bot.contacts{ city = "austin" } do
    n = n + 1
    numbers[#numbers + 1] = fan.number
  end
  return n .. " in austin: " .. table.concat(numbers, ",")
end)

bot.keyword("announce", function(c, msg)
  c.state.b = bot.broadcast{ segment = { city = "austin" }, text = "Austin {{fields.city}}! Tonight 8pm",
    at = "2026-03-02 18:00" }
  return "broadcast #" .. c.state.b
end)

bot.keyword("late", function(c, msg)
  c.state.b = bot.broadcast{ segment = { tags = "vip" }, text = "VIP: late show", at = "2026-03-02 20:59", rate = 0.01 }
  return "late broadcast"
end)

bot.keyword("progress", function(c, msg)
  local s = bot.broadcast_status(c.state.b)
  return string.format("%s sent=%d held=%d suppressed=%d", s.status, s.sent, s.held, s.suppressed)
end)

bot.keyword("bad", function(c, msg)
  bot.broadcast{ segment = { ["city name"] = "x" }, text = "x" }
end)

bot.keyword("announce template", function(c, msg)
  c.state.b = bot.broadcast{ segment = { city = "austin" }, text = "Austin! Tonight 8pm",
    template = "show_tonight", params = { "{{fields.city}}", "8pm" }, at = "2026-03-02 18:00" }
  return "broadcast #" .. c.state.b
end)

bot.keyword("bad template", function(c, msg)
  bot.broadcast{ segment = {}, text = "x", template = "show_tonight", params = { "{{urll fields.city}}" } }
end)

bot.keyword("params alone", function(c, msg)
  bot.broadcast{ segment = {}, text = "x", params = { "a" } }
end)
