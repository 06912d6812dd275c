-- Load-time attack: string.gsub with a replacement of a million "%0" on a
-- pattern that matches the empty string, at the top level (which `parley
-- check` and `parley test` run too). Each empty match ran a C loop over the
-- whole replacement, charged nothing: minutes under a 5 s load limit.
-- Must get: "limit exceeded" at the top level, promptly.
bot.config{ name = "load 16" }
local s = ("x"):rep(100000):gsub("", ("%0"):rep(1000000))
