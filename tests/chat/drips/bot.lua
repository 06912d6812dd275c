-- Drips: a welcome series, one that stops when the fan replies, and an
-- appointment reminder counted back from a date field.
bot.config{ name = "Drips", timezone = "America/New_York" }

bot.drip("welcome", {
  { after = "1h", text = "Behind the scenes, {{fields.name}}" },
  { after = "2d", text = "Tickets drop Friday" },
  { after = "7d", from = "start", call = "survey" },
})

bot.drip("nudge", {
  { after = "1d", text = "Still there?" },
  { after = "1d", text = "Last nudge" },
}, { stop_on_reply = true })

bot.drip("reminder", {
  { before = "1d", of = "fields.appointment_at", at = "10:00", text = "Reminder: your appointment is tomorrow at {{fields.appointment_at}}" },
  { before = "1h", of = "fields.appointment_at", text = "See you in an hour!" },
})

bot.handler("survey", function(c, args)
  return "How was your first week? Reply 1-5"
end)

bot.keyword("join", function(c, msg)
  c.fields.name = "Sam"
  c:start_drip("welcome")
  return "Welcome!"
end)

bot.keyword("quiet", function(c, msg)
  c:stop_drip("welcome")
  return "Stopped"
end)

bot.keyword("nudge", function(c, msg)
  c:start_drip("nudge")
  return "Nudging"
end)

bot.match("^book (.+)$", function(c, msg, when)
  c.fields.appointment_at = when
  c:start_drip("reminder")
  return "Booked for " .. when
end)

bot.fallback(function(c, msg)
  return "ok"
end)
