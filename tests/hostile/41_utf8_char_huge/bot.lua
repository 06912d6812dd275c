-- Attack: utf8.char with huge counts: 900000 arguments of the largest code
-- point (6 bytes each), an out-of-range code point, and a huge repetition of
-- one character.
-- Must get: the big ones run into the memory limit (or are refused by
-- string.rep); the out-of-range one is an error ("value out of range");
-- nothing committed.
bot.config{ name = "hostile 41", limits = { time = "200ms", memory = "8MB" } }

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

local maxcp = setmetatable({}, { __index = function() return 0x7FFFFFFF end })

bot.keyword("attack", function(c)
  c.state.x = "changed"
  c:reply("before")
  return #utf8.char(table.unpack(maxcp, 1, 900000))
end)

bot.keyword("attack2", function(c)
  return utf8.char(0x80000000)
end)

bot.keyword("attack3", function(c)
  return #utf8.char(0x7FFFFFFF):rep(1e8)
end)

bot.keyword("attack4", function(c)
  -- utf8.codepoint over a long string pushes one value per character
  local s = utf8.char(0x10FFFF):rep(1e6)
  return select("#", utf8.codepoint(s, 1, -1))
end)

bot.keyword("ping", function() return "pong" end)
