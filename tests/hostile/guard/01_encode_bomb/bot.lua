-- Guard (run by tests/e2e/hostile_load.sh under a 1 GB address-space cap):
-- c.state holding the same 4 MB string 5000 times. The Lua side costs 4 MB;
-- an encoder that copies every value before checking the 64 KB state limit
-- needs 20 GB of host memory (and minutes).
-- Must get: refused ("more than the limit"), quickly, within the cap.
bot.config{ name = "guard 01", limits = { time = "200ms", memory = "8MB" } }

bot.keyword("attack", function(c)
  local s = ("x"):rep(4e6)
  for i = 1, 5000 do c.state[i] = s end
  return "stored"
end)

bot.keyword("attack2", function(c)
  local s = ("y"):rep(4e6)
  for i = 1, 5000 do bot.store["k" .. i] = s end
  return "stored"
end)

bot.keyword("ping", function() return "pong" end)
