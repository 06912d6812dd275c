-- Attack: flood bot.log: the same 1 MB string logged 100 times (one Lua
-- string, reused, so the Lua memory limit never sees it) makes the host
-- buffer 100 MB of log lines for one message; with 1000 calls and a longer
-- time limit, gigabytes (the process dies, every bot with it).
-- Must get: the host keeps at most 64 KiB of log lines per handler (the rest
-- is dropped with a note), so the handler completes with bounded memory.
-- (e2e/hostile_load.sh runs a bigger flood under a memory ceiling.)
bot.config{ name = "hostile 45", limits = { time = "5s", memory = "8MB" } }

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

bot.keyword("attack", function(c)
  c.state.x = "changed"
  c:reply("before")
  local line = ("x"):rep(1 << 20)
  for _ = 1, 100 do bot.log(line) end
  return "logged"
end)

bot.keyword("attack2", function(c)
  c.state.x = "changed"
  local line = ("y"):rep(1 << 20)
  for _ = 1, 100 do print(line) end
  return "printed"
end)

bot.keyword("ping", function() return "pong" end)
