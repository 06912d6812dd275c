-- Attack: reach io, os, debug, package (and dofile, loadfile, require's
-- package.loaded) from a handler.
-- Must get: each is an "undefined global" error naming it; nothing committed.
bot.config{ name = "hostile 17", limits = { time = "200ms", memory = "8MB" } }

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

bot.keyword("io", function(c)
  c.state.x = "changed"
  c:reply("before")
  return io.open("/etc/passwd"):read("a")
end)

bot.keyword("os", function(c)
  c.state.x = "changed"
  return os.getenv("HOME")
end)

bot.keyword("debug", function(c)
  c.state.x = "changed"
  return tostring(debug.getregistry())
end)

bot.keyword("package", function(c)
  c.state.x = "changed"
  return tostring(package.loaded)
end)

bot.keyword("dofile", function(c)
  return tostring(dofile("/etc/passwd"))
end)

bot.keyword("loadfile", function(c)
  return tostring(loadfile("/etc/passwd"))
end)

bot.keyword("ping", function() return "pong" end)
