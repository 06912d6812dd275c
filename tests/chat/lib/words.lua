-- Required by lib/greeting.lua, not by the bot itself.
return { hi = "Hello" }
