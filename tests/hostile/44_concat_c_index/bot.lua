-- Attack: table.concat(t, "", 1, 5e6) where t's __index is a C function
-- (rawlen): 5 million metamethod calls inside one C call, no Lua code, so
-- the count hook never runs; table.concat is not charged at all.
-- Must get: stopped by a limit ("limit exceeded": the range charged like
-- table.move/unpack, or the deadline enforced), instead of finishing after
-- about 0.5 s and replying.
bot.config{ name = "hostile 44", limits = { time = "200ms", memory = "32MB", instructions = 1e6 } }

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

bot.keyword("attack", function(c)
  c.state.x = "changed"
  c:reply("before")
  local t = setmetatable({}, { __index = rawlen })
  return "joined " .. #table.concat(t, "", 1, 5e6)
end)

bot.keyword("attack2", function(c)
  c.state.x = "changed"
  local t = setmetatable({}, { __index = rawlen })
  return "joined " .. #table.concat(t, "", 1, 1 << 40)
end)

bot.keyword("ping", function() return "pong" end)
