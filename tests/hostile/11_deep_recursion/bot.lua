-- Attack: unbounded Lua recursion (non-tail calls).
-- Must get: stopped by the memory limit (or Lua's own "stack overflow"
-- error); nothing committed. A tail-call loop is stopped by the
-- instruction limit instead.
bot.config{ name = "hostile 11", limits = { time = "200ms", memory = "8MB" } }

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

bot.keyword("attack", function(c)
  c.state.x = "changed"
  c:reply("before")
  local function f(n) return 1 + f(n + 1) end
  return f(1)
end)

bot.keyword("attack2", function(c)
  c.state.x = "changed"
  local function f(n) return f(n + 1) end -- a proper tail call: loops forever
  return f(1)
end)

bot.keyword("attack3", function(c)
  -- recursion through pcall: every level is also a C call; pcall turns the
  -- overflow into an ordinary error, so this one succeeds
  local function f() return select(2, pcall(f)) end
  return tostring(f())
end)

bot.keyword("ping", function() return "pong" end)
