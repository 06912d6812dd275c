-- Edges of timers, drips and broadcasts found in review.
bot.config{ name = "Edges", timezone = "America/New_York", late_after = "6h", max_message_chars = 20 }

bot.handler("note", function(c, args) return "evening note" end)
bot.handler("noop", function(c, args) end)

bot.keyword("evening", function(c, msg)
  bot.at("2026-03-02 20:00", "note")
  return "ok"
end)

bot.keyword("many", function(c, msg)
  for i = 1, 100 do bot.after("1d", "noop") end
  bot.cancel(1)
end)

bot.drip("series", {
  { after = "1h", text = "one" },
  { after = "1d", text = "two" },
})

bot.keyword("series", function(c, msg)
  c:start_drip("series")
  return "started"
end)

bot.drip("gap", { { after = "1d", at = "02:30", text = "at half past two" } })

bot.keyword("gap", function(c, msg)
  c:start_drip("gap")
  return "gap"
end)

bot.keyword("paris", function(c, msg)
  c.timezone = "Europe/Paris"
  bot.at("2026-03-02 18:00", "note")
  return "paris"
end)

bot.match("^name (.*)$", function(c, msg, name)
  c.fields.name = name
  return "ok"
end)

bot.keyword("noname", function(c, msg)
  c.fields.name = ""
  return "ok"
end)

bot.keyword("blast", function(c, msg)
  c.state.b = bot.broadcast{ segment = {}, text = "{{fields.name}}", rate = 1 }
  return "blast"
end)

bot.keyword("progress", function(c, msg)
  local s = bot.broadcast_status(c.state.b)
  return s.status .. " " .. s.sent .. "/" .. s.failed
end)
