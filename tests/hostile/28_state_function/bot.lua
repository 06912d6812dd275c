-- Attack: persist code or live objects: a function, a coroutine, a table
-- with a metatable, a frozen load-time table, in c.state, c.fields, c.tags
-- and bot.store.
-- Must get: refused when the handler ends, with an error naming the key and
-- the type; nothing committed.
bot.config{ name = "hostile 28", limits = { time = "200ms", memory = "8MB" } }

local shared = { a = 1 }

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

bot.keyword("attack", function(c)
  c.state.x = "changed"
  c:reply("before")
  c.state.f = function() return "code" end
end)

bot.keyword("attack2", function(c)
  c.state.co = coroutine.create(print)
end)

bot.keyword("attack3", function(c)
  c.state.m = setmetatable({}, { __index = function() return 1 end })
end)

bot.keyword("attack4", function(c)
  c.state.s = shared
end)

bot.keyword("attack5", function(c)
  bot.store.f = print
end)

bot.keyword("attack6", function(c)
  c.tags[print] = true
end)

bot.keyword("attack7", function(c)
  c.state = print
end)

bot.keyword("attack8", function(c)
  -- a root that is not a table: a JSON string/number where an object belongs
  c.state = "just a string"
  c.fields = 42
end)

bot.keyword("ping", function() return "pong" end)
