-- A shop on WhatsApp (and SMS): order updates by template, support answers
-- inside the 24-hour window, buttons.
--
--   MENU            buttons: Track order, Talk to us, Sizes
--   Track order     where the last order is (a button, or the words)
--   Sizes           a list to pick from
--   Talk to us      a person takes the conversation (the console)
--
-- From the shop's backend, POST /v1/bots/whatsapp_store/events with
-- {"type": "order.shipped", "contact": "whatsapp:+1555...", "data": {"order": "1042"}}:
-- the update goes as the approved template order_update, which WhatsApp
-- delivers whenever it comes; a free-form message only goes within 24 hours
-- of the customer's last message, and the runtime refuses it otherwise
-- (docs/providers.md, "WhatsApp"). On SMS the same handlers answer: the
-- buttons become numbered lines, the template its text.
--
-- Set up the channel with the server's settings: whatsapp_phone_number_id,
-- PARLEY_WHATSAPP_ACCESS_TOKEN, PARLEY_WHATSAPP_APP_SECRET and
-- PARLEY_WHATSAPP_VERIFY_TOKEN; Meta's webhook is PUBLIC_URL/whatsapp/whatsapp_store.
bot.config{
  name = "Juniper Goods",
  channels = { "whatsapp", "sms" },
  help = "Juniper Goods: MENU for options. Reply STOP to opt out.",
  timezone = "America/Chicago",
  quiet_hours = false, -- order updates are asked for; WhatsApp has no carrier quiet hours
}

local MENU = { { id = "track", title = "Track order" }, { id = "person", title = "Talk to us" },
  { id = "sizes", title = "Sizes" } }

bot.keyword({ "MENU", "HI", "HELLO" }, function(c)
  c:send{ text = "Hi! What can we do for you?", buttons = MENU }
end)

bot.keyword("TRACK ORDER", function(c)
  local order = c.fields.last_order
  if not order then return "We have no order for you yet. Shop at junipergoods.example" end
  return "Order " .. order .. ": " .. (c.fields.order_status or "being packed") .. "."
end)

bot.keyword("SIZES", function(c)
  c:send("Which size?", { list = { button = "Sizes", items = {
    { id = "s", title = "Small", description = "chest 86-91 cm" },
    { id = "m", title = "Medium", description = "chest 96-101 cm" },
    { id = "l", title = "Large", description = "chest 106-111 cm" } } } })
end)

bot.keyword({ "SMALL", "MEDIUM", "LARGE" }, function(c, msg)
  c.fields.size = msg.choice and msg.choice.id or msg.text:sub(1, 1):lower()
  return "Noted: size " .. c.fields.size:upper() .. "."
end)

bot.keyword("TALK TO US", function(c)
  c:handoff{ reason = "asked for a person" }
  return "A person will answer here shortly."
end)

-- the backend's order updates: a template, so they go at any time
bot.on_event("order.shipped", function(c, ev)
  c.fields.last_order, c.fields.order_status = ev.order, "shipped"
  c:send{ template = "order_update", language = "en_US", params = { ev.order, "shipped" },
          text = "Order " .. ev.order .. " has shipped.", transactional = true }
end)

-- a follow-up the next day: free text if the customer wrote since, else a template
bot.handler("follow_up", function(c)
  if c:send("Did your order arrive in good shape?") == "failed" then
    c:send{ template = "delivery_check", language = "en_US", params = { c.fields.last_order or "" } }
  end
end)

bot.on_event("order.delivered", function(c, ev)
  c.fields.order_status = "delivered"
  bot.after("25h", "follow_up")
end)

bot.fallback(function(c, msg)
  if msg.location then return "Thanks, we got your location." end
  if #msg.media > 0 then return "Thanks, we got your " .. (msg.media[1].type or "file") .. "." end
  c:send{ text = "Sorry, I did not get that.", buttons = MENU }
end)
