-- Durable timers: bot.after / bot.at / bot.every / bot.cancel, quiet hours.
bot.config{ name = "Timers", timezone = "America/New_York", quiet_hours = { "21:00", "09:00" } }

bot.keyword("remind", function(c, msg)
  c.state.reminder = bot.after("2h", "remind_me", { what = "stretch" })
  return "I'll remind you in 2 hours"
end)

bot.keyword("forget", function(c, msg)
  bot.cancel(c.state.reminder)
  return "Cancelled"
end)

bot.handler("remind_me", function(c, args)
  c:send("Time to " .. args.what .. "!")
end)

bot.keyword("tonight", function(c, msg)
  bot.at("2026-03-02 22:30", "late_note")
  return "Scheduled for 22:30"
end)

bot.handler("late_note", function(c, args)
  c:send("A late note (held until morning)")
end)

bot.keyword("urgent", function(c, msg)
  bot.at("2026-03-02 22:30", "urgent_note")
  return "Urgent at 22:30"
end)

bot.handler("urgent_note", function(c, args)
  c:send("Your code is 1234", { transactional = true })
end)

bot.keyword("broken", function(c, msg)
  bot.after("1m", "explodes")
  return "ok"
end)

bot.handler("explodes", function(c, args)
  error("kaboom")
end)

bot.every("daily 10:00", "digest")

bot.handler("digest", function(c, args)
  bot.store.digests = (bot.store.digests or 0) + 1
  send("+15550100", "Digest #" .. bot.store.digests)
end)

-- times out of range (tests/bounds.chat)
bot.keyword("atfar", function(c, msg) bot.at(1e13, "remind_me") return "scheduled" end)
bot.keyword("atneg", function(c, msg) bot.at(-5, "remind_me") return "scheduled" end)
bot.keyword("atnan", function(c, msg) bot.at(0 / 0, "remind_me") return "scheduled" end)
bot.keyword("afterhuge", function(c, msg) bot.after(1e300, "remind_me") return "scheduled" end)
bot.keyword("bcfar", function(c, msg) bot.broadcast{ text = "x", at = 9e18 } return "scheduled" end)
bot.keyword("segfar", function(c, msg)
  bot.broadcast{ text = "x", segment = { joined_after = 1e300 } }
  return "scheduled"
end)
bot.keyword("atlast", function(c, msg) bot.at(253402300799, "remind_me") return "scheduled" end)
