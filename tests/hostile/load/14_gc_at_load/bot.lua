-- Load-time attack: a finalizer planted at load time (it would run during
-- some later conversation's handler, with hooks off).
-- Must get: "__gc metamethods are not allowed", at this file's line 5.
bot.config{ name = "load 14" }
local keep = setmetatable({}, { __gc = function() while true do end end })
bot.keyword("go", function(c) return tostring(keep) end)
