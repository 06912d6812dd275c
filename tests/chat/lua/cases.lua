-- Lua behaviour a bot script must see exactly as in plain Lua 5.4.4. Each
-- case returns one line; the transcripts expect what lua5.4 prints for
-- the same function (the cases need nothing of the bot API).
local cases = {}

-- positions as "cases.lua:12:", whatever folder the file was loaded from
local function short(v)
  return (string.gsub(tostring(v), "[^%s:]*cases%.lua:", "cases.lua:"))
end

local function show(...)
  local t = table.pack(...)
  for i = 1, t.n do t[i] = short(t[i]) end
  return table.concat(t, " | ", 1, t.n)
end

-- argument checks come before any work, with Lua's messages
function cases.ranges()
  return table.concat({
    show(pcall(table.unpack, {}, 1, math.maxinteger)),
    show(pcall(table.unpack, {}, math.mininteger, math.maxinteger)),
    show(pcall(table.insert, {}, math.mininteger, 1)),
    show(pcall(table.insert, {}, math.maxinteger, 1)),
    show(pcall(table.remove, {}, math.mininteger)),
    show(pcall(table.move, {}, 1, math.maxinteger, 2)),
    show(pcall(table.move, {}, math.mininteger, math.maxinteger, 1)),
    show(pcall(table.concat, {}, "", 1, math.maxinteger)),
    show(pcall(table.concat, {}, "", math.maxinteger - 1, math.maxinteger)),
  }, "\n")
end

-- the names in error messages: the called name in a call, the library's
-- name through pcall
function cases.names()
  local function err(f, ...) return short(select(2, pcall(f, ...))) end
  return table.concat({
    err(table.concat, 3),
    err(function() table.concat(3) end),
    err(function() local t = table; t.concat({ {} }) end),
    err(table.sort, 3),
    err(function() table.sort({ 3, 1, 2 }, 3) end),
    err(table.insert, {}, 1, 2, 3),
    err(function() table.insert({}, 1, 2, 3) end),
    err(string.rep),
    err(function() ("x"):rep() end),
    err(string.find),
    err(function() string.gsub("x", "%", "") end),
    err(coroutine.wrap, 1),
    err(function() coroutine.wrap(1) end),
    err(xpcall, print),
    err(function() return xpcall(print) end),
    err(function() coroutine.wrap(function() error("inside") end)() end),
    err(load, {}),
    err(setmetatable, 1),
    err(function() setmetatable({}, 1) end),
    err(rawset, {}, nil, 1),
  }, "\n")
end

-- the handler's coroutine is Lua's main thread
function cases.main_thread()
  local co, ismain = coroutine.running()
  return show(type(co), ismain, coroutine.isyieldable(), coroutine.isyieldable(co),
    pcall(coroutine.yield, 1))
    .. "\n" .. show(coroutine.resume(co))
    .. "\n" .. show(coroutine.wrap(function() return coroutine.isyieldable() end)())
end

-- xpcall: one value from the handler; an error in the handler is handled
function cases.xpcall()
  return table.concat({
    show(xpcall(error, function(m) return 1, 2, 3 end, "e")),
    show(xpcall(error, function(m) return m .. "!" end, "e")),
    show(xpcall(error, function() end, "e")),
    show(xpcall(error, function(m) error("again") end, "e")),
    show(xpcall(error, function(m) if m == "e" then error("again", 0) end return "2nd " .. m end, "e")),
    show(xpcall(function(...) return ... end, print, 1, 2, 3)),
    show(xpcall(function() return coroutine.yield() end, function(m) return m end)),
  }, "\n")
end

-- load: modes and environments
function cases.load()
  local function run(f, e) if not f then return "nil | " .. e end return show(pcall(f)) end
  return table.concat({
    run(load("return 1", "=x", "bt")),
    run(load("return 1", "=x", "t")),
    run(load("return 1", "=x", "b")),
    run(load("return x", "=x", "t", nil)),
    run(load("return x", "=x", "t", { x = 42 })),
    run(load("return type(string)")),
    run(load("x = ")),
  }, "\n")
end

return cases
