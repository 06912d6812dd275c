-- Attack: table.unpack of 1e7 values (a C loop pushing 1e7 stack slots), and
-- of a range covering every integer (the count overflows in naive code:
-- Redis CVE-2025-46817).
-- Must get: charged up front (one instruction per value), so the
-- instruction limit stops it, or Lua's "too many results to unpack" refuses
-- it before pushing anything; 2e7 values (twice the budget) is always the
-- instruction limit; never a crash; nothing committed.
bot.config{ name = "hostile 36", limits = { time = "200ms", memory = "8MB" } }

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
  -- twice the instruction budget: charged before any value is pushed
  return select("#", table.unpack({}, 1, 2e7))
end)

bot.keyword("attack4", function(c)
  -- just under the charge: Lua's own stack limit answers
  return select("#", table.unpack({}, 1, 5e6))
end)

bot.keyword("ping", function() return "pong" end)
