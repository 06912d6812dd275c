-- Load-time attack: a drip step's args holding a function with its own
-- state (a closure over a counter table): every enrolled contact's handler
-- would call it and see the others' calls.
-- Must get: args are data (as bot.after's): the load fails naming args.next.
bot.config{ name = "load 24" }
local count = { n = 0 }
bot.handler("step", function(c, args) return "n=" .. args.next() end)
bot.drip("d", {
  { after = "1h", call = "step", args = { next = function()
    count.n = count.n + 1
    return count.n
  end } },
})
