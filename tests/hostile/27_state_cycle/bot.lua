-- Attack: persisted state with a cycle (c.state.a.self = c.state.a), a
-- table shared twice, and a cycle through c.fields and bot.store.
-- Must get: refused when the handler ends, with an error naming the path of
-- the repeated table; nothing committed (state, fields, store unchanged).
bot.config{ name = "hostile 27", limits = { time = "200ms", memory = "8MB" } }

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

bot.keyword("attack", function(c)
  c.state.x = "changed"
  c:reply("before")
  c.state.a = {}
  c.state.a.self = c.state.a
  return "stored a cycle"
end)

bot.keyword("attack2", function(c)
  local shared = { 1, 2, 3 }
  c.state.p = shared
  c.state.q = shared
  return "stored a shared table"
end)

bot.keyword("attack3", function(c)
  c.fields.loop = {}
  c.fields.loop.again = c.fields.loop
end)

bot.keyword("attack4", function(c)
  bot.store.loop = { bot.store }
end)

bot.keyword("ping", function() return "pong" end)
