-- Attack: load bytecode: load(s, name, "b"), load(s, name, "bt"),
-- load(string.dump(f)), and a hand-made binary chunk passed as text.
-- Must get: binary chunks are refused in every mode ("attempt to load a
-- binary chunk"), string.dump does not exist (calling it is an error naming
-- 'dump'); text chunks load as in Lua (mode "b" refuses them, "t" and the
-- default "bt" accept them), with the bot's frozen globals.
bot.config{ name = "hostile 18", limits = { time = "200ms", memory = "8MB" } }

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

bot.keyword("attack", function(c)
  c.state.x = "changed"
  c:reply("before")
  local f, err = load("return 1", "x", "b")
  return tostring(f) .. " " .. err
end)

bot.keyword("attack2", function(c)
  return tostring(load("return 1", "x", "bt")())
end)

bot.keyword("attack3", function(c)
  local f = load(string.dump(function() return 1 end))
  return tostring(f)
end)

bot.keyword("attack4", function(c)
  local f, err = load("\27LuaT\0\25\147\13\10\26\10\4\8\8xV\0\0\0\0\0\0\0\0\0\0\0(w@")
  return "f=" .. tostring(f) .. " err=" .. tostring(err)
end)

bot.keyword("attack6", function(c)
  local chunk = "\27LuaT\0\25\147\13\10\26\10\4\8\8xV\0\0\0\0\0\0\0\0\0\0\0(w@"
  local f1, e1 = load(chunk, "x", "b")
  local f2, e2 = load(chunk, "x", "bt")
  local f3, e3 = load(chunk, "x", "t")
  return tostring(f1) .. " " .. e1 .. " | " .. tostring(f2) .. " " .. e2 .. " | " .. tostring(f3) .. " " .. e3
end)

bot.keyword("attack5", function(c)
  -- a reader function that hands over the binary signature piece by piece
  local parts, i = { "\27", "Lua", "T" }, 0
  local f, err = load(function() i = i + 1 return parts[i] end)
  return "f=" .. tostring(f) .. " err=" .. tostring(err)
end)

bot.keyword("text", function(c)
  local f = load("return type(string.dump) .. ' ' .. tostring(io == nil)")
  local ok, err = pcall(f)
  return "text chunk: " .. tostring(ok) .. " " .. tostring(err)
end)

bot.keyword("ping", function() return "pong" end)
