-- Attack: abuse the room a runaway recursion gets to raise "stack
-- overflow": recurse past 1,000 calls, then allocate without end, catching
-- each "stack overflow" down there and going on.
-- Must get: the memory limit (the room past it is bounded, 24 MB per
-- invocation), or the instruction limit; nothing committed; the next
-- message is handled normally.
bot.config{ name = "hostile 53", limits = { time = "500ms", memory = "8MB" } }

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

bot.keyword("attack", function(c)
  c.state.x = "changed"
  c:reply("before")
  local keep = {}
  local function hog()
    while true do keep[#keep + 1] = { 1, 2, 3, 4, 5, 6, 7, 8 } end
  end
  local function f(n)
    if n < 1200 then return 1 + f(n + 1) end
    while true do pcall(hog) end
  end
  return tostring(f(1))
end)

bot.keyword("attack2", function(c)
  -- the same, with the recursion itself caught again and again
  c.state.x = "changed"
  local keep = {}
  local function f(n)
    keep[#keep + 1] = { n }
    return 1 + f(n + 1)
  end
  while true do pcall(f, 1) end
end)

bot.keyword("ping", function() return "pong" end)
