-- Attack: replace the handlers' environment: _ENV = {...} inside a handler
-- (it is an upvalue shared by every handler of the chunk), so that the next
-- conversation's handlers resolve globals in the attacker's table.
-- Must get: an error naming '_ENV' when the handler ends, and _ENV restored:
-- conversation B's handler sees the real globals.
bot.config{ name = "hostile 50", limits = { time = "200ms", memory = "8MB" } }

bot.keyword("attack", function(c)
  c:reply("before")
  _ENV = { tostring = function() return "pwned" end, type = type }
  return "replaced"
end)

bot.keyword("attack2", function(c)
  local real = _ENV
  _ENV = setmetatable({}, { __index = real })
  return "replaced"
end)

bot.keyword("check", function(c)
  return tostring(42) .. " " .. type(string)
end)

bot.keyword("ping", function() return "pong" end)
