-- Attack: change a load-time (frozen) list through the table library instead
-- of assignment: table.insert, table.remove, table.sort, table.move into it,
-- and next() / rawget probing of its backing store.
-- Must get: every write is an error ("attempt to change ... of a table shared
-- by all conversations"); conversation B sees the original list; reads work.
bot.config{ name = "hostile 49", limits = { time = "200ms", memory = "8MB" } }

local list = { "c", "a", "b" }

bot.keyword("insert", function(c) table.insert(list, c.number) end)
bot.keyword("remove", function(c) table.remove(list) end)
bot.keyword("sort", function(c) table.sort(list) end)
bot.keyword("move", function(c) table.move({ "x", "y" }, 1, 2, 1, list) end)

bot.keyword("probe", function(c)
  -- the frozen table's own slots are empty; its contents are only readable
  return "next=" .. tostring(next(list)) .. " rawget=" .. tostring(rawget(list, 1)) ..
    " #=" .. #list .. " [1]=" .. list[1]
end)

bot.keyword("show", function(c)
  local out = {}
  for i, v in ipairs(list) do out[i] = v end
  for k, v in pairs(list) do out[#out + 1] = k .. "=" .. v end
  return table.concat(out, " ")
end)

bot.keyword("ping", function() return "pong" end)
