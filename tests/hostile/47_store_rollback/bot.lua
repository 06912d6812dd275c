-- Attack: change bot.store (shared by all conversations) in a handler that
-- then fails, or that is killed by a limit, hoping the half-done change
-- sticks; and change c.fields / c.tags the same way.
-- Must get: nothing a failing handler changed is committed: the store,
-- fields and tags are as before; a later handler sees the committed values.
bot.config{ name = "hostile 47", limits = { time = "200ms", memory = "8MB" } }

bot.keyword("set", function(c)
  bot.store.balance = 100
  c.fields.level = "gold"
  c.tags.vip = true
  return "set"
end)

bot.keyword("attack", function(c)
  bot.store.balance = 1e9
  c.fields.level = "admin"
  c.tags.root = true
  c:reply("before")
  error("fail after writing")
end)

bot.keyword("attack2", function(c)
  bot.store.balance = 1e9
  c.fields.level = "admin"
  while true do end
end)

bot.keyword("attack3", function(c)
  -- writes inside pcall, the error swallowed, then a kill
  pcall(function() bot.store.balance = 1e9 error("x") end)
  local t = {}
  for i = 1, 1e9 do t[i] = i end
end)

bot.keyword("read", function(c)
  return "balance=" .. tostring(bot.store.balance) .. " level=" .. tostring(c.fields.level) ..
    " root=" .. tostring(c.tags.root)
end)

bot.keyword("ping", function() return "pong" end)
