-- Quiet hours (21:00-09:00, the default) and the sends marked not to wait
-- for them: urgent = true (opt-out still applies) on a drip step, a send,
-- a reply, and a handler (its timers' and events' sends).
bot.config{ name = "Northside Clinic", numbers = { "+15550300" }, timezone = "America/New_York" }

bot.drip("reminder", {
  { of = "fields.appointment_at", before = "2h", urgent = true,
    text = "Your appointment is at {{fields.appointment_time}}, in 2 hours." },
  { of = "fields.appointment_at", before = "1h", text = "One hour to go." },
  { of = "fields.appointment_at", before = "30m", call = "soon" },
  { of = "fields.appointment_at", before = "15m", call = "soon_unmarked" },
})

bot.handler("soon", function(c, args) return "See you in 30 minutes." end, { urgent = true })
bot.handler("soon_unmarked", function(c, args) return "See you in 15 minutes." end)

bot.match("^book (%d%d%d%d%-%d%d%-%d%d) (%d%d:%d%d)$", function(c, msg, day, time)
  c.fields.appointment_at = day .. " " .. time
  c.fields.appointment_time = time
  c:start_drip("reminder")
  return "Booked for " .. day .. " at " .. time .. "."
end)

bot.keyword("LATER", function(c, msg)
  bot.after("12h", "nudge")
  bot.after("12h", "alarm")
  bot.after("12h", "mixed")
  return "Two timers at midnight."
end)
bot.handler("nudge", function(c, args) return "A nudge (held at night)." end)
bot.handler("alarm", function(c, args) return "Your alarm (urgent)." end, { urgent = true })
bot.handler("mixed", function(c, args)
  c:reply("A reply marked urgent.", { urgent = true })
  c:send("A send marked urgent.", { urgent = true })
  c:send("A send not marked.")
end)

bot.on_event("results.ready", function(c, ev) return "Your results are ready." end, { urgent = true })
bot.on_event("newsletter", function(c, ev) return "Our spring newsletter." end)
bot.on_event("notify", function(c, ev)
  send(ev.to, "A note for you, marked urgent.", { urgent = true })
  send(ev.to, "A note for you, not marked.")
end)
