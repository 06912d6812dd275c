-- Attack: coroutine ping-pong: two coroutines resuming each other forever
-- (each resume of a running/normal coroutine fails with an error string, the
-- loop ignores it and goes on).
-- Must get: stopped by a limit ("limit exceeded"), no crash (in particular
-- no "unprotected Lua error" abort when, after the kill, a resume needs to
-- allocate its error message); nothing committed; the next message works.
-- (Numbered 9x: while the runtime crashes on it, it would hide the tests
-- after it.)
bot.config{ name = "hostile 90", limits = { time = "200ms", memory = "8MB" } }

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

bot.keyword("attack", function(c)
  c.state.x = "changed"
  c:reply("before")
  local a, b
  a = coroutine.create(function()
    while true do coroutine.resume(b) end
  end)
  b = coroutine.create(function()
    while true do
      coroutine.resume(a) -- a is "normal": fails with an error message
      coroutine.yield()
    end
  end)
  coroutine.resume(a)
  return "survived"
end)

bot.keyword("attack2", function(c)
  -- the same with coroutine.wrap
  c.state.x = "changed"
  local a, b
  a = coroutine.wrap(function() while true do pcall(b) end end)
  b = coroutine.wrap(function() while true do pcall(a) coroutine.yield() end end)
  a()
  return "survived"
end)

bot.keyword("ping", function() return "pong" end)
