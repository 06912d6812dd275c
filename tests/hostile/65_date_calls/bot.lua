-- Attack: the date library does its work in ICU, where the count hook never
-- runs: a loop of date.format (35 to 75 us a call that builds a formatter,
-- about 2 us with one the VM kept) or date.parse cost a handler a few Lua
-- instructions per call, and huge patterns, zones or texts would be handed
-- to ICU whole.
-- Must get: every call is charged before its work (date.format 8,000
-- instructions, 300 with a kept formatter; date.parse 1,000, ...), so the
-- instruction limit stops such
-- a loop at the line of the call, and inputs past their bounds (a pattern
-- of 256 bytes, a date of 64, a zone of 100, a locale of 64) are refused
-- before ICU sees them, with an error a script can catch.
-- The limit is the instruction budget, so the outcome does not depend on
-- the machine's speed.
bot.config{ name = "hostile 65", limits = { time = "10s", memory = "256MB", instructions = 1e6 } }

local big = ("E"):rep(20000000)

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

bot.keyword("formats", function(c)
  c.state.x = "changed"
  for i = 1, 10000 do date.format(1773167400 + i, "EEE MMM d 'at' h:mm a") end
  return "formatted"
end)

-- nine patterns in turn: the VM keeps eight formatters, so each call
-- builds one
local PATTERNS = { "EEE", "EEEE", "MMM", "MMMM", "d", "dd", "h", "hh", "yyyy" }

bot.keyword("cycle", function(c)
  c.state.x = "changed"
  for i = 1, 1000 do date.format(1773167400, PATTERNS[i % 9 + 1]) end
  return "cycled"
end)

bot.keyword("parses", function(c)
  c.state.x = "changed"
  for i = 1, 1000 do date.parse("2026-03-10T14:30") end
  return "parsed"
end)

bot.keyword("ages", function(c)
  c.state.x = "changed"
  for i = 1, 1000 do pcall(date.age, "1990-05-17") end
  return "counted"
end)

bot.keyword("huge", function(c)
  local ok1, e1 = pcall(date.format, 0, big)
  local ok2, e2 = pcall(date.parse, big)
  local ok3, e3 = pcall(date.parse, "2026-03-10", big)
  local ok4, e4 = pcall(date.format, 0, "EEE", { locale = big })
  return table.concat({ tostring(ok1), e1, tostring(ok2), e2, tostring(ok3), e3, tostring(ok4), e4 }, " / ")
end)

bot.keyword("few", function(c)
  return date.format(1773167400, "EEE MMM d 'at' h:mm a", "America/New_York")
end)
