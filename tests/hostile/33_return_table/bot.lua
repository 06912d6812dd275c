-- Attack: a handler returning a table (with a __tostring that loops), a
-- function, a coroutine, or several values.
-- Must get: a table/function/thread return is an error ("a handler returned
-- a table; return a string (the reply) or nothing"), no metamethod is called,
-- nothing committed. Extra return values are ignored.
bot.config{ name = "hostile 33", limits = { time = "200ms", memory = "8MB" } }

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

bot.keyword("attack", function(c)
  c.state.x = "changed"
  c:reply("before")
  return setmetatable({}, { __tostring = function() while true do end end })
end)

bot.keyword("attack2", function(c)
  return print
end)

bot.keyword("attack3", function(c)
  return coroutine.create(print)
end)

bot.keyword("multi", function(c)
  return "first", { "ignored" }, print
end)

bot.keyword("ping", function() return "pong" end)
