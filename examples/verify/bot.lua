-- A verification line: the brand's backend posts "verify.requested" when a
-- customer asks for a code (POST /v1/bots/verify/events); the bot texts a
-- one-time code (the backend's, or one it makes) that expires after 10 minutes and allows 3 attempts, and
-- checks the customer's reply.
bot.config{ name = "Acme Verify", help = "Acme verification codes. Reply STOP to opt out." }

local TTL = 10 * 60
local ATTEMPTS = 3

bot.on_event("verify.requested", function(c, ev)
  -- the backend may make the code and send it in the event; without one,
  -- the bot makes it (tests/generated.chat captures it and sends it back)
  local code = ev.code
  if code == nil then
    code = string.format("%06d", math.random(0, 999999))
  elseif type(code) ~= "string" or not code:match("^%d%d%d%d%d%d$") then
    error("verify.requested needs a six-digit code, got " .. tostring(ev.code))
  end
  c.state.code = code
  c.state.expires = bot.now() + TTL
  c.state.attempts = 0
  c:send("Your Acme code is " .. code .. ". It expires in 10 minutes.", { transactional = true })
end)

bot.match("^(%d%d%d%d%d%d)$", function(c, msg, code)
  local s = c.state
  if not s.code then return "There is no code waiting for you." end
  if bot.now() > s.expires then
    s.code = nil
    return "That code has expired. Ask for a new one."
  end
  s.attempts = s.attempts + 1
  if code == s.code then
    s.code = nil
    c.fields.verified_at = bot.now()
    return "Verified, thank you!"
  end
  if s.attempts >= ATTEMPTS then
    s.code = nil
    return "Too many wrong codes. Ask for a new one."
  end
  return "That code is not right. " .. (ATTEMPTS - s.attempts) .. " tries left."
end)

bot.fallback(function(c, msg)
  return "Reply with the six-digit code we sent you."
end)
