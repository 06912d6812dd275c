-- Attack: a finalizer, setmetatable({}, {__gc = f}): finalizers run with
-- hooks off, whenever the collector likes, possibly during another
-- conversation's handler.
-- Must get: setmetatable refuses a metatable with a __gc field ("__gc
-- metamethods are not allowed"), whatever its value; nothing committed.
bot.config{ name = "hostile 21", limits = { time = "200ms", memory = "8MB" } }

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

bot.keyword("attack", function(c)
  c.state.x = "changed"
  c:reply("before")
  setmetatable({}, { __gc = function() while true do end end })
  return "planted"
end)

bot.keyword("attack2", function(c)
  setmetatable({}, { __gc = true })
  return "planted"
end)

bot.keyword("attack3", function(c)
  -- a __gc added after setmetatable never marks the object for finalization
  -- (Lua checks at setmetatable time); the handler succeeds and nothing runs
  local mt = {}
  local t = setmetatable({}, mt)
  mt.__gc = function() while true do end end
  t = nil
  return "late __gc ignored"
end)

bot.keyword("ping", function() return "pong" end)
