-- The date library: each command takes its arguments from the message as
-- written (fields split on " | "; an empty field is nil), runs one date
-- function and replies with the result, or fails with its error.
bot.config{ name = "Dates", timezone = "America/New_York" }

local function fields(msg)
  local rest = msg.text:match("^%S+%s+(.*)$") or ""
  local out, n = {}, 0
  for field in (rest .. " | "):gmatch("(.-)%s*|%s*") do
    n = n + 1
    if field ~= "" then out[n] = field end
  end
  return out, n
end

local function moment(text, zone)
  return tonumber(text) or date.parse(text, zone)
end

-- fmt WHEN | PATTERN | ZONE | LOCALE (WHEN: ISO text read in ZONE, or seconds)
bot.match("^fmt ", function(c, msg)
  local f = fields(msg)
  local opts = (f[3] or f[4]) and { zone = f[3], locale = f[4] } or nil
  return date.format(moment(f[1], f[3]), f[2], opts)
end)

-- parse TEXT | ZONE: seconds since 1970
bot.match("^parse ", function(c, msg)
  local f = fields(msg)
  return tostring(date.parse(f[1], f[2]))
end)

-- add WHEN | N UNIT [N UNIT ...] | ZONE: the result in ISO, in ZONE
bot.match("^add ", function(c, msg)
  local f = fields(msg)
  local amounts = {}
  for n, unit in f[2]:gmatch("(%-?%d+) (%a+)") do amounts[unit] = math.tointeger(tonumber(n)) end
  local t = date.add(moment(f[1], f[3]), amounts, f[3])
  return date.format(t, "iso", f[3]) .. " (" .. (t - moment(f[1], f[3])) // 60 .. " min later)"
end)

-- age BIRTHDAY | AT | ZONE (AT: ISO text or seconds; none: now)
bot.match("^age ", function(c, msg)
  local f = fields(msg)
  local at = f[2] and moment(f[2], f[3])
  return "age " .. date.age(tonumber(f[1]) or f[1], at, f[3])
end)

-- day WHEN | ZONE: weekday, name, and the start of that day
bot.match("^day ", function(c, msg)
  local f = fields(msg)
  local t = moment(f[1], f[2])
  local n, name = date.weekday(t, f[2])
  return n .. " " .. name .. ", starts " .. date.format(date.start_of_day(t, f[2]), "iso", f[2])
end)

-- parts WHEN | ZONE
bot.match("^parts ", function(c, msg)
  local f = fields(msg)
  local p = date.parts(moment(f[1], f[2]), f[2])
  return string.format("%04d-%02d-%02d %02d:%02d:%02d wday %d yday %d dst %s", p.year, p.month,
    p.day, p.hour, p.min, p.sec, p.wday, p.yday, tostring(p.isdst))
end)

bot.keyword("now", function(c, msg)
  return date.format(bot.now(), "EEE MMM d yyyy 'at' h:mm a zzz")
end)

-- the reminder the examples want: the day before at 10:00, said in words
bot.match("^remind ", function(c, msg)
  local f = fields(msg)
  local appointment = date.parse(f[1])
  local day_before = date.format(date.add(appointment, { days = -1 }), "yyyy-MM-dd")
  local before = date.parse(day_before .. "T10:00")
  c.state.reminder = before
  return "Reminder " .. date.format(before, "EEE MMM d 'at' h:mm a") .. " for "
    .. date.format(appointment, "EEE MMM d 'at' h:mm a")
end)

bot.keyword("frozen", function(c, msg)
  date.parse = function() return 0 end
end)

bot.keyword("types", function(c, msg)
  return date.format("tomorrow")
end)

-- move ZONE | SECONDS: sets c.timezone, then formats in the default zone
bot.match("^move ", function(c, msg)
  local f = fields(msg)
  c.timezone = f[1]
  return date.format(tonumber(f[2]), "h:mm a zzzz")
end)

-- at the top level, the zone is the bot's (bot.config above)
local LAUNCH = date.parse("2026-06-01T09:00")

bot.keyword("launch", function(c, msg)
  return date.format(LAUNCH, "iso") .. " is " .. date.format(LAUNCH, "h:mm a") .. " here"
end)

bot.keyword("half", function(c, msg)
  return date.format(date.add(0, { days = 1.5 }), "iso")
end)

-- a handler without a contact works in the bot's zone
bot.handler("morning", function(c, args)
  send("+15550009", "Good morning, it's " .. date.format(bot.now(), "EEEE h:mm a zzz"))
end)
bot.every("daily 09:00", "morning")

bot.keyword("badopt", function(c, msg)
  return date.format(0, "iso", { zone = "UTC", tz = "Europe/Paris" })
end)
