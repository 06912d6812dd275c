-- Load-time attack: load the runtime's own prelude as a module.
-- Must get: "module 'internal.sandbox' not found".
bot.config{ name = "load 12" }
local prelude = require("internal.sandbox")
