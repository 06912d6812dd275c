-- Attack: large formats: string.format("%099d", 1) (the widest Lua allows),
-- "%0100d" (too wide), "%.99f" of 1e308 (a 409-character number), a format
-- repeating a wide conversion many times, and "%s" of a value whose
-- __tostring loops.
-- Must get: widths up to 99 work and stay small; wider is an error ("invalid
-- conversion"); the repeated format is bounded by the memory limit; the
-- looping __tostring is stopped by the instruction limit.
bot.config{ name = "hostile 37", limits = { time = "5s", memory = "8MB" } }

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

bot.keyword("wide", function(c)
  return string.format("%099d", 1)
end)

bot.keyword("float", function(c)
  local s = string.format("%.99f", 1e308)
  return #s .. " " .. s:sub(1, 5) .. " " .. #string.format("%99.99f", -1e308)
end)

bot.keyword("attack", function(c)
  c.state.x = "changed"
  c:reply("before")
  return string.format("%0100d", 1)
end)

bot.keyword("attack2", function(c)
  c.state.x = "changed"
  local fmt = ("%099d"):rep(100000)
  local ones = setmetatable({}, { __index = function() return 1 end })
  return #string.format(fmt, table.unpack(ones, 1, 100000)) -- 9.9 MB of digits
end)

bot.keyword("attack3", function(c)
  c.state.x = "changed"
  local loop = setmetatable({}, { __tostring = function() while true do end end })
  return string.format("%s", loop)
end)

bot.keyword("attack4", function(c)
  c.state.x = "changed"
  return string.format("%q", ("\0"):rep(3e6))
end)

bot.keyword("ping", function() return "pong" end)
