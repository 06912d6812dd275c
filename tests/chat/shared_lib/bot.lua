-- A bot using modules from the lib/ folder beside the bot folders.
local greeting = require("lib.greeting")

bot.keyword("hi", function(c, msg)
  return greeting.hello("Sam")
end)

bot.keyword("poke", function(c, msg)
  greeting.hello = function() return "replaced" end
end)

bot.keyword("boom", function(c, msg)
  return greeting.fail()
end)

bot.keyword("env", function(c, msg)
  return greeting.env
end)
