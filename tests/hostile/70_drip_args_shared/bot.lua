-- Attack: a drip step's `args` table is the script's own table, handed to
-- every enrolled contact's handler. Contact A writes its number into it when
-- its step runs; contact B's step, later, reads it.
-- Must get: each step's handler gets its own copy of args (as bot.after's
-- args, decoded per call): A's write stays in A's call, B sees the args as
-- the script wrote them.
bot.config{ name = "hostile 70", limits = { time = "200ms", memory = "8MB" } }

bot.drip("leaky", {
  { after = "1h", call = "step", args = { greeting = "hi", seen = {} } },
})

bot.handler("step", function(c, args)
  local before = args.who
  args.who = c.number
  args.seen[#args.seen + 1] = c.number
  return args.greeting .. " who=" .. tostring(before) .. " seen=" .. #args.seen
end)

bot.keyword("join", function(c)
  c:start_drip("leaky")
  return "joined"
end)
