-- Attack: string.gsub with a replacement of a million "%0" and a pattern
-- that matches the empty string at every position: each match runs a C loop
-- over the whole replacement, adding nothing (the match is empty), so no
-- memory grows, and the matcher used to charge one step per match. Stock
-- Lua runs it for seconds; one call here ran far past a 200 ms limit.
-- Must get: the replacement work (each escape, each byte copied) is charged
-- as it is done, so the limit stops it within milliseconds of the deadline,
-- with a string replacement, with captures, and with a function or table
-- whose result is copied in for every match.
bot.config{ name = "hostile 54", limits = { time = "200ms", memory = "16MB" } }

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

local subject = ("x"):rep(4000)
local escapes = ("%0"):rep(1000000)

bot.keyword("attack", function(c)
  c.state.x = "changed"
  return (subject:gsub("", escapes))
end)

bot.keyword("attack2", function(c)
  -- empty captures: "%1" copies nothing, the loop is the same
  return (subject:gsub("(y*)", ("%1"):rep(1000000)))
end)

bot.keyword("attack3", function(c)
  -- a function result copied for every match; the copies are garbage
  local big = ("y"):rep(1000000)
  local n = 0
  while true do n = n + #(("ab"):rep(4):gsub("", function() return big end)) end
end)

bot.keyword("small", function(c)
  return (("abc"):gsub("%w", "%0%0"))
end)

bot.keyword("ping", function() return "pong" end)
