-- Attack: leak data between conversations through what the top level left
-- behind: a table (and a nested one), a top-level local (an upvalue of the
-- handlers), and a "__"-named field (kept raw so the table still works as a
-- metatable).
-- Must get: every change is an error (the table ones at once, the local and
-- the "__" field when the handler ends, which also restores them); the
-- handler that changed them commits nothing; conversation B sees the values
-- the script loaded with.
bot.config{ name = "hostile 15", limits = { time = "200ms", memory = "8MB" } }

local roster = { names = {}, count = 0 }
local last_caller = nil
local meta = { __note = "orig" }

bot.keyword("join", function(c)
  c:reply("before")
  table.insert(roster.names, c.number)
  return "joined"
end)

bot.keyword("count", function(c)
  roster.count = roster.count + 1
  return "counted"
end)

bot.keyword("remember", function(c)
  c.state.x = "changed"
  last_caller = c.number
  return "remembered " .. last_caller -- would reply, but the change is caught
end)

bot.keyword("note", function(c)
  meta.__note = c.number
  return "noted " .. meta.__note
end)

bot.keyword("who", function(c)
  return #roster.names .. " " .. roster.count .. " " .. tostring(last_caller) .. " " .. meta.__note
end)

bot.keyword("ping", function() return "pong" end)
