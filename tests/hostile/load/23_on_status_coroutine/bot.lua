-- Load-time attack: the function given to bot.on_status was not walked by
-- the freeze, so what only it captures stayed shared and mutable: here a
-- coroutine (and a table) carried from one delivery report to the next.
-- Must get: the load fails on the coroutine, reached through on_status.
bot.config{ name = "load 23" }
local seen = {}
local worker = coroutine.create(function()
  while true do coroutine.yield() end
end)
bot.on_status(function(c, st)
  seen[#seen + 1] = c.number
  coroutine.resume(worker)
end)
bot.keyword("go", function() return "ok" end)
