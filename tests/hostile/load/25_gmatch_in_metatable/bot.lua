-- Load-time attack: a stateful C function hidden where only the freeze's
-- walk finds it: in the __index table of a metatable of a module-like table.
-- Must get: the load fails, naming the iterator and the path to it.
bot.config{ name = "load 25" }
local words = setmetatable({}, { __index = { next = ("a b c"):gmatch("%a") } })
bot.keyword("go", function() return words.next() end)
