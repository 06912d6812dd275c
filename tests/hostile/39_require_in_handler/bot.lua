-- Attack: require inside a handler (to load code late, or to probe the
-- runtime's files), including a module the bot really has.
-- Must get: refused ("must be called at the top level of the script"), also
-- for a module that exists and was already loaded... except that a module
-- loaded at the top level is returned from the cache, so that one works.
bot.config{ name = "hostile 39", limits = { time = "200ms", memory = "8MB" } }

local helper = require("lib.helper")

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

bot.keyword("attack", function(c)
  c.state.x = "changed"
  c:reply("before")
  return tostring(require("lib.other"))
end)

bot.keyword("attack2", function(c)
  return tostring(require("internal.sandbox"))
end)

bot.keyword("attack3", function(c)
  return tostring(require("nonexistent"))
end)

bot.keyword("cached", function(c)
  return require("lib.helper").hello() .. " " .. helper.hello()
end)

bot.keyword("ping", function() return "pong" end)
