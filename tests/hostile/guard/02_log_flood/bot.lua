-- Guard (run by tests/e2e/hostile_load.sh under a 1 GB address-space cap):
-- bot.log of one 1 MB string, 3000 times, with a 5 s time limit: 3 GB of
-- log lines buffered by the host for one message if nothing bounds them.
-- Must get: stopped (a limit or a log-size error) within the cap; the next
-- message works.
bot.config{ name = "guard 02", limits = { time = "5s", memory = "8MB" } }

bot.keyword("attack", function(c)
  local line = ("x"):rep(1 << 20)
  for _ = 1, 3000 do bot.log(line) end
  return "logged"
end)

bot.keyword("ping", function() return "pong" end)
