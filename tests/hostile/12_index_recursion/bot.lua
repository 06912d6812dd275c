-- Attack: deep recursion through __index (each level is a metamethod call
-- made from C), and an __index chain that loops back on itself.
-- Must get: an error ("C stack overflow" / "stack overflow" / "'__index'
-- chain too long"), never a crash; nothing committed.
bot.config{ name = "hostile 12", limits = { time = "200ms", memory = "8MB" } }

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

bot.keyword("attack", function(c)
  c.state.x = "changed"
  c:reply("before")
  local t = setmetatable({}, {})
  getmetatable(t).__index = function(self, k) return self[k .. "!"] end
  return t.x
end)

bot.keyword("attack2", function(c)
  c.state.x = "changed"
  local t = {}
  setmetatable(t, { __index = t })
  return tostring(t.x)
end)

bot.keyword("attack3", function(c)
  -- the same through __newindex, __call, __eq and __tostring
  c.state.x = "changed"
  local mt = {}
  local t = setmetatable({}, mt)
  mt.__newindex = function(self, k, v) self[k] = v end
  mt.__call = function(self) return self() end
  t.y = 1
  return "survived"
end)

bot.keyword("attack4", function(c)
  c.state.x = "changed"
  local mt = {}
  mt.__call = function(self) return 1 + self() end
  return tostring(setmetatable({}, mt)())
end)

bot.keyword("attack5", function(c)
  c.state.x = "changed"
  local mt = {}
  mt.__tostring = function(self) return tostring(self) end
  return tostring(setmetatable({}, mt))
end)

bot.keyword("ping", function() return "pong" end)
