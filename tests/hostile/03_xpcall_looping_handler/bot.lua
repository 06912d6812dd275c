-- Attack: xpcall whose body loops and whose message handler loops too (in
-- stock Lua the handler runs before unwinding, where a kill could hang).
-- Must get: "limit exceeded"; the handler is stopped, nothing committed. A
-- handler that recurses through xpcall ends as in Lua (false, false), after
-- Lua's call depth limit.
bot.config{ name = "hostile 03", limits = { time = "200ms", memory = "8MB" } }

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

bot.keyword("attack", function(c)
  c.state.x = "changed"
  c:reply("before")
  xpcall(function() while true do end end, function(m) while true do end end)
  return "survived"
end)

bot.keyword("attack2", function(c)
  -- the body errors at once; only the message handler loops
  c.state.x = "changed"
  xpcall(function() error("first") end, function(m) while true do end end)
  return "survived"
end)

bot.keyword("attack3", function(c)
  -- a message handler that itself calls xpcall with a looping handler
  c.state.x = "changed"
  local function h(m)
    return xpcall(function() error(m) end, h)
  end
  local ok, v = xpcall(function() error("boom") end, h)
  return "survived " .. tostring(ok) .. " " .. tostring(v)
end)

bot.keyword("ping", function() return "pong" end)
