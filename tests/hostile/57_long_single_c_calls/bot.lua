-- Attack: one C call doing work in proportion to a long string: load of
-- 25 MB of source (the hook never runs in the parser; stock Lua takes about
-- 10 ns a byte for ";", 30 for "x=1 ", and with a limit of 256 MB a string
-- of 100 MB is a second or more), string.upper, lower and reverse (about
-- 6 ns a byte). The watchdog stops the handler at the next instruction
-- after such a call, so a single call overshot the limit by its whole length.
-- Must get: the work is charged as it goes, a piece at a time, so the limit
-- stops the call itself: the error is at the line of the call, not at the
-- next one, and the overshoot is milliseconds.
bot.config{ name = "hostile 57", limits = { time = "30ms", memory = "64MB", instructions = 1e9 } }

local source = (";"):rep(25000000)
local text = source -- upper, lower and reverse do the same work on ";"

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

bot.keyword("load", function(c)
  c.state.x = "changed"
  local f, err = load(source)
  return "loaded"
end)

bot.keyword("load_reader", function(c)
  c.state.x = "changed"
  local n = 0
  local function reader()
    n = n + 1
    if n == 1 then return source end
  end
  local f = load(reader)
  return "loaded"
end)

bot.keyword("upper", function(c)
  c.state.x = "changed"
  local u = text:upper()
  return "upper"
end)

bot.keyword("lower", function(c)
  c.state.x = "changed"
  local u = text:lower()
  return "lower"
end)

bot.keyword("reverse", function(c)
  c.state.x = "changed"
  local u = text:reverse()
  return "reverse"
end)

bot.keyword("small", function(c)
  return ("abc"):upper() .. ("ABC"):lower() .. ("abc"):reverse() .. load("return '!'")()
end)

bot.keyword("ping", function() return "pong" end)
