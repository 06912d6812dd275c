-- Load-time attack: reach io at the top level.
-- Must get: an error naming io, at this file's line 4.
bot.config{ name = "load 06" }
local passwd = io.open("/etc/passwd"):read("a")
