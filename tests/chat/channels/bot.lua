-- Channels: the same bot on SMS, WhatsApp and Messenger. Buttons are
-- WhatsApp's buttons (Messenger's quick replies) and numbered lines on SMS;
-- a free-form message outside WhatsApp's 24-hour window is refused
-- (c:send says "failed") and a template goes instead; a drip step a day
-- later does the same; on Messenger a tagged message goes.
bot.keyword("MENU", function(c)
  c:send{ text = "What would you like?", buttons = { "Track order", "Talk to us" } }
end)

bot.keyword("SIZES", function(c)
  c:send("Pick a size", { list = { button = "Sizes", items = {
    { id = "s", title = "Small", description = "fits 2-4" }, "Medium", "Large" } } })
end)

bot.keyword("TRACK ORDER", function(c, msg)
  local how = msg.choice and ("button " .. msg.choice.id) or "words"
  return "Order 1042 is on its way (" .. how .. ", " .. msg.channel .. ")."
end)

bot.keyword("WHERE", function(c)
  return "You write on " .. c.channel .. " from " .. c.number
end)

bot.keyword("FOLLOW", function(c)
  c:start_drip("follow_up")
  return "We will check in tomorrow."
end)

bot.handler("check_in", function(c)
  local status = c:send("How was your order?")
  if status == "failed" then
    c:send{ template = "order_feedback", language = "en_US", params = { c.fields.name or "there" } }
  end
end)

bot.drip("follow_up", {
  { after = "25h", call = "check_in" },
})

bot.keyword("TEMPLATE", function(c)
  c:send{ template = "order_update", params = { "1042", "shipped" }, text = "Order 1042 shipped." }
end)

bot.fallback(function(c, msg)
  return "You said: " .. msg.text
end)

bot.keyword("POSTER", function(c)
  c:send("Tonight's poster", { media = "https://cdn.example.com/poster.jpg" })
end)

-- Messenger: a day later only a message with a tag goes
bot.keyword("NUDGE", function(c)
  bot.after("25h", "nudge")
  return "ok"
end)

bot.handler("nudge", function(c)
  c.fields.free = c:send("Still there?")
  c:send("Your order shipped.", { tag = "POST_PURCHASE_UPDATE" })
end)

-- what Meta would refuse is refused at the script's line
bot.keyword("BAD TEMPLATE", function(c) c:send{ template = "order_update", buttons = { "Yes" } } end)
bot.keyword("LONG BUTTONS", function(c) c:send{ text = string.rep("a", 1100), buttons = { "Yes" } } end)
bot.keyword("FOUR BUTTONS", function(c) c:send{ text = "Pick", buttons = { "a", "b", "c", "d" } } end)
bot.keyword("TAGGED", function(c) c:send("Shipped", { tag = "POST_PURCHASE_UPDATE" }) end)
