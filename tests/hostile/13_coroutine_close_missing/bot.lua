-- Attack: the Lua 5.4.4 coroutine-close chain crasher (coroutine.close called
-- from __close handlers, each closing the previous coroutine: segfaults
-- 5.4.4), and its coroutine.wrap variant (5.4.4's wrap resets a coroutine
-- that raised an error, which runs its __close handlers, which resume the
-- next wrapped coroutine that raises...).
-- Must get: coroutine.close does not exist (calling it is an error naming
-- 'close'); the wrap chain ends with the plain error ("unwind N") because the
-- sandbox's wrap never resets a failed coroutine; the process survives and
-- the next message works.
bot.config{ name = "hostile 13", limits = { time = "1s", memory = "128MB" } }

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

bot.keyword("attack", function(c)
  c.state.x = "changed"
  c:reply("before")
  local prev
  for _ = 1, 30000 do
    local p = prev
    local co = coroutine.create(function()
      local guard <close> = setmetatable({}, { __close = function() coroutine.close(p) end })
      coroutine.yield()
    end)
    coroutine.resume(co)
    prev = co
  end
  coroutine.close(prev)
  return "closed"
end)

bot.keyword("attack2", function(c)
  c.state.x = "changed"
  local prev
  for i = 1, 30000 do
    local p = prev
    local f = coroutine.wrap(function()
      local guard <close> = setmetatable({}, { __close = function() if p then p() end end })
      coroutine.yield()
      error("unwind " .. i, 0)
    end)
    f()
    prev = f
  end
  prev()
  return "survived"
end)

bot.keyword("exists", function()
  return "close=" .. tostring(coroutine.close) .. " type=" .. type(coroutine.close)
end)

bot.keyword("ping", function() return "pong" end)
