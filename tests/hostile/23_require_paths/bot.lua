-- Attack: require with paths: require("../x"), require("/etc/passwd"),
-- require("..."), a module name with "..", and the runtime's own prelude
-- (internal.sandbox).
-- Must get: path-like names are refused as bad module names whatever the
-- moment; any require inside a handler is refused (modules load once, at the
-- top level); nothing committed.
bot.config{ name = "hostile 23", limits = { time = "200ms", memory = "8MB" } }

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

bot.keyword("attack", function(c)
  c.state.x = "changed"
  c:reply("before")
  return tostring(require("../x"))
end)

bot.keyword("attack2", function(c)
  return tostring(require("/etc/passwd"))
end)

bot.keyword("attack3", function(c)
  return tostring(require("lib..secret"))
end)

bot.keyword("attack4", function(c)
  return tostring(require("internal.sandbox"))
end)

bot.keyword("attack5", function(c)
  return tostring(require("..."))
end)

bot.keyword("ping", function() return "pong" end)
