-- Attack: tamper with the string metatable (getmetatable("").__index = ...,
-- setmetatable on it, rawset into it) and with the string library
-- (string.upper = ...), to run code in other conversations' string calls.
-- Must get: getmetatable("") is protected (false), so indexing it is an error;
-- string is read-only; every attempt is an error and ("hi"):upper() still
-- works for the next conversation.
bot.config{ name = "hostile 16", limits = { time = "200ms", memory = "8MB" } }

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

bot.keyword("attack", function(c)
  c.state.x = "changed"
  c:reply("before")
  getmetatable("").__index = { upper = function() return "pwned" end }
  return "done"
end)

bot.keyword("attack2", function(c)
  string.upper = function() return "pwned" end
end)

bot.keyword("attack3", function(c)
  rawset(string, "upper", function() return "pwned" end)
end)

bot.keyword("attack4", function(c)
  setmetatable(string, { __index = function() return function() return "pwned" end end })
end)

bot.keyword("attack5", function(c)
  local mt = getmetatable("")
  return "metatable=" .. tostring(mt)
end)

bot.keyword("shout", function(c)
  return ("hi"):upper() .. " " .. string.upper("ok")
end)

bot.keyword("ping", function() return "pong" end)
