-- Load-time attack: a limits table whose __index loops. The host reads
-- limits.instructions/memory/time after the script ran, with lua_getfield on
-- the main thread: outside any protected call and outside the sandbox's
-- limits.
-- Must get: `parley check` fails promptly with an error (the limits table
-- must be plain data, or be read raw / under the limits), instead of
-- hanging forever.
bot.config{ limits = setmetatable({}, { __index = function() while true do end end }) }
