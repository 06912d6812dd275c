-- Attack: http.post with a string body of 20 MB, http.get with a URL of
-- 10 MB. A table body is encoded to at most 1 MiB, but a string body and the
-- URL were copied into the host as they were, and held there while the
-- handler waits (by up to 50 waiting handlers of a bot): host memory outside
-- every handler's limit.
-- Must get: a body of more than 1 MiB (like a table's) and a URL of more
-- than 8 KiB are refused before anything is copied, with an error naming
-- the limit; nothing is requested.
bot.config{ name = "hostile 58", limits = { memory = "256MB" },
  http = { allow = { "api.example.com" } } }

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

bot.keyword("body", function(c)
  c.state.x = "changed"
  local res = http.post("https://api.example.com/in", ("x"):rep(1000000):rep(20))
  return "posted"
end)

bot.keyword("url", function(c)
  c.state.x = "changed"
  local res = http.get("https://api.example.com/?q=" .. ("x"):rep(1000):rep(10000))
  return "got"
end)

bot.keyword("fits", function(c)
  local res = http.post("https://api.example.com/in", ("x"):rep(1048576))
  return "posted " .. res.status
end)

bot.keyword("ping", function() return "pong" end)
