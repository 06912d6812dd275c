-- Attack: a memory bomb swallowed by pcall in a loop:
-- for i = 1, 1e9 do pcall(string.rep, "x", 1e8) end (each call is refused
-- cheaply, so only the loop's own cost counts), and a loop of pcalls that
-- each really run out of memory (every failed allocation runs an emergency
-- collection, which once overshot a deadline).
-- Must get: stopped by a limit ("limit exceeded"), promptly (e2e/
-- hostile_load.sh runs this under a short timeout); nothing committed.
bot.config{ name = "hostile 32", limits = { time = "200ms", memory = "8MB", instructions = 1e9 } }

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

bot.keyword("attack", function(c)
  c.state.x = "changed"
  c:reply("before")
  for _ = 1, 1e9 do pcall(string.rep, "x", 1e8) end
  return "survived"
end)

bot.keyword("attack2", function(c)
  c.state.x = "changed"
  for _ = 1, 1e9 do
    pcall(function()
      local t = {}
      for i = 1, 1e7 do t[i] = i end
    end)
  end
  return "survived"
end)

bot.keyword("attack3", function(c)
  -- the same with the allocation failure inside a coroutine
  c.state.x = "changed"
  for _ = 1, 1e9 do
    coroutine.resume(coroutine.create(function()
      local s = "x"
      while true do s = s .. s end
    end))
  end
  return "survived"
end)

bot.keyword("ping", function() return "pong" end)
