-- Birthday texts from Ava Stone's fan line.
--
--   BIRTHDAY 03-15 (or 3/15)   stores the birthday and schedules the greeting
--   BIRTHDAY                   asks for the date (c:expect)
--
-- The greeting is a one-shot timer, bot.at("2027-03-15 09:00", ...): a
-- "YYYY-MM-DD HH:MM" string is read in the fan's time zone (c.timezone, else
-- the bot's), so every fan is greeted at 09:00 where they are, daylight
-- saving time included. When it fires, the handler schedules next year's.
-- The timer's id is kept in c.state so a new date, or an opt-out, can cancel it.
bot.config{
  name = "Ava Stone",
  numbers = { "+15550100" },
  help = "Ava Stone fan line. Text BIRTHDAY MM-DD for a birthday text. Reply STOP to cancel.",
  timezone = "America/New_York",
}

---The birthday as a date of year y, "2027-03-15": Feb 29 is Feb 28 in common
---years (date.add counts years as ICU's calendar does; 2000 was a leap year,
---so every month and day the fan can give is a date in it).
---@param y integer
---@param m integer
---@param d integer
---@return string
local function birthday_in(y, m, d)
  local in_2000 = date.parse(string.format("2000-%02d-%02d", m, d), "UTC")
  return date.format(date.add(in_2000, { years = y - 2000 }, "UTC"), "yyyy-MM-dd", "UTC")
end

---The year of the next greeting: this year's unless the birthday is already
---over where the fan is (date.* work in the fan's zone, c.timezone, else the
---bot's, as bot.at does). A fan who registers on the day itself, after 09:00,
---is greeted at once (bot.at with a time that has passed runs as soon as the
---clock moves).
---@param m integer
---@param d integer
---@return integer
local function next_year(m, d)
  local now = bot.now()
  local y = date.parts(now).year
  local day_after = date.add(date.parse(birthday_in(y, m, d)), { days = 1 })
  if day_after <= now then return y + 1 end
  return y
end

---Schedules the greeting of year y at 09:00 in the fan's zone, and keeps the
---timer's id (for bot.cancel) and the local time in c.state.
---@param c Contact
---@param y integer
local function schedule(c, y)
  local m, d = c.fields.birthday_month, c.fields.birthday_day
  local when = birthday_in(y, m, d) .. " 09:00"
  c.state.greeting = bot.at(when, "greet", { year = y })
  c.state.greeting_at = when
end

local function unschedule(c)
  if c.state.greeting then bot.cancel(c.state.greeting) end
  c.state.greeting, c.state.greeting_at = nil, nil
end

local ASK = "When's your birthday? Text BIRTHDAY MM-DD, like BIRTHDAY 03-15."

---"03-15", "3/15" -> month, day (Feb 29 allowed), or nil. A leading
---"birthday" is dropped: a fan who was asked for the date may still write
---"BIRTHDAY 3/15", which then reaches the expected handler, not bot.match.
local function parse(s)
  local m, d = s:lower():gsub("^%s*birthday", ""):match("^%s*(%d%d?)[%-/](%d%d?)%s*$")
  m, d = tonumber(m), tonumber(d)
  if not m or not pcall(date.parse, string.format("2000-%02d-%02d", m, d), "UTC") then return nil end
  return m, d
end

local function set_birthday(c, typed)
  local m, d = parse(typed)
  if not m then
    c:expect("birthday")
    return "Sorry, I need the month and day. " .. ASK
  end
  unschedule(c)
  c.fields.birthday_month, c.fields.birthday_day = m, d
  schedule(c, next_year(m, d))
  local day = date.format(date.parse(birthday_in(2000, m, d), "UTC"), "MMMM d", "UTC")
  return "Got it: " .. day .. ". Expect a text from me that morning! -Ava"
end

bot.handler("greet", function(c, args)
  schedule(c, args.year + 1)
  return "Happy birthday from Ava! Here's a song just for you: https://avastone.example/gift"
end)

bot.keyword("BIRTHDAY", function(c, msg)
  c:expect("birthday")
  return ASK
end)

bot.handler("birthday", function(c, msg)
  return set_birthday(c, msg.text)
end)

bot.match("^%s*birthday%s+()", function(c, msg, at)
  return set_birthday(c, msg.text:sub(at))
end)

-- No greeting while opted out; the next one is scheduled again on START.
bot.on_optout(function(c, msg)
  unschedule(c)
end)

bot.on_optin(function(c, msg)
  local m, d = c.fields.birthday_month, c.fields.birthday_day
  if m then schedule(c, next_year(m, d)) end
end)

bot.fallback(function(c, msg)
  return "Hi from Ava's team! Text BIRTHDAY MM-DD and Ava will text you on your birthday."
end)
