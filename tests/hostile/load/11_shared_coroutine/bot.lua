-- Load-time attack: a coroutine created at the top level and kept for the
-- handlers (it would be shared by all conversations).
-- Must get: an error saying a coroutine created while the script loads would
-- be shared.
bot.config{ name = "load 11" }
local worker = coroutine.create(function() while true do coroutine.yield() end end)
bot.keyword("go", function(c)
  coroutine.resume(worker)
  return "ok"
end)
