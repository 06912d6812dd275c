-- Load-time attack: a syntax error.
-- Must get: "path/bot.lua:5: ..." (the file and the line of the error).
bot.config{ name = "load 02" }

local x = = 1
