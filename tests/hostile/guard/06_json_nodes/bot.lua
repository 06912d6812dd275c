-- Attack: a JSON response of 16 MB (the largest http.max_bytes) made of
-- millions of tiny values, "[[],[],[],...]". Decoding it into res.json
-- built the whole tree in the host (jansson, about 64 bytes a value: some
-- 350 MB) before the first Lua table was made, outside the memory limit.
-- Must get: the decoder charges the bytes it reads and refuses, before
-- parsing, a text with more values than the memory left to the handler
-- could hold (res.json is nil, res.body is there); host memory stays near
-- the Lua limit. Run by tests/e2e/host_charges.sh, which writes the 16 MB
-- transcript (no such file is kept in the repository); tests/hostile/59 is
-- the same attack at a small scale.
bot.config{ name = "guard 06", limits = { memory = "32MB", time = "5s" },
  http = { allow = { "api.example.com" }, max_bytes = "16MB" } }

bot.keyword("get", function(c)
  local res = http.get("https://api.example.com/nodes")
  return "status " .. res.status .. ", " .. #res.body .. " bytes, json " .. type(res.json)
end)

bot.keyword("small", function(c)
  local res = http.get("https://api.example.com/small")
  return "json " .. type(res.json) .. " " .. #res.json
end)

bot.keyword("ping", function() return "pong" end)
