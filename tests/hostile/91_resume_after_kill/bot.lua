-- Attack: after a limit kill that pcall caught (here the memory limit), call
-- something whose error message Lua 5.4.4 builds outside any protected call:
-- coroutine.resume of a dead or running coroutine (lua_resume's
-- resume_error allocates the message; the runtime fails every allocation once
-- the handler is killed; the allocation error then has no handler and
-- lua_atpanic aborts the whole process).
-- Must get: the handler is stopped ("memory limit exceeded"), the process
-- lives on and the next message works.
bot.config{ name = "hostile 91", limits = { time = "200ms", memory = "8MB" } }

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

local function exhaust()
  pcall(function()
    local t = {}
    for i = 1, 1e7 do t[i] = i end
  end)
end

bot.keyword("attack", function(c)
  c.state.x = "changed"
  c:reply("before")
  local co = coroutine.create(function() end)
  coroutine.resume(co) -- now dead
  exhaust()            -- memory kill, caught by pcall
  coroutine.resume(co) -- "cannot resume dead coroutine"
  return "survived"
end)

bot.keyword("attack2", function(c)
  c.state.x = "changed"
  local running = coroutine.running()
  exhaust()
  coroutine.resume(running) -- "cannot resume non-suspended coroutine"
  return "survived"
end)

bot.keyword("ping", function() return "pong" end)
