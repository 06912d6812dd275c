-- Attack: deeply nested state (20 levels; the limit is 16), built as a
-- chain of tables.
-- Must get: refused, "tables nested deeper than 16 levels cannot be stored",
-- naming the path; nothing committed. 16 levels are accepted.
bot.config{ name = "hostile 31", limits = { time = "200ms", memory = "8MB" } }

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

local function nest(t, levels)
  for _ = 1, levels do
    t.n = {}
    t = t.n
  end
  return t
end

bot.keyword("attack", function(c)
  c.state.x = "changed"
  c:reply("before")
  nest(c.state, 20)
end)

bot.keyword("attack2", function(c)
  c.state = {}
  nest(c.state, 16) -- one level more than deep16
end)

bot.keyword("attack3", function(c)
  -- 10000 levels: the encoder must not recurse without bound either
  nest(c.state, 10000)
end)

bot.keyword("deep16", function(c)
  c.state = {}
  nest(c.state, 15)
  return "stored"
end)

bot.keyword("ping", function() return "pong" end)
