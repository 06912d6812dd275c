-- Attack: table.unpack of 1e7 values (a C loop pushing 1e7 stack slots), and
-- of a range covering every integer (the count overflows in naive code:
-- Redis CVE-2025-46817).
-- Must get: Lua's own "too many results to unpack" (its stack holds at most
-- 1,000,000 values), raised before anything is pushed or charged, as in
-- Lua; a range that fits is charged one instruction per value; never a
-- crash; nothing committed.
-- (a small instruction budget, so that the values attack6 unpacks exceed it)
bot.config{ name = "hostile 36", limits = { time = "200ms", memory = "32MB", instructions = 100000 } }

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

bot.keyword("attack", function(c)
  c.state.x = "changed"
  c:reply("before")
  return select("#", table.unpack({}, 1, 1e7))
end)

bot.keyword("attack2", function(c)
  return select("#", table.unpack({}, math.mininteger, math.maxinteger))
end)

bot.keyword("attack3", function(c)
  return select("#", table.unpack({}, -2, math.maxinteger))
end)

bot.keyword("attack5", function(c)
  -- twice the instruction budget: Lua refuses it before any work
  return select("#", table.unpack({}, 1, 2e7))
end)

bot.keyword("attack4", function(c)
  -- Lua's own stack limit answers
  return select("#", table.unpack({}, 1, 5e6))
end)

bot.keyword("attack6", function(c)
  -- fits Lua's stack, but not a 10,000-instruction budget: charged per value
  return select("#", table.unpack({}, 1, 900000))
end)

bot.keyword("ping", function() return "pong" end)
