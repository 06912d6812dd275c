-- The durable-timers benchmark (bench/bench.c, section "timers").
--
-- "schedule": the contact gets 10 timers, due 1h..10d after now, spread
-- deterministically from the contact's number (none is due before 1h).
-- "tick": one timer 30m after now; when every contact texts "tick" at the
-- same (virtual) moment, all of them come due at once, before any of the
-- spread-out ones.
bot.config{ name = "Timers" }

local SPAN = 10 * 86400 - 3600 -- seconds: durations from 1h up to 10d

bot.keyword("SCHEDULE", function(c, msg)
  local k = tonumber(c.number:sub(-7))
  for i = 1, 10 do
    bot.after(3600 + (k * 7919 + i * 104729) % SPAN, "later", i)
  end
end)

bot.keyword("TICK", function(c, msg)
  bot.after("30m", "tick")
end)

bot.handler("later", function(c, i)
  c.state.later = (c.state.later or 0) + 1
end)

bot.handler("tick", function(c)
  c.state.ticks = (c.state.ticks or 0) + 1
end)

bot.fallback(function(c, msg)
  return "Hi! Text SCHEDULE or TICK."
end)
