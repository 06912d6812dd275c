-- http.get/post from handlers; the transcripts answer with @http lines.
bot.config{ name = "Stock", quiet_hours = false,
  http = { allow = { "api.example.com", "*.hooks.example.com" }, timeout = "2s", max_bytes = "1KB" } }
-- a later call sets only what it names: the allow list stays
bot.config{ http = { timeout = "3s" } }

bot.keyword("stock", function(c, msg)
  local res, err = http.get("https://api.example.com/stock?sku=1")
  if not res then return "Sorry, the stock service is down (" .. err .. ")" end
  if res.status ~= 200 then return "Stock service said " .. res.status end
  c.fields.left = res.json.left
  bot.store.checks = (bot.store.checks or 0) + 1
  return "Left: " .. res.json.left
end)

bot.keyword("order", function(c, msg)
  local res = http.post("https://orders.hooks.example.com/new", { sku = 1, from = c.number },
    { headers = { ["X-Key"] = "k1" } })
  c:send("posted: " .. res.status)
  local again = http.get("https://api.example.com/stock?sku=1")
  return "then " .. again.body
end)

bot.keyword("text body", function(c, msg)
  local res = http.post("https://api.example.com/echo", "plain words", { headers = { ["Content-Type"] = "text/plain" } })
  return res.body .. " / " .. tostring(res.json) .. " / " .. res.headers["content-type"]
end)

bot.keyword("verify", function(c, msg)
  c:expect("code")
  local res = http.post("https://api.example.com/codes", { to = c.number })
  return "Code sent (" .. res.json.id .. ")"
end)
bot.handler("code", function(c, msg) return "checking " .. msg.text end)

-- mistakes: raised at the script's line
bot.keyword("evil", function(c, msg) return http.get("https://evil.example.net/").body end)
bot.keyword("apex", function(c, msg) return http.get("https://hooks.example.com/").body end)
bot.keyword("ftp", function(c, msg) return http.get("ftp://api.example.com/file").body end)
bot.keyword("no url", function(c, msg) return http.get("not a url").body end)
bot.keyword("bad header", function(c, msg)
  return http.get("https://api.example.com/", { headers = { ["X-A"] = "a\r\nX-Injected: 1" } }).body
end)
bot.keyword("bad option", function(c, msg) return http.get("https://api.example.com/", { retries = 3 }).body end)
bot.keyword("bad timeout", function(c, msg) return http.get("https://api.example.com/", { timeout = 600 }).body end)
bot.keyword("in coroutine", function(c, msg)
  local co = coroutine.wrap(function() return http.get("https://api.example.com/x") end)
  return co().body
end)
bot.keyword("in sort", function(c, msg)
  local t = { 3, 1, 2 }
  table.sort(t, function(a, b) http.get("https://api.example.com/x") return a < b end)
  return "sorted"
end)
bot.keyword("pcall", function(c, msg)
  local ok, res = pcall(http.get, "https://api.example.com/stock?sku=1")
  return ok and ("pcall " .. res.status) or ("pcall failed: " .. res)
end)

-- a bot's own recurring timer that polls a service
bot.handler("poll", function(c)
  local res = http.get("https://api.example.com/poll")
  bot.store.polls = (bot.store.polls or 0) + res.json.n
  send("+15550199", "polled " .. bot.store.polls)
end)
bot.every("every 15m", "poll")

-- data shared by all conversations cannot be changed, also before a wait
local shared_count = 0
bot.keyword("shared", function(c, msg)
  shared_count = shared_count + 1
  http.get("https://api.example.com/x")
  return "shared " .. shared_count
end)
bot.keyword("host header", function(c, msg)
  return http.get("https://api.example.com/", { headers = { Host = "internal.example.com" } }).body
end)

-- constants made at load (frozen) work as headers and bodies
local AUTH = { Authorization = "Bearer t0k" }
local ORDER = { sku = "A1", lines = { 1, 2 } }
bot.keyword("constants", function(c, msg)
  return http.post("https://api.example.com/echo", ORDER, { headers = AUTH }).body
end)
