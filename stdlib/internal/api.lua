-- The bot API's registrations and settings: rules (bot.keyword, hear, match,
-- fallback, on_join, on_optout, on_optin, on_event, on_status, handler),
-- bot.config, bot.now, bot.log, and timers (bot.after, at, every).
-- Part of the trusted side of a bot's Lua VM: see sandbox.lua.
local host, debug, I = ...
local T, U, argerror, checktype, encode = I.T, I.U, I.argerror, I.checktype, I.encode
local host, host_log, host_now, next, pack = I.host, I.host_log, I.host_now, I.next, I.pack
local pcall, raise, rawget, rt, sfind = I.pcall, I.raise, I.rawget, I.rt, I.sfind
local sgmatch, sgsub, slower, smatch, ssub = I.sgmatch, I.sgsub, I.slower, I.smatch, I.ssub
local tointeger, tonumber, top_level_only = I.tointeger, I.tonumber, I.top_level_only
local tostring, type, where = I.tostring, I.type, I.where
local cur = I.cur

-- ---------------------------------------------------------------- the bot API

local api = {}          -- bot.* functions
local cfg = { name = nil, help = nil, numbers = {}, limits = {}, timezone = nil,
  optout_reply = nil, optin_reply = nil, max_message_chars = 1600 }
rt.cfg = cfg

local router = {
  join = nil, fallback = nil, optout = nil, optin = nil, status = nil,
  keywords = {},   -- normalized phrase -> rule
  hears = {},      -- single word -> rule
  hear_phrases = {},-- { words = {...}, rule }
  matches = {},    -- { pattern, rule }
  handlers = {},   -- name -> function
  every = {},      -- { spec, handler, where }: recurring timers
  events = {},     -- event type -> rule
  order = 0,
}
rt.router = router

-- the keyword form: lowercased, trimmed, inner whitespace collapsed,
-- trailing punctuation dropped (sandbox.c; the same for rules and messages)
local normalize = host.normalize
local first_word = host.first_word
local match_cased = host.match_cased
rt.normalize = normalize

local function words_of(list, fname)
  if type(list) == "string" then return { list } end
  if type(list) ~= "table" then argerror(1, fname, "string or list of strings expected, got " .. type(list)) end
  local out = {}
  for i = 1, #list do
    if type(list[i]) ~= "string" then argerror(1, fname, "entry " .. i .. " is a " .. type(list[i]) .. ", not a string") end
    out[#out + 1] = list[i]
  end
  if #out == 0 then argerror(1, fname, "empty list") end
  return out
end

-- "bot.lua:12: " (an error prefix) as a place in a sentence: "bot.lua:12"
-- (memoized: the router names a hear rule's place for every message it takes,
-- and places are the script's own lines, so there are few)
local places = {}
local function place(w)
  local p = places[w]
  if not p then
    p = smatch(w, "^(.-): $") or w
    places[w] = p
  end
  return p
end

local function new_rule(fn, fname, n)
  checktype(fn, "function", n, fname)
  router.order = router.order + 1
  return { fn = fn, order = router.order, where = where(3) }
end

-- A send, drip step or handler marked not to wait for quiet hours:
-- "transactional" (also delivered after an opt-out, DESIGN.md) or "urgent"
-- (only the quiet hours: an opted-out contact gets nothing), or nil.
-- t: the table with the keys; bad(msg) raises what is wrong.
local function mark_of(t, bad)
  for _, k in ipairs({ "urgent", "transactional" }) do
    local v = rawget(t, k)
    if v ~= nil and v ~= true and v ~= false then bad(k .. " must be true or false") end
  end
  if rawget(t, "transactional") then return "transactional" end
  if rawget(t, "urgent") then return "urgent" end
end

-- The options of bot.handler and bot.on_event: { urgent = true } or
-- { transactional = true }: what the handler sends is so marked.
local function handler_mark(opts, n, fname)
  if opts == nil then return nil end
  if type(opts) ~= "table" then argerror(n, fname, "table of options expected, got " .. type(opts)) end
  for k in next, opts do
    if k ~= "urgent" and k ~= "transactional" then
      argerror(n, fname, "unknown option '" .. tostring(k) .. "' (known: urgent, transactional)")
    end
  end
  return mark_of(opts, function(msg) argerror(n, fname, msg) end)
end

local compliance_words = { stop = true, stopall = true, unsubscribe = true, cancel = true, ["end"] = true,
  quit = true, revoke = true, optout = true, start = false, unstop = false, yes = false, help = true,
  info = true }

function api.keyword(list, fn)
  top_level_only("bot.keyword")
  local words = words_of(list, "keyword")
  local rule = new_rule(fn, "keyword", 2)
  for _, w in ipairs(words) do
    local k = normalize(w)
    if k == "" then argerror(1, "keyword", "keyword '" .. w .. "' is empty once trimmed") end
    if compliance_words[k] then
      raise("bot.keyword: '" .. w .. "' is handled by the runtime's opt-out compliance and never reaches a script")
    end
    if router.keywords[k] then raise("bot.keyword: '" .. w .. "' is already a keyword (" .. place(router.keywords[k].where) .. ")") end
    router.keywords[k] = rule
  end
end

function api.hear(list, fn)
  top_level_only("bot.hear")
  local words = words_of(list, "hear")
  local rule = new_rule(fn, "hear", 2)
  for _, w in ipairs(words) do
    local k = normalize(w)
    if k == "" then argerror(1, "hear", "word '" .. w .. "' is empty once trimmed") end
    if sfind(k, "^[%w_\128-\255]+$") then
      if not router.hears[k] then router.hears[k] = rule end
    else
      local ws = {}
      for x in sgmatch(k, "[%w_\128-\255]+") do ws[#ws + 1] = x end
      router.hear_phrases[#router.hear_phrases + 1] = { words = ws, rule = rule }
    end
  end
end

-- The error Lua's matcher would raise for pattern p on some text, or nil.
-- The matcher reads a pattern only as far as a text gets it, so trying it
-- on one text misses most mistakes; this reads all of it as the matcher
-- does (lstrlib.c's do_match, classEnd, matchbalance, check_capture) and
-- gives the same messages.
local function pattern_problem(p)
  local n = #p
  local function class_end(j) -- j: a single-character class; the index after it
    local ch = ssub(p, j, j)
    if ch == "%" then
      if j == n then return nil, "malformed pattern (ends with '%')" end
      return j + 2
    elseif ch == "[" then
      j = j + 1
      if ssub(p, j, j) == "^" then j = j + 1 end
      repeat -- the first character is in the set, even a ']'
        if j > n then return nil, "malformed pattern (missing ']')" end
        local c = ssub(p, j, j)
        j = j + 1
        if c == "%" and j <= n then j = j + 1 end
      until ssub(p, j, j) == "]"
      return j + 1
    end
    return j + 1
  end
  local open, closed, level = {}, {}, 0
  local i = ssub(p, 1, 1) == "^" and 2 or 1
  while i <= n do
    local ch, nx = ssub(p, i, i), ssub(p, i + 1, i + 1)
    local e, err
    if ch == "(" then
      level = level + 1
      if level > 32 then return "too many captures" end
      if nx == ")" then
        closed[level] = true
        e = i + 2
      else
        open[#open + 1] = level
        e = i + 1
      end
    elseif ch == ")" then
      if #open == 0 then return "invalid pattern capture" end
      closed[open[#open]] = true
      open[#open] = nil
      e = i + 1
    elseif ch == "$" and i == n then
      e = i + 1
    elseif ch == "%" and nx == "b" then
      if i + 3 > n then return "malformed pattern (missing arguments to '%b')" end
      e = i + 4
    elseif ch == "%" and nx == "f" then
      if ssub(p, i + 2, i + 2) ~= "[" then return "missing '[' after '%f' in pattern" end
      e, err = class_end(i + 2)
    elseif ch == "%" and sfind(nx, "^%d$") then
      local l = tonumber(nx)
      if not closed[l] then return "invalid capture index %" .. l end
      e = i + 2
    else
      e, err = class_end(i)
      local q = e and ssub(p, e, e)
      if q == "*" or q == "+" or q == "-" or q == "?" then e = e + 1 end
    end
    if not e then return err end
    i = e
  end
  if #open > 0 then return "unfinished capture" end
end

function api.match(pattern, fn)
  top_level_only("bot.match")
  checktype(pattern, "string", 1, "match")
  local problem = pattern_problem(pattern)
  local ok, err = pcall(sfind, "", pattern)
  if problem or not ok then
    raise("bot.match: bad pattern '" .. pattern .. "': " .. (problem or sgsub(err, "^.-:%d+: ", "")))
  end
  router.matches[#router.matches + 1] = { pattern = pattern, rule = new_rule(fn, "match", 2) }
end

function api.fallback(fn)
  top_level_only("bot.fallback")
  router.fallback = new_rule(fn, "fallback", 1)
end

function api.on_join(fn)
  top_level_only("bot.on_join")
  router.join = new_rule(fn, "on_join", 1)
end

function api.on_optout(fn)
  top_level_only("bot.on_optout")
  router.optout = new_rule(fn, "on_optout", 1)
end

function api.on_optin(fn)
  top_level_only("bot.on_optin")
  router.optin = new_rule(fn, "on_optin", 1)
end

-- bot.on_event("order.paid", function(c, ev) ... end): a triggered event,
-- posted to POST /v1/bots/<bot>/events, in that contact's conversation
function api.on_event(kind, fn, opts)
  top_level_only("bot.on_event")
  checktype(kind, "string", 1, "on_event")
  if not sfind(kind, "^[%w_%.%-:]+$") then
    argerror(1, "on_event", "event type '" .. kind .. "' may use only letters, digits, _ . - :")
  end
  if ssub(kind, 1, 7) == "parley:" then
    argerror(1, "on_event", "event types that start with 'parley:' are the console's own")
  end
  if router.events[kind] then
    raise("bot.on_event: '" .. kind .. "' already has a handler (" .. place(router.events[kind].where) .. ")")
  end
  router.events[kind] = new_rule(fn, "on_event", 2)
  router.events[kind].mark = handler_mark(opts, 3, "on_event")
end

-- bot.on_status(function(c, st) ... end): a delivery report for a message
-- the bot sent (st.id, st.status, st.error, st.text), in that contact's
-- conversation
function api.on_status(fn)
  top_level_only("bot.on_status")
  if router.status then
    raise("bot.on_status: there is already one (" .. place(router.status.where) .. ")")
  end
  router.status = new_rule(fn, "on_status", 1)
end

-- bot.on_handback(function(c, info) ... end): a person handed back a
-- conversation a handler gave them with c:handoff (info.by: who,
-- info.note: what they wrote, "" if nothing); its messages reach the
-- handlers again from the next one
function api.on_handback(fn)
  top_level_only("bot.on_handback")
  if router.handback then
    raise("bot.on_handback: there is already one (" .. place(router.handback.where) .. ")")
  end
  router.handback = new_rule(fn, "on_handback", 1)
end

-- bot.on_click(function(c, click) ... end): a person opened one of the
-- contact's tracked links ({{link "URL"}}, c:link); click.url, click.message
-- (the id of the message it came in), click.user_agent. Visits by programs
-- (link previews, crawlers) are recorded but do not run it.
function api.on_click(fn)
  top_level_only("bot.on_click")
  if router.click then
    raise("bot.on_click: there is already one (" .. place(router.click.where) .. ")")
  end
  router.click = new_rule(fn, "on_click", 1)
end

function api.handler(name, fn, opts)
  top_level_only("bot.handler")
  checktype(name, "string", 1, "handler")
  if not sfind(name, "^[%w_%.%-]+$") then argerror(1, "handler", "name '" .. name .. "' may use only letters, digits, _ . -") end
  if router.handlers[name] then raise("bot.handler: a handler named '" .. name .. "' already exists (" .. place(router.handlers[name].where) .. ")") end
  router.handlers[name] = new_rule(fn, "handler", 2)
  router.handlers[name].mark = handler_mark(opts, 3, "handler")
end

local config_keys = { -- max_segments: parley check warns about longer static texts
 name = "string", help = "string", numbers = "table", limits = "table", timezone = "string",
  quiet_hours = "table", optout_reply = "string", optin_reply = "string", max_message_chars = "number",
  late_after = "string", broadcast_rate = "number", max_segments = "number", http = "table",
  channels = "table" } -- channels: what parley check holds the bot's sends against
-- bot.config's limits: the field of cfg each sets, what it is read as (a
-- whole number, else parse_amount's units), its range, and what the error
-- says it must be
local bytes = { [""] = 1, b = 1, kb = 1024, kib = 1024, mb = 1048576, mib = 1048576 }
local limit_kinds = {
  instructions = { field = "limit_instructions", min = 1000, max = 1000000000, quoted = false,
    must = "a whole number between 1000 and 1e9" },
  memory = { field = "limit_memory", units = bytes, min = 65536, max = 268435456, quoted = true,
    must = "a size between 64KB and 256MB, like '16MB'" },
  waiting_memory = { field = "limit_waiting_memory", units = bytes, min = 1048576, max = 536870912,
    quoted = true, must = "a size between 1MB and 512MB, like '128MB'" },
  time = { field = "limit_time", units = { [""] = 1, ms = 1, s = 1000 }, min = 1, max = 10000,
    quoted = true, must = "a duration between 1ms and 10s, like '500ms'" },
}

-- 16, "16MB", "500ms", "2s" -> a whole number in the smallest unit
local function parse_amount(v, units)
  if type(v) == "number" then return tointeger(v) end
  if type(v) ~= "string" then return nil end
  local num, unit = smatch(slower(v), "^%s*(%d+%.?%d*)%s*(%a*)%s*$")
  local mult = unit and units[unit]
  if not num or not mult then return nil end
  return tointeger(math.floor(tonumber(num) * mult))
end

-- bot.config{http = {allow = {"api.example.com", "*.example.org"}, timeout = "10s",
-- max_bytes = "1MB"}}: the hosts http.get/post may reach (a "*." entry: any
-- host under that domain, not the domain itself), the default timeout and
-- the largest response body kept.
local http_keys = { allow = "table", timeout = true, max_bytes = true }

-- An http timeout: "10s", "500ms" or a number of seconds -> ms from 1 to
-- 60,000, or nil.
local function http_timeout_ms(v)
  local ms = type(v) == "number" and v * 1000 or type(v) == "string" and host.duration(v)
  ms = ms and tointeger(math.floor(ms))
  if ms and ms >= 1 and ms <= 60000 then return ms end
  return nil
end
local function config_http(h)
  for k in next, h do
    if not http_keys[k] then
      raise("bot.config: unknown http option '" .. tostring(k) .. "' (known: allow, max_bytes, timeout)")
    end
  end
  if h.allow ~= nil then
    local allow = {}
    if type(h.allow) ~= "table" then raise("bot.config: http.allow must be a list of host names") end
    for i, v in ipairs(h.allow) do
      local name = type(v) == "string" and slower(v)
      if not name or not (sfind(name, "^[%w%-%.]+$") or sfind(name, "^%*%.[%w%-%.]+$")) or sfind(name, "%.%.")
          or sfind(name, "^%.") or sfind(name, "%.$") then
        raise("bot.config: http.allow[" .. i .. "] = '" .. tostring(v) ..
          "' is not a host name like api.example.com or *.example.com (no scheme, port or path)")
      end
      allow[#allow + 1] = name
    end
    cfg.http_allow = allow -- a new list replaces the one before, as other keys do
  end
  if h.timeout ~= nil then
    local ms = http_timeout_ms(h.timeout)
    if not ms then
      raise("bot.config: http.timeout = '" .. tostring(h.timeout) ..
        "' must be a duration between 1ms and 60s, like '10s' (a number is seconds)")
    end
    cfg.http_timeout_ms = ms
  end
  if h.max_bytes ~= nil then
    local n = parse_amount(h.max_bytes, { [""] = 1, b = 1, kb = 1024, kib = 1024, mb = 1048576, mib = 1048576 })
    if not n or n < 1 or n > 16777216 then
      raise("bot.config: http.max_bytes = '" .. tostring(h.max_bytes) ..
        "' must be a size between 1 byte and 16MB, like '1MB'")
    end
    cfg.http_max_bytes = n
  end
end

function api.config(t)
  top_level_only("bot.config")
  checktype(t, "table", 1, "config")
  for k, v in next, t do
    local want = config_keys[k]
    if not want then
      local known = {}
      for name in next, config_keys do known[#known + 1] = name end
      table.sort(known)
      raise("bot.config: unknown key '" .. tostring(k) .. "' (known: " .. table.concat(known, ", ") .. ")")
    end
    if type(v) ~= want and not (k == "quiet_hours" and v == false) then
      raise("bot.config: '" .. k .. "' must be a " .. want .. ", got " .. type(v))
    end
    if type(v) == "string" and not U.len(v) then -- texts sent as they are
      raise("bot.config: '" .. k .. "' is not valid UTF-8")
    end
    cfg[k] = v
  end
  -- the runtime reads the list after the freeze, raw: its own copy, not the
  -- script's table (which the freeze may make read-only in place)
  if type(t.numbers) == "table" then
    local list = {}
    for i, n in ipairs(t.numbers) do list[i] = n end
    cfg.numbers = list
  end
  for i, n in ipairs(cfg.numbers) do
    local e164 = type(n) == "string" and sfind(n, "^%+%d%d%d%d+$") and #n <= 16
    local short_code = type(n) == "string" and sfind(n, "^%d%d%d+$") and #n <= 8
    if not (e164 or short_code) then
      raise("bot.config: numbers[" .. i .. "] = '" .. tostring(n) ..
        "' is not an E.164 number like +15550100 or a short code of 3 to 8 digits like 72345")
    end
  end
  if t.limits ~= nil then -- a new limits table replaces the one before
    for _, kind in next, limit_kinds do cfg[kind.field] = nil end
  end
  for k, v in next, cfg.limits do
    local kind = limit_kinds[k]
    if not kind then raise("bot.config: unknown limit '" .. tostring(k) .. "' (known: instructions, memory, time, waiting_memory)") end
    local n
    if kind.units then n = parse_amount(v, kind.units) else n = tointeger(v) end
    if not n or n < kind.min or n > kind.max then
      local shown = kind.quoted and "'" .. tostring(v) .. "'" or tostring(v)
      raise("bot.config: limits." .. k .. " = " .. shown .. " must be " .. kind.must)
    end
    cfg[kind.field] = n
  end
  if t.quiet_hours == false then
    cfg.quiet_start, cfg.quiet_end = 0, 0
  elseif t.quiet_hours ~= nil then
    local q = t.quiet_hours
    if type(q[1]) ~= "string" or type(q[2]) ~= "string" or q[3] ~= nil then
      raise("bot.config: quiet_hours must be two times, like {\"21:00\", \"09:00\"}, or false")
    end
    local a, b = host.quiet_minutes(q[1], q[2])
    if not a then raise("bot.config: " .. b) end
    cfg.quiet_start, cfg.quiet_end = a, b
  end
  if t.broadcast_rate ~= nil and (t.broadcast_rate <= 0 or t.broadcast_rate > 1000) then
    raise("bot.config: broadcast_rate must be messages per second, more than 0 and at most 1000")
  end
  if t.channels ~= nil then
    local known = { sms = true, whatsapp = true, messenger = true, instagram = true }
    for i = 1, #t.channels do
      if not known[t.channels[i]] then
        raise("bot.config: channels[" .. i .. "] must be sms, whatsapp, messenger or instagram")
      end
    end
  end
  if t.max_segments ~= nil and (not tointeger(t.max_segments) or t.max_segments < 1) then
    raise("bot.config: max_segments must be a whole number of 1 or more")
  end
  if t.late_after ~= nil then
    local ms = host.duration(t.late_after)
    if not ms then raise("bot.config: late_after = '" .. t.late_after .. "' is not a duration like 6h") end
    cfg.late_ms = ms
  end
  if t.http ~= nil then config_http(t.http) end
  if cfg.timezone ~= nil and not host.valid_zone(cfg.timezone) then
    raise("bot.config: timezone '" .. cfg.timezone .. "' is not a time zone (use a name like America/New_York)")
  end
  if not tointeger(cfg.max_message_chars) or cfg.max_message_chars < 1 or cfg.max_message_chars > 1600 then
    raise("bot.config: max_message_chars must be a whole number between 1 and 1600")
  end
end

local function in_handler(fname)
  if cur.loading then raise(fname .. " is available only inside handlers") end
end

function api.now()
  in_handler("bot.now")
  return host_now()
end

function api.log(...)
  in_handler("bot.log")
  local parts = pack(...)
  for i = 1, parts.n do
    local v = parts[i]
    local t = type(v)
    if t ~= "string" and t ~= "number" and t ~= "boolean" and t ~= "nil" then v = "<" .. t .. ">" end
    parts[i] = tostring(v)
  end
  host_log(T.concat(parts, " ", 1, parts.n))
end

-- ---------------------------------------------------------------- timers

-- "90s", "2h", or a number of seconds -> milliseconds
local function duration_ms(v, n, fname)
  if type(v) == "number" then
    if v ~= v or v < 0 or v > 3153600000 then argerror(n, fname, "a duration from 0 to 100 years") end
    return math.floor(v * 1000)
  end
  if type(v) ~= "string" then argerror(n, fname, "duration expected (like \"90s\", \"2h\", \"3d\"), got " .. type(v)) end
  local ms = host.duration(v)
  if not ms then raise(fname .. ": '" .. v .. "' is not a duration (use 90s, 15m, 2h, 3d, 1w or a number of seconds)") end
  return ms
end

-- The latest time a script may name: the end of 9999 in seconds since 1970
-- (CLOCK_MAX_SECONDS in runtime/core/clock.h); its milliseconds fit in 64 bits.
local MAX_SECONDS = 253402300799
local TIME_RANGE = "a time in seconds since 1970, from 0 to 253402300799 (the end of 9999)"

-- seconds since 1970 -> milliseconds, or nil if v is not a number in range
local function epoch_ms(v)
  if type(v) ~= "number" or v ~= v or v < 0 or v > MAX_SECONDS then return nil end
  return tointeger(math.floor(v * 1000))
end

local function add_timer(due, name, args, fname)
  checktype(name, "string", 2, fname)
  if not router.handlers[name] then
    raise(fname .. ": no handler named '" .. name .. "' (define it with bot.handler)")
  end
  local json = "null"
  if args ~= nil then
    local ok, j = pcall(encode, args, fname .. " args", 16384)
    if not ok then raise(j) end
    json = j
  end
  local id, err = host.timer_add(due, name, json)
  if not id then raise(err) end
  return id
end

-- The zone times in this handler mean: the contact's (as this handler may
-- just have set it), else what the runtime knows for them, else the bot's.
local function current_zone()
  local tz = cur.c and rawget(cur.c, "timezone")
  if type(tz) == "string" and host.valid_zone(tz) then return tz end
  return host.zone()
end

function api.after(dur, name, args)
  in_handler("bot.after")
  return add_timer(host.now_ms() + duration_ms(dur, 1, "bot.after"), name, args, "bot.after")
end

function api.at(time, name, args)
  in_handler("bot.at")
  local due
  if type(time) == "number" then
    due = epoch_ms(time)
    if not due then argerror(1, "at", TIME_RANGE) end
  elseif type(time) == "string" then
    local ms, err = host.local_ms(time, current_zone())
    if not ms then raise("bot.at: " .. err) end
    due = ms
  else
    argerror(1, "at", "time expected (seconds since 1970, or \"2026-03-02 10:00\" in the contact's zone), got " .. type(time))
  end
  return add_timer(due, name, args, "bot.at")
end

function api.every(spec, name)
  top_level_only("bot.every")
  checktype(spec, "string", 1, "every")
  checktype(name, "string", 2, "every")
  local ok, err = host.schedule_check(spec)
  if not ok then raise("bot.every: " .. err) end
  router.every[#router.every + 1] = { spec = spec, handler = name, where = where(2) }
end

-- what the parts loaded after this one use
I.TIME_RANGE, I.api, I.cfg, I.current_zone = TIME_RANGE, api, cfg, current_zone
I.duration_ms, I.epoch_ms, I.first_word = duration_ms, epoch_ms, first_word
I.http_timeout_ms, I.in_handler, I.mark_of = http_timeout_ms, in_handler, mark_of
I.match_cased, I.normalize, I.place, I.router = match_cased, normalize, place, router
