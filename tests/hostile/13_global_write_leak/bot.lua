-- Attack: leak data between conversations through a global: conversation A
-- writes a global (directly, through _G, through rawset on _G), conversation B
-- reads it.
-- Must get: every write is an error naming the global (globals are frozen
-- once the script has loaded); B's read is an "undefined global" error, so B
-- never sees A's data.
bot.config{ name = "hostile 13", limits = { time = "200ms", memory = "8MB" } }

bot.match("^leak (.+)$", function(c, msg, secret)
  c:reply("before")
  stash = secret
  return "stashed"
end)

bot.match("^leakg (.+)$", function(c, msg, secret)
  _G.stash = secret
  return "stashed"
end)

bot.match("^leakr (.+)$", function(c, msg, secret)
  rawset(_G, "stash", secret)
  return "stashed"
end)

bot.keyword("peek", function(c)
  return "stash=" .. tostring(stash)
end)

bot.keyword("peekg", function(c)
  return "stash=" .. tostring(rawget(_G, "stash"))
end)

bot.keyword("ping", function() return "pong" end)
