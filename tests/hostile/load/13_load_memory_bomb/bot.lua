-- Load-time attack: a memory bomb at the top level.
-- Must get: "memory limit exceeded", promptly.
bot.config{ name = "load 13" }
local t = {}
for i = 1, 1e10 do t[i] = ("x"):rep(100) .. i end
