-- Attack: table.sort over a table whose __len claims a million elements and
-- whose __index / __newindex are C functions (rawlen, rawequal): the sort
-- then runs entirely in C, where the count hook never fires, and the
-- sandbox's up-front charge (based on the raw length, 0) is nothing.
-- (SANDBOX.md measured the same trick on table.remove: 0.61 s.)
-- Must get: stopped by the instruction limit (every comparison and element
-- access is charged as the sort goes); nothing committed.
bot.config{ name = "hostile 43", limits = { time = "200ms", memory = "32MB", instructions = 1e6 } }

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

bot.keyword("attack", function(c)
  c.state.x = "changed"
  c:reply("before")
  local t = setmetatable({}, {
    __len = function() return 1e6 end,
    __index = rawlen,      -- every element reads as 0, without running Lua code
    __newindex = rawequal, -- every write is dropped, without running Lua code
  })
  table.sort(t)
  return "sorted"
end)

bot.keyword("attack2", function(c)
  -- the same trick on table.concat's implicit length
  c.state.x = "changed"
  local t = setmetatable({}, { __len = function() return 5e6 end, __index = rawlen })
  return "joined " .. #table.concat(t)
end)

bot.keyword("ping", function() return "pong" end)
