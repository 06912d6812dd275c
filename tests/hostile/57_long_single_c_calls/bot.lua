-- Attack: one C call doing work in proportion to a long string: load of
-- 25 MB of source (the hook never runs in the parser; stock Lua takes about
-- 10 ns a byte for ";", 30 for "x=1 ", and with a limit of 256 MB a string
-- of 100 MB is a second or more), string.upper, lower and reverse of 100 MB
-- (1 to 6 ns a byte), string.format("%q"), tonumber, utf8.len and
-- string.pack of long strings. The watchdog stops the handler at the next instruction
-- after such a call, so a single call overshot the limit by its whole length.
-- Must get: the work is charged as it goes, a piece at a time, so the limit
-- stops the call itself, at the line of the call.
-- The limit here is the instruction budget (a million), so the outcome does
-- not depend on the machine's speed: the calls were charged nothing, and
-- ran to the end. tests/e2e/host_charges.sh measures the time limit.
bot.config{ name = "hostile 57", limits = { time = "10s", memory = "256MB", instructions = 1e6 } }

local source = (";"):rep(25000000)

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
  local text = source .. source .. source .. source -- 100 MB
  local u = text:upper()
  return "upper"
end)

bot.keyword("lower", function(c)
  c.state.x = "changed"
  local text = source .. source .. source .. source -- 100 MB
  local u = text:lower()
  return "lower"
end)

bot.keyword("reverse", function(c)
  c.state.x = "changed"
  local text = source .. source .. source .. source -- 100 MB
  local u = text:reverse()
  return "reverse"
end)

bot.keyword("format_q", function(c)
  c.state.x = "changed"
  local u = string.format("%q", source)
  return "format"
end)

bot.keyword("tonumber", function(c)
  c.state.x = "changed"
  local u = tonumber(source)
  return "tonumber"
end)

bot.keyword("utf8_len", function(c)
  c.state.x = "changed"
  local u = utf8.len(source .. source .. source .. source)
  return "utf8.len"
end)

bot.keyword("pack", function(c)
  c.state.x = "changed"
  local u = string.pack("s", source)
  return "pack"
end)

bot.keyword("small", function(c)
  return ("abc"):upper() .. ("ABC"):lower() .. ("abc"):reverse() .. load("return '!'")()
    .. string.format("%q", "a\0b") .. tonumber("12") .. utf8.len("héllo", 2, -2)
    .. #string.pack("s", "xyz")
end)

bot.keyword("ping", function() return "pong" end)
