-- wrk script: POST one message to fake_twilio's Messages.json with basic auth.
--   wrk -t2 -c64 -d10s -s tests/fake/wrk_messages.lua http://127.0.0.1:PORT
-- Credentials: FAKE_TWILIO_SID and FAKE_TWILIO_TOKEN (defaults below).
local sid = os.getenv("FAKE_TWILIO_SID") or "AC0123456789abcdef0123456789abcdef"
local token = os.getenv("FAKE_TWILIO_TOKEN") or "secret"

local function base64(s)
  local abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
  return ((s:gsub(".", function(c)
    local bits, b = "", c:byte()
    for i = 8, 1, -1 do bits = bits .. (b % 2 ^ i - b % 2 ^ (i - 1) > 0 and "1" or "0") end
    return bits
  end) .. "0000"):gsub("%d%d%d?%d?%d?%d?", function(x)
    if #x < 6 then return "" end
    local n = 0
    for i = 1, 6 do n = n + (x:sub(i, i) == "1" and 2 ^ (6 - i) or 0) end
    return abc:sub(n + 1, n + 1)
  end) .. ({ "", "==", "=" })[#s % 3 + 1])
end

wrk.method = "POST"
wrk.path = "/2010-04-01/Accounts/" .. sid .. "/Messages.json"
wrk.headers["Authorization"] = "Basic " .. base64(sid .. ":" .. token)
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "To=%2B15550001234&From=%2B15559990000"
  .. "&Body=Hey%2C+it%27s+Ava%21+Welcome+to+the+fan+club.+What+city+are+you+in%3F"
