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

local MONTHS = { "January", "February", "March", "April", "May", "June", "July", "August",
  "September", "October", "November", "December" }

local function leap(y) return y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0) end

local function days_in(y, m)
  if m == 2 then return leap(y) and 29 or 28 end
  return (m == 4 or m == 6 or m == 9 or m == 11) and 30 or 31
end

-- Days from 1970-01-01 to a date of the proleptic Gregorian calendar.
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = y // 400
  local yoe = y - era * 400
  local doy = (153 * (m + (m > 2 and -3 or 9)) + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return era * 146097 + doe - 719468
end

---The day of the birthday in year y: Feb 29 is Feb 28 in other years.
local function day_in(y, m, d)
  if m == 2 and d == 29 and not leap(y) then return 28 end
  return d
end

---The year of the next greeting: this year's (by UTC) unless its 09:00 has
---passed everywhere on Earth (the last zones to reach it are 12 hours behind
---UTC). The sandbox has no os.date and the script does not know the fan's
---UTC offset, so the date is worked out from bot.now() in UTC, and bot.at
---does the zone. A fan who registers on the day itself, after 09:00 their
---time but before the day is over everywhere, is greeted at once (bot.at
---with a time that has passed runs as soon as the clock moves).
---@param m integer
---@param d integer
---@return integer
local function next_year(m, d)
  local now = bot.now()
  local y = 1970 + now // 31556952 -- close; corrected below
  while days_from_civil(y + 1, 1, 1) * 86400 <= now do y = y + 1 end
  while days_from_civil(y, 1, 1) * 86400 > now do y = y - 1 end
  local nine_utc = days_from_civil(y, m, day_in(y, m, d)) * 86400 + 9 * 3600
  if nine_utc + 12 * 3600 <= now then return y + 1 end
  return y
end

---Schedules the greeting of year y at 09:00 in the fan's zone, and keeps the
---timer's id (for bot.cancel) and the local time in c.state.
---@param c Contact
---@param y integer
local function schedule(c, y)
  local m, d = c.fields.birthday_month, c.fields.birthday_day
  local when = string.format("%04d-%02d-%02d 09:00", y, m, day_in(y, m, d))
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
  if not m or m < 1 or m > 12 or d < 1 or d > days_in(2024, m) then return nil end
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
  return "Got it: " .. MONTHS[m] .. " " .. d .. ". Expect a text from me that morning! -Ava"
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
