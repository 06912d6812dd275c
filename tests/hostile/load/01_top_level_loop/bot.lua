-- Load-time attack: an infinite loop at the top level.
-- Must get: `parley check` fails within a few seconds with "limit exceeded".
bot.config{ name = "load 01" }
while true do end
