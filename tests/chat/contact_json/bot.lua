-- @contact's JSON form: the whole contact, state and pending expect too, as
-- parley pull writes it.
bot.config{ name = "Setup" }

bot.on_join(function(c, msg)
  return "Welcome, new fan"
end)

bot.handler("city", function(c, msg)
  c.fields.city = msg.text
  return "Noted " .. msg.text .. " (step " .. tostring(c.state.step) .. ")"
end)

bot.fallback(function(c, msg)
  return "Hi " .. tostring(c.fields.name) .. ", age " .. tostring(c.fields.age) ..
    (c:has_tag("vip") and ", vip" or "") .. ", zone " .. tostring(c.timezone)
end)
