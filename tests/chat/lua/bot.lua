-- Lua inside a handler is Lua: the cases of cases.lua (their answers are
-- plain Lua 5.4.4's), and where a limit meets Lua's own errors.
local cases = require("cases")

-- the default instruction and memory limits, the most time (the cases are
-- about what a script computes, not how fast; under a sanitizer they are slow)
bot.config{ limits = { time = "10s" } }

for _, name in ipairs({ "ranges", "names", "main_thread", "xpcall", "load" }) do
  bot.keyword(name, function() return cases[name]() end)
end

-- string.rep builds its result, then copies it: a result of more than half
-- the memory left is refused with an error a script can catch, not a kill
bot.keyword("rep", function()
  local ok, err = pcall(string.rep, "x", 12 * 1024 * 1024)
  local s = string.rep("ab", 3 * 1024 * 1024)
  return tostring(ok) .. " | " .. err .. " | " .. #s
end)

-- a runaway recursion gets Lua's catchable "stack overflow", not the
-- memory limit; the handler goes on afterwards
bot.keyword("recurse", function()
  local function f(n) return 1 + f(n + 1) end
  local ok, err = pcall(f, 1)
  local t = {}
  for i = 1, 10000 do t[i] = { i } end
  return tostring(ok) .. " | " .. err .. " | " .. #t
end)

bot.keyword("recurse twice", function()
  local depth = 0
  local function g() depth = depth + 1 return (g()) end
  local ok1, err1 = pcall(g)
  local deep1 = depth
  depth = 0
  local ok2 = pcall(g)
  return tostring(ok1) .. " | " .. err1 .. " | " .. tostring(ok2) .. " | " .. tostring(deep1 > 1000 and depth > 1000)
end)
