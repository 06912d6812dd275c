-- math.random in handlers: seeded per invocation; @seed in a transcript
-- makes the numbers repeatable (tests/*.chat pin them).
bot.config{ name = "Random" }

bot.on_join(function(c) return "hi" end)

bot.keyword("roll", function(c)
  return "rolled " .. math.random(1, 1000000)
end)

bot.keyword("rolls", function(c)
  return math.random(6) .. " " .. math.random(6) .. " " .. math.random(6) .. " " ..
    string.format("%.6f", math.random())
end)

bot.keyword("code", function(c)
  c.state.code = string.format("%06d", math.random(0, 999999))
  return "Your code is " .. c.state.code .. ". Reply with it to confirm."
end)

bot.keyword("later", function(c)
  bot.after("1m", "roll_later")
end)

bot.handler("roll_later", function(c)
  c:send("later " .. math.random(1, 1000000))
end)

bot.keyword("reseed", function(c)
  math.randomseed(1)
end)

bot.keyword("bad", function(c)
  return math.random(5, 1)
end)

bot.match("^say (.*)$", function(c, msg, what)
  return "you said " .. what
end)

bot.keyword("two", function(c)
  return string.format("A%03d-B%03d", math.random(0, 999), math.random(0, 999))
end)

bot.keyword("big", function(c)
  local bigs = c.state.bigs or {}
  bigs[#bigs + 1] = string.format("%x", math.random(0, math.maxinteger))
  c.state.bigs = bigs
end)
