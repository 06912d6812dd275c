-- Guard (run by tests/e2e/hostile_load.sh with a wall-clock bound):
-- a loop whose every iteration is a few Lua instructions around one call of
-- an uncharged C function doing O(n) work: utf8.len over a 120 MB string
-- (~40 ms). The deadline is looked at once per 1000 instructions, i.e. once
-- per ~250 calls, so a 1 s limit overshoots to 10 s or more.
-- Must get: "limit exceeded" near the 1 s limit (the guard allows 4 s for
-- the whole transcript).
bot.config{ name = "guard 03", limits = { time = "1s", memory = "256MB", instructions = 1e9 } }

bot.keyword("attack", function(c)
  local s = ("xxxxxxxx"):rep(15000000)
  local len = utf8.len
  while true do len(s) end
end)

bot.keyword("ping", function() return "pong" end)
