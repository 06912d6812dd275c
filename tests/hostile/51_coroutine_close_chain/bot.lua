-- Attack: the Lua 5.4.4 coroutine-close chain crasher (coroutine.close called
-- from __close handlers, each closing the previous coroutine: segfaults
-- 5.4.4), and its coroutine.wrap variant (5.4.4's wrap resets a coroutine
-- that raised an error, which runs its __close handlers, which resume the
-- next wrapped coroutine that raises...).
-- A third variant nests coroutine.resume calls from __close handlers 300 deep.
-- Must get: coroutine.close does not exist (calling it is an error naming
-- 'close'); the wrap chain ends with the plain error ("unwind N") because the
-- sandbox's wrap never resets a failed coroutine; the process survives and
-- the next message works; the nested-resume chain ends normally ("chain
-- true": the innermost resume fails with "C stack overflow", which
-- coroutine.resume returns rather than raises).
bot.config{ name = "hostile 51", limits = { time = "1s", memory = "128MB" } }

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

bot.keyword("attack3", function(c)
  -- each __close resumes the previous coroutine: the nesting reaches Lua's
  -- C-call limit, where that resume fails with "C stack overflow" (returned
  -- by coroutine.resume, not raised); the handler then finishes normally
  local prev
  for _ = 1, 300 do
    local p = prev
    local co = coroutine.create(function()
      local guard <close> = setmetatable({}, { __close = function() if p then coroutine.resume(p) end end })
      coroutine.yield()
    end)
    coroutine.resume(co)
    prev = co
  end
  local ok = coroutine.resume(prev)
  return "chain " .. tostring(ok)
end)

bot.keyword("exists", function()
  return "close=" .. tostring(coroutine.close) .. " type=" .. type(coroutine.close)
end)

bot.keyword("ping", function() return "pong" end)
