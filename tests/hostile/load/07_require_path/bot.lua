-- Load-time attack: require a path outside the bot.
-- Must get: "bad module name '../../etc'" at this file's line 4.
bot.config{ name = "load 07" }
local etc = require("../../etc")
