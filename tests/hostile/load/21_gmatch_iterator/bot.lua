-- Load-time attack: a string.gmatch iterator keeps its position in C, out of
-- reach of the freeze. Made at the top level, each conversation that calls
-- it moves it on for the next (A gets "alpha", B "beta").
-- Must get: the load fails, naming the iterator and where it was found.
bot.config{ name = "load 21" }
local next_word = ("alpha beta gamma"):gmatch("%a+")
bot.keyword("go", function(c)
  return next_word()
end)
