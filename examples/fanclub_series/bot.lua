-- Ava Stone's fan club: a welcome series, a city question, and city
-- announcements sent by Ava herself.
--
--   (first message)      welcome, the city question (c:expect), and the
--                        three-step welcome series (a drip over a week)
--   CITY <name>          changes the fan's city
--   ANNOUNCE <city> <text>   from Ava's own phone only: a broadcast to the
--                        fans of that city, e.g. ANNOUNCE Austin Tonight 8pm
--                        (ANNOUNCE New York: ... for a city of several words)
--   STATUS               from Ava's phone: how the last announcement went
--
-- Nothing here deals with the night: the runtime holds every series step and
-- announcement that would reach a fan between 21:00 and 09:00 in the fan's
-- own time zone, and sends it at 09:00. Replies to a fan's own message go out
-- at once. STOP (handled by the runtime) ends the series for good.
local text = require("text")

local ARTIST = "+15550199" -- Ava's own phone: the only number that may ANNOUNCE

bot.config{
  name = "Ava Stone",
  numbers = { "+15550100" },
  help = "Ava Stone fan club, ~4 msgs/mo. Msg&data rates may apply. Reply STOP to cancel.",
  timezone = "America/New_York",     -- fans without a zone of their own
  quiet_hours = { "21:00", "09:00" }, -- the default, written out
  broadcast_rate = 1,                 -- one announcement text per second
}

-- The welcome series. Each step counts from the one before, the last from
-- the start: a week after joining, whenever the second step went out.
bot.drip("welcome", {
  { after = "1h", text = "Behind the scenes: the studio where the new album was made. https://avastone.example/studio" },
  { after = "2d", call = "presale" },
  { after = "7d", from = "start", text = "One week in! Reply with your favorite song and I might play it on tour. -Ava" },
})

-- A step can be a handler: its returned string is sent (templates expand).
bot.handler("presale", function(c, args)
  if c.fields.city then
    return "{{fields.city}} fans get the presale first: code FANCLUB at https://avastone.example/tour"
  end
  return "Fan club presale: code FANCLUB at https://avastone.example/tour"
end)

local FAN_MENU = "Thanks for the message! Text CITY <your city> to change your city, STOP to opt out."
local ARTIST_MENU = "Artist line: ANNOUNCE <city> <text> (like ANNOUNCE Austin Tonight 8pm), STATUS for the last one."

---Stores a city typed by a fan ("  new york " -> "New York").
---@param c Contact
---@param typed string
local function set_city(c, typed)
  c.fields.city = text.title(text.trim(typed))
  return "Noted, {{fields.city}}! I'll text you when I play near you."
end

---ANNOUNCE <city> <text>: a broadcast to the city's fans.
---@param rest string what follows ANNOUNCE, as Ava typed it
local function announce(rest)
  local city, note = rest:match("^([^:]+):%s*(.-)%s*$")
  if not city then city, note = rest:match("^(%S+)%s+(.-)%s*$") end
  if not city or note == "" then return ARTIST_MENU end
  city = text.title(text.trim(city))
  local fans = 0
  for _ in bot.contacts{ city = city, status = "subscribed" } do fans = fans + 1 end
  if fans == 0 then return "No fans in " .. city .. " yet: nothing sent." end
  -- opted-out fans of the city are left in the segment: the runtime
  -- suppresses their copy and counts it (STATUS shows it)
  local id = bot.broadcast{ segment = { city = city }, text = "Hey {{fields.city}}! " .. note .. " -Ava" }
  bot.store.last_broadcast = id
  return "Sending to " .. fans .. " " .. city .. " fan" .. (fans == 1 and "" or "s") .. " (broadcast #" .. id .. ")."
end

local function status()
  local id = bot.store.last_broadcast
  if not id then return "No announcements yet." end
  local s = bot.broadcast_status(id)
  return string.format("Broadcast #%d: %s, %d sent, %d held for the morning, %d opted out.",
    id, s.status, s.sent, s.held, s.suppressed)
end

---Everything Ava's own phone sends.
---@param msg Message
local function artist(msg)
  local word, at = msg.text:lower():match("^%s*(%a+)%s*()")
  if word == "announce" then return announce(msg.text:sub(at)) end
  if word == "status" then return status() end
  return ARTIST_MENU
end

bot.on_join(function(c, msg)
  if c.number == ARTIST then return artist(msg) end
  c:start_drip("welcome")
  c:expect("city")
  return "Hey, it's Ava! Welcome to the fan club. What city are you in?"
end)

bot.handler("city", function(c, msg)
  return set_city(c, msg.text)
end)

bot.match("^%s*city%s+()%S", function(c, msg, at)
  return set_city(c, msg.text:sub(at))
end)

-- ANNOUNCE and STATUS reach these rules from anyone; only Ava gets the
-- artist's commands, a fan gets the fan menu.
bot.match("^%s*announce%f[%A]", function(c, msg)
  if c.number ~= ARTIST then return FAN_MENU end
  return artist(msg)
end)

bot.keyword("STATUS", function(c, msg)
  if c.number ~= ARTIST then return FAN_MENU end
  return status()
end)

bot.fallback(function(c, msg)
  if c.number == ARTIST then return ARTIST_MENU end
  return FAN_MENU
end)
