-- Load-time attack: coroutine.wrap's function is a C function holding a
-- coroutine: made at the top level, a counter every conversation moves on.
-- Must get: the load fails, naming the wrap function.
bot.config{ name = "load 22" }
local counter = coroutine.wrap(function()
  local n = 0
  while true do
    n = n + 1
    coroutine.yield(n)
  end
end)
bot.keyword("go", function(c)
  return "n=" .. counter()
end)
