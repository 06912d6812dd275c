-- Appointment reminders for a dental office.
--
--   BOOK 2026-03-09 15:00          books a time (in the patient's time zone)
--   RESCHEDULE 2026-03-12 09:30    moves it
--   WHEN                           the booked time
--   CANCEL APPOINTMENT (or CANCEL APPT)   cancels it; CANCEL alone is an
--                                  opt-out word: it unsubscribes from texts
--
-- The reminders are a drip counted back from the date field
-- c.fields.appointment_at ("YYYY-MM-DD HH:MM", read in the patient's zone,
-- c.timezone, else the bot's): the day before at 10:00 local time, and two
-- hours before. The runtime does the calendar: time zones, daylight saving
-- changes, and skipping a reminder whose time has already passed.
bot.config{
  name = "Northside Dental",
  numbers = { "+15550300" },
  help = "Northside Dental reminders: BOOK YYYY-MM-DD HH:MM, RESCHEDULE YYYY-MM-DD HH:MM, "
    .. "WHEN, CANCEL APPOINTMENT. Reply STOP to opt out of texts.",
  timezone = "America/New_York",
}

bot.drip("reminder", {
  -- the day before, at 10:00 on the patient's wall clock
  { before = "1d", of = "fields.appointment_at", at = "10:00",
    text = "Reminder: your Northside Dental appointment is tomorrow, {{fields.appointment_day}} at "
      .. "{{fields.appointment_time}}. Reply CANCEL APPOINTMENT if you can't make it." },
  -- two hours before, whatever the hour: a message the patient asked for,
  -- so it is marked urgent (not held by quiet hours; after an opt-out the
  -- drip is stopped and nothing is sent)
  { before = "2h", of = "fields.appointment_at", urgent = true,
    text = "See you at {{fields.appointment_time}} today at Northside Dental, 12 Main St." },
})

---"2026-03-09 15:00" (or "2026-03-09 9:30") -> the booking, or nil: a date
---and time that exists in the patient's zone (date.parse reads it there, as
---the drip reads the field; a time a daylight-saving change skips is not one).
---@param s string
local function parse(s)
  local day, hh, mm = s:match("^%s*(%d%d%d%d%-%d%d%-%d%d)%s+(%d%d?):(%d%d)%s*$")
  if not day then return nil end
  local ok, t = pcall(date.parse, day .. "T" .. string.format("%02d", tonumber(hh)) .. ":" .. mm)
  if not ok then return nil end
  return { at = date.format(t, "yyyy-MM-dd HH:mm"), day = date.format(t, "EEE MMM d"),
    time = date.format(t, "HH:mm") }
end

local HOW = "Send BOOK YYYY-MM-DD HH:MM, like BOOK 2026-03-09 15:00, at least 2 hours ahead."

---Books (or moves) the appointment and (re)starts its reminders. c:start_drip
---returns nil when none of the steps can still come: the time has passed, or
---is too close. Then the previous booking, if any, is put back.
---@param c Contact
---@param typed string the date and time as the patient wrote it
---@param verb string "Booked" or "Moved"
local function book(c, typed, verb)
  local when = parse(typed)
  if not when then return "Sorry, I can't read that time. " .. HOW end
  local f = c.fields
  local old = { f.appointment_at, f.appointment_day, f.appointment_time }
  f.appointment_at, f.appointment_day, f.appointment_time = when.at, when.day, when.time
  if not c:start_drip("reminder") then -- restarts the drip: old reminders are dropped
    f.appointment_at, f.appointment_day, f.appointment_time = old[1], old[2], old[3]
    if old[1] then c:start_drip("reminder") end
    return "Sorry, " .. when.day .. " at " .. when.time .. " has passed or is too soon. " .. HOW
  end
  return verb .. ": {{fields.appointment_day}} at {{fields.appointment_time}}. "
    .. "We'll text you a reminder the day before."
end

bot.match("^%s*book%s+()", function(c, msg, at)
  if c.fields.appointment_at then
    return "You're booked for {{fields.appointment_day}} at {{fields.appointment_time}}. "
      .. "Text RESCHEDULE YYYY-MM-DD HH:MM to move it."
  end
  return book(c, msg.text:sub(at), "Booked")
end)

bot.match("^%s*reschedule%s+()", function(c, msg, at)
  if not c.fields.appointment_at then return "You have no appointment to move. " .. HOW end
  return book(c, msg.text:sub(at), "Moved")
end)

bot.keyword("WHEN", function(c, msg)
  if not c.fields.appointment_at then return "You have no appointment. " .. HOW end
  return "Your appointment: {{fields.appointment_day}} at {{fields.appointment_time}}."
end)

bot.keyword({ "CANCEL APPOINTMENT", "CANCEL APPT" }, function(c, msg)
  if not c.fields.appointment_at then return "You have no appointment to cancel." end
  c:stop_drip("reminder")
  -- day and time were written by parse(), so they are safe to concatenate
  local was = c.fields.appointment_day .. " at " .. c.fields.appointment_time
  c.fields.appointment_at, c.fields.appointment_day, c.fields.appointment_time = nil, nil, nil
  return "Cancelled: " .. was .. ". " .. HOW
end)

bot.fallback(function(c, msg)
  return "Northside Dental: " .. HOW .. " Text WHEN for your booking, CANCEL APPOINTMENT to cancel."
end)
