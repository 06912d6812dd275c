-- Load-time attack: a limits table whose __index raises an error while the
-- host reads it (unprotected, on the main thread: lua_atpanic aborts).
-- Must get: `parley check` reports an error and exits 1, no abort.
bot.config{ limits = setmetatable({}, { __index = function(_, k) error("boom " .. k) end }) }
