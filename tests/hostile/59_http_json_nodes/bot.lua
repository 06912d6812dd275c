-- Attack: a JSON response made of many tiny values, "[[],[],[],...]".
-- Decoding it into res.json built the whole tree in the host (jansson, about
-- 64 bytes a value) before the first Lua table was made, outside the memory
-- limit: 16 MB of it (the largest http.max_bytes) took 800 MB of host
-- memory under a 32 MB limit (tests/hostile/guard/06_json_nodes, measured
-- by tests/e2e/host_charges.sh). Here, 20 KB under a 256 KB limit.
-- Must get: the decoder charges the bytes it reads and refuses, before
-- parsing, a text with more values than the memory left to the handler
-- could hold: res.json is nil, res.body is there, the handler goes on.
bot.config{ name = "hostile 59", limits = { memory = "256KB" },
  http = { allow = { "api.example.com" } } }

bot.keyword("get", function(c)
  local res = http.get("https://api.example.com/nodes")
  return "status " .. res.status .. ", " .. #res.body .. " bytes, json " .. type(res.json)
end)

bot.keyword("small", function(c)
  local res = http.get("https://api.example.com/small")
  return "json " .. type(res.json) .. " " .. #res.json
end)

bot.keyword("ping", function() return "pong" end)
