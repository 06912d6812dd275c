-- Event registration line for the Riverside Maker Faire.
--
--   REGISTER / RSVP / SIGN UP   asks for a name (c:expect), then confirms with
--                               the date, place and a contact
--   DETAILS / WHEN / WHERE      the date, place and contact
--   QUESTION                    asks for a question, forwards it to the staff
--   QUESTION: <text>            the same in one message (bot.match)
--   WITHDRAW                    gives up the spot (CANCEL is an opt-out word)
--   ANSWER +1555... <text>      from the staff number only: replies to a fan
--
-- Per fan, c.fields holds the registration (name, ticket, registered_at) and
-- c.state the questions asked; bot.store counts registrations and questions.
-- The event's details live in lib/event.lua (bot.config accepts only its own
-- keys); the staff number comes from bot.env.STAFF_NUMBER (see there).
local event = require("lib.event")

bot.config{
  name = event.name,
  numbers = { "+15550150" },
  help = event.name .. " registration line. Reply REGISTER to sign up, STOP to opt out. "
    .. "Msg&data rates may apply.",
  timezone = "America/Chicago",
  limits = { time = "250ms" },
}

---@param c Contact
---@return boolean
local function registered(c)
  return c.fields.ticket ~= nil
end

---Records a question on the fan's conversation and forwards it to the staff.
---@param c Contact
---@param text string the question as the fan wrote it
---@return string reply
local function ask(c, text)
  local question = event.clip(event.squeeze(text), event.max_question)
  if question == "" then
    c:expect("question")
    return "What would you like to ask?"
  end
  local questions = c.state.questions or {}
  questions[#questions + 1] = { text = question, at = bot.now() }
  while #questions > 5 do table.remove(questions, 1) end
  c.state.questions = questions
  bot.store.questions = (bot.store.questions or 0) + 1
  local who = c.fields.name and (event.literal(c.fields.name) .. ", ") or ""
  send(event.staff, "Question #" .. bot.store.questions .. " from " .. who .. c.number .. ": "
    .. event.literal(question) .. " (reply ANSWER " .. c.number .. " <text>)")
  return "Thanks! Your question went to our team; we'll text you the answer here."
end

bot.keyword({ "REGISTER", "RSVP", "SIGN UP", "SIGNUP" }, function(c, msg)
  if registered(c) then
    return "You're already registered, {{fields.name}} (ticket #{{fields.ticket}}). "
      .. "See you " .. event.date .. "! Text WITHDRAW to give up your spot."
  end
  c:expect("name")
  return "Let's get you a spot at the " .. event.name .. ". What name should go on your badge?"
end)

bot.handler("name", function(c, msg)
  local name, problem = event.clean_name(msg.text)
  if not name then
    c:expect("name")
    return problem
  end
  local store = bot.store
  store.tickets = (store.tickets or 0) + 1
  store.registered = (store.registered or 0) + 1
  c.fields.name = name
  c.fields.ticket = store.tickets
  c.fields.registered_at = bot.now()
  return "You're in, {{fields.name}}! Ticket #{{fields.ticket}}. " .. event.details()
end)

bot.keyword({ "DETAILS", "WHEN", "WHERE" }, function(c, msg)
  return event.details()
end)

bot.keyword("QUESTION", function(c, msg)
  c:expect("question")
  return "Sure, what would you like to ask?"
end)

bot.handler("question", function(c, msg)
  return ask(c, msg.text)
end)

-- "question: where do I park?" in one message. Patterns see the lowercased
-- text, so capture a position, not the words, and cut the original text there.
bot.match("^%s*question[%s:%-]+()%S", function(c, msg, at)
  return ask(c, msg.text:sub(at))
end)

bot.keyword("WITHDRAW", function(c, msg)
  if not registered(c) then
    return "You don't have a spot to give up. Text REGISTER to sign up."
  end
  c.fields.ticket = nil
  c.fields.registered_at = nil
  c.fields.withdrawn_at = bot.now()
  bot.store.registered = bot.store.registered - 1
  return "Done, {{fields.name}}: your spot is released. Text REGISTER if you change your mind."
end)

-- The staff's way back to a fan. Anyone else gets the menu.
bot.match("^answer%s+(%+%d+)%s+()%S", function(c, msg, number, at)
  if c.number ~= event.staff then
    return event.menu(registered(c))
  end
  local status = send(number, "From the " .. event.name .. " team: " .. event.literal(msg.text:sub(at)))
  if status == "suppressed" then
    return "Not delivered: " .. number .. " has opted out of texts."
  end
  return "Sent to " .. number .. "."
end)

bot.fallback(function(c, msg)
  return event.menu(registered(c))
end)

-- Opting out is the runtime's job (the fan's pending question or name prompt
-- is dropped, the confirmation sent); the bot only notes when it happened.
bot.on_optout(function(c, msg)
  c.state.opted_out_at = bot.now()
end)

bot.on_optin(function(c, msg)
  c.state.opted_out_at = nil
  if registered(c) then
    return "Welcome back, {{fields.name}}. Your ticket #{{fields.ticket}} still stands."
  end
end)
