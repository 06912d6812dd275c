-- Attack: stored data with far more entries than the limit, or one key far
-- longer than the byte limit. The encoder collected and sorted every key of
-- a table before counting entries (two million keys: hundreds of MB of host
-- memory and a second of sorting after the handler's code ran), and wrote a
-- key out, six bytes per control character, before looking at the byte
-- limit (a 24 MB key: 144 MB of host memory).
-- Must get: the entry and byte limits are checked as the encoder goes, so
-- the refusal costs about the limit, not the table; host memory stays near
-- the handler's own memory limit.
bot.config{ name = "hostile 55", limits = { time = "5s", memory = "96MB", instructions = 1e9 } }

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

bot.keyword("attack", function(c)
  c.state.x = "changed"
  local t = c.state
  for i = 1, 1500000 do t[i * 2] = true end
  return "many keys"
end)

bot.keyword("attack2", function(c)
  local t = {}
  for i = 1, 600000 do t["k" .. i] = i end
  bot.store.many = t
  return "many keys in the store"
end)

bot.keyword("attack3", function(c)
  c.state[("\1"):rep(24000000)] = 1
  return "one long key"
end)

bot.keyword("attack4", function(c)
  -- a long sequence: counted before it is walked
  local t = {}
  for i = 1, 1500000 do t[i] = i end
  c.state.seq = t
  return "long sequence"
end)

bot.keyword("ping", function() return "pong" end)
