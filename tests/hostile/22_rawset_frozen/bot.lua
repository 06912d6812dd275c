-- Attack: rawset on frozen tables, which skips __newindex: rawset(_G, ...),
-- rawset(string, ...), rawset(table, ...), rawset on a table the script
-- created at load time; plus setmetatable on a frozen table to swap its
-- __index.
-- Must get: all refused ("rawset: this table is frozen", "setmetatable: this
-- table is frozen"); conversation B sees nothing of it.
bot.config{ name = "hostile 22", limits = { time = "200ms", memory = "8MB" } }

local config = { greeting = "hello" }

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

bot.keyword("attack", function(c)
  c.state.x = "changed"
  c:reply("before")
  rawset(_G, "planted", c.number)
  return "planted"
end)

bot.keyword("attack2", function(c)
  rawset(string, "rep", function() return "pwned" end)
end)

bot.keyword("attack3", function(c)
  rawset(table, "concat", function() return "pwned" end)
end)

bot.keyword("attack4", function(c)
  rawset(config, "greeting", "pwned by " .. c.number)
end)

bot.keyword("attack5", function(c)
  setmetatable(config, { __index = { greeting = "pwned" } })
end)

bot.keyword("attack6", function(c)
  rawset(math, "random", function() return 4 end)
end)

bot.keyword("check", function(c)
  return config.greeting .. " " .. ("ab"):rep(2) .. " " .. table.concat({ "x", "y" }) .. " " ..
    tostring(rawget(_G, "planted"))
end)

bot.keyword("ping", function() return "pong" end)
