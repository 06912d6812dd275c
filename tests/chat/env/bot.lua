-- bot.env: settings and secrets from outside the code (@env in these
-- transcripts; the config file and PARLEY_BOT_ENV_<NAME> under parley serve).
bot.config{ name = "Clinic desk", quiet_hours = false, numbers = { "+15550700" } }

-- read at the top level, with a default
local STAFF = bot.env.STAFF_NUMBER or "+15550999"

bot.keyword("STAFF", function(c, msg)
  send(STAFF, "Call back " .. c.number)
  return "Our staff will call you."
end)

bot.keyword("KEY", function(c, msg)
  -- read in a handler; any spelling of the name
  if bot.env.API_KEY then return "key of " .. #bot.env.api_key .. " characters" end
  return "no key"
end)

bot.keyword("MISSING", function(c, msg)
  return "missing: " .. tostring(bot.env.NOT_SET) .. ", " .. tostring(bot.env[1])
end)

bot.keyword("WRITE", function(c, msg)
  bot.env.API_KEY = "mine"
end)

bot.keyword("RAWSET", function(c, msg)
  rawset(bot.env, "API_KEY", "mine")
end)

bot.keyword("SEND", function(c, msg)
  -- a host error that would quote the value: it is masked
  send(bot.env.API_KEY, "hi")
end)

bot.keyword("LEAK", function(c, msg)
  bot.log("the key is " .. tostring(bot.env.API_KEY))
  error("refused by the API with key " .. tostring(bot.env.API_KEY))
end)

bot.keyword("LIST", function(c, msg)
  local n = 0
  for _ in pairs(bot.env) do n = n + 1 end
  return "listed " .. n
end)

bot.on_event("check.key", function(c, ev)
  error("the API refused key " .. tostring(bot.env.API_KEY))
end)

-- an error quoting a value shorter than its mask, then a character of two
-- bytes: the mask must not cut the message inside it
bot.on_event("check.short", function(c, ev)
  error("pin " .. tostring(bot.env.PIN) .. "\u{e9}\u{e9}")
end)
