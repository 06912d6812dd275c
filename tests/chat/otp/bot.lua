-- A one-time-code sender with a welcome for people who text in first.
-- Contacts are also created by an event (the code request), so on_join
-- passes their first message (the code) on with c:continue().
bot.config{ name = "Acme Verify", numbers = { "+15550400" }, timezone = "America/New_York" }

bot.on_join(function(c, msg)
  if c.state.code then return c:continue() end
  c:send("Welcome to Acme Verify!")
  if msg.text:upper() == "HI" then return "Text PRICE for prices." end
  return c:continue()
end)

bot.on_event("otp.requested", function(c, ev)
  c.state.code = ev.code
  c:expect("verify")
  c:send("Your Acme code is " .. ev.code .. ". Reply with it to sign in.", { transactional = true })
end)

bot.handler("verify", function(c, msg)
  if msg.text == c.state.code then
    c.state.code = nil
    return "Signed in."
  end
  return "That code is not right."
end)

bot.keyword("PRICE", function(c, msg) return "Plans from $5." end)

-- matched on the lowercased text; captures keep the case the fan typed
bot.match("^name (%a+) (%a+)$", function(c, msg, first, last)
  c.fields.name = first .. " " .. last
  return "Hello, " .. first .. " " .. last .. "!"
end)

bot.keyword("AGAIN", function(c, msg) return c:continue() end)

bot.fallback(function(c, msg) return "Text PRICE, or NAME First Last." end)
