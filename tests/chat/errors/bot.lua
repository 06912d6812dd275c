-- What a handler's error record says for each kind of error value, and a
-- misspelt bot API name; tests/*.chat pin the messages.
bot.config{ name = "Errors" }

bot.on_join(function(c) return "hi" end)
bot.keyword("e42", function() error(42) end)
bot.keyword("efloat", function() error(1.5) end)
bot.keyword("efalse", function() error(false) end)
bot.keyword("enil", function() error(nil) end)
bot.keyword("enone", function() error() end)
bot.keyword("etable", function() error({ code = 7 }) end)
bot.keyword("etostring", function()
  error(setmetatable({ code = 7 }, { __tostring = function(e) return "custom failure " .. e.code end }))
end)
bot.keyword("ebadtostring", function()
  error(setmetatable({}, { __tostring = function() return {} end }))
end)
bot.keyword("ethread", function() error(coroutine.create(print)) end)
bot.keyword("elevel0", function() error("no position", 0) end)
bot.keyword("caught", function()
  -- inside the handler, pcall still sees the value itself
  local ok, e = pcall(error, 42)
  return type(e) .. " " .. tostring(e)
end)
bot.keyword("typo", function() bot.keywrd("x", function() end) end)
bot.keyword("typo2", function() return bot.nwo() end)
bot.keyword("typo3", function() return bot.zzzzzzzz end)
