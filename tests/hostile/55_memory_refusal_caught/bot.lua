-- Attack: catch the memory limit with pcall. At its limit an allocation is
-- refused once and, where Lua can, retried after a full collection; some
-- allocations are not retried (the buffers of table.concat, string.format,
-- string.rep's result), and the refusal reaches the script as a catchable
-- "not enough memory". The script catches it and carries on.
-- Must get: "memory limit exceeded" (a refusal that was not retried stops
-- the handler at its next instruction, or when it returns); nothing
-- committed; the next message is answered.
bot.config{ name = "hostile 55", limits = { memory = "4MB", time = "2s" } }

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

local chunk = string.rep("x", 1 << 20)

bot.keyword("attack", function(c)
  c.state.x = "changed"
  local t = { chunk, chunk, chunk, chunk, chunk }
  local ok, err = pcall(table.concat, t)
  return "caught: " .. tostring(ok) .. " " .. tostring(err)
end)

bot.keyword("attack2", function(c)
  -- caught, and returning at once (no instruction after the pcall but the return)
  c.state.x = "changed"
  return pcall(string.format, "%s%s%s%s%s", chunk, chunk, chunk, chunk, chunk) and "ok" or "caught"
end)

bot.keyword("attack3", function(c)
  -- caught in a loop
  c.state.x = "changed"
  local n = 0
  for _ = 1, 1000 do
    if not pcall(table.concat, { chunk, chunk, chunk, chunk, chunk }) then n = n + 1 end
  end
  return "caught " .. n
end)

-- much garbage, little live data: runs (its own garbage is collected when
-- it reaches its limit)
bot.keyword("churn", function(c)
  local n = 0
  for i = 1, 200 do n = n + #(chunk .. i) end
  return "churned " .. n // (1 << 20) .. " MiB"
end)

bot.keyword("ping", function() return "pong" end)
