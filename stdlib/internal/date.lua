-- The date library (runtime/core/date.c, ICU).
-- Part of the trusted side of a bot's Lua VM: see sandbox.lua.
local host, debug, I = ...
local argerror, cfg, checktype, current_zone = I.argerror, I.cfg, I.checktype, I.current_zone
local host, host_now, raise, tointeger = I.host, I.host_now, I.raise, I.tointeger
local tostring, type = I.tostring, I.type
local cur = I.cur

-- ---------------------------------------------------------------- environment

-- ---------------------------------------------------------------- date

-- The date library (runtime/core/date.c, ICU): moments are seconds since 1970,
-- as bot.now() gives them; calendar questions are answered in a zone.
local date = {}
local host_date_parse, host_date_format, host_date_add = host.date_parse, host.date_format,
  host.date_add
local host_date_parts, host_date_start, host_date_age = host.date_parts,
  host.date_start_of_day, host.date_age
local floor = math.floor
local DATE_MIN, DATE_MAX = -62135596800, 253402300799
local DATE_RANGE = "a time in seconds since 1970 from -62135596800 to 253402300799 (years 1 to 9999)"
local DATE_UNITS = "years, months, weeks, days, hours, minutes, seconds"
local date_unit = { years = 1, months = 2, weeks = 3, days = 4, hours = 5, minutes = 6, seconds = 7 }
local WEEKDAYS = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" }
local format_opts = { zone = true, locale = true }

local function shown(v)
  local t = type(v)
  if t == "string" then return "'" .. v .. "'" end
  if t == "number" or t == "boolean" or t == "nil" then return tostring(v) end
  return "a " .. t
end

-- The zone a date call means: the one given, else the contact's (as the
-- handler may just have set it: the zone its quiet hours use), else the
-- bot's. At the top level: the bot's timezone as configured so far, else UTC.
local function date_zone(zone, n, fname)
  if zone ~= nil then
    checktype(zone, "string", n, fname)
    return zone
  end
  if cur.loading then return cfg.timezone or "UTC" end
  return current_zone()
end

local function date_time(t, n, fname)
  if type(t) ~= "number" then
    argerror(n, fname, "time in seconds expected, got " .. (t == nil and "no value" or type(t)))
  end
  if t ~= t or t < DATE_MIN or t >= DATE_MAX + 1 then argerror(n, fname, DATE_RANGE .. ", got " .. tostring(t)) end
  return floor(t)
end

local function date_result(fname, v, err)
  if v == nil then raise(fname .. ": " .. err) end
  return v
end

---date.parse(text[, zone]) -> seconds
function date.parse(text, zone)
  checktype(text, "string", 1, "parse")
  return date_result("date.parse", host_date_parse(text, date_zone(zone, 2, "parse")))
end

---date.format(t[, pattern[, zone | { zone =, locale = }]]) -> text
function date.format(t, pattern, opts)
  t = date_time(t, 1, "format")
  if pattern == nil then pattern = "medium" end
  checktype(pattern, "string", 2, "format")
  local zone, locale
  if type(opts) == "string" then
    zone = opts
  elseif type(opts) == "table" then
    for k in pairs(opts) do
      if not format_opts[k] then raise("date.format: unknown option " .. shown(k) .. " (known: zone, locale)") end
    end
    zone, locale = opts.zone, opts.locale
    if zone ~= nil and type(zone) ~= "string" then argerror(3, "format", "zone must be a string, got " .. type(zone)) end
    if locale ~= nil and type(locale) ~= "string" then argerror(3, "format", "locale must be a string like en_US, got " .. type(locale)) end
  elseif opts ~= nil then
    argerror(3, "format", "zone or table of options expected, got " .. type(opts))
  end
  return date_result("date.format",
    host_date_format(t, pattern, date_zone(zone, 3, "format"), locale or "en_US"))
end

---date.add(t, { days = 1, ... }[, zone]) -> seconds
function date.add(t, amounts, zone)
  t = date_time(t, 1, "add")
  checktype(amounts, "table", 2, "add")
  local a = { 0, 0, 0, 0, 0, 0, 0 }
  for k, v in pairs(amounts) do
    local i = date_unit[k]
    if not i then raise("date.add: unknown unit " .. shown(k) .. " (known: " .. DATE_UNITS .. ")") end
    local n = tointeger(v)
    if not n then raise("date.add: " .. k .. " must be a whole number, got " .. shown(v)) end
    a[i] = n
  end
  return date_result("date.add", host_date_add(t, a[1], a[2], a[3], a[4], a[5], a[6], a[7],
    date_zone(zone, 3, "add")))
end

---date.parts(t[, zone]) -> { year, month, day, hour, min, sec, wday, yday, isdst }
function date.parts(t, zone)
  t = date_time(t, 1, "parts")
  return date_result("date.parts", host_date_parts(t, date_zone(zone, 2, "parts")))
end

---date.weekday(t[, zone]) -> 1 (Sunday) .. 7 (Saturday), "sun" .. "sat"
function date.weekday(t, zone)
  t = date_time(t, 1, "weekday")
  local p = date_result("date.weekday", host_date_parts(t, date_zone(zone, 2, "weekday")))
  return p.wday, WEEKDAYS[p.wday]
end

---date.start_of_day(t[, zone]) -> seconds
function date.start_of_day(t, zone)
  t = date_time(t, 1, "start_of_day")
  return date_result("date.start_of_day", host_date_start(t, date_zone(zone, 2, "start_of_day")))
end

---date.age(birthday[, at[, zone]]) -> whole years
function date.age(birthday, at, zone)
  zone = date_zone(zone, 3, "age")
  if type(birthday) == "number" then
    birthday = date_result("date.age",
      host_date_format(date_time(birthday, 1, "age"), "yyyy-MM-dd", zone, "en_US"))
  elseif type(birthday) ~= "string" then
    argerror(1, "age", "birthday expected (\"1990-05-17\" or seconds since 1970), got " ..
      (birthday == nil and "no value" or type(birthday)))
  end
  if at == nil then
    if cur.loading then raise("date.age: give the time to count to (bot.now() is available only inside handlers)") end
    at = host_now()
  else
    at = date_time(at, 2, "age")
  end
  return date_result("date.age", host_date_age(birthday, at, zone))
end

-- what the parts loaded after this one use
I.date, I.shown = date, shown
