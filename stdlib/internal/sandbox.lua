-- The trusted side of a bot's Lua VM.
--
-- Runs once per VM with the full standard library, before any bot code. It
-- builds the environment bot scripts see (an allow-list of libraries, the
-- `bot` API), loads the bot, freezes everything the bot's top level left
-- behind, and routes each message to a handler. Everything it needs later is
-- captured in locals here, so nothing a script does can replace it.
local host, debug = ...

local type, next, select, error, tostring, tonumber = type, next, select, error, tostring, tonumber
local rawget, rawequal, rawlen, pcall, load = rawget, rawequal, rawlen, pcall, load
local raw_setmetatable, getmetatable = setmetatable, getmetatable
local rawset = rawset
local pack, unpack = table.pack, table.unpack
local tointeger = math.tointeger
local slower, ssub, sbyte, sformat = string.lower, string.sub, string.byte, string.format
-- string's pattern functions and the table functions are sandbox_lib.c's
-- (bounded, charged), put in the VM's own libraries before this runs
local sfind, smatch, sgsub, sgmatch = string.find, string.match, string.gsub, string.gmatch
local dgetupvalue, dgetinfo, dgetmetatable = debug.getupvalue, debug.getinfo, debug.getmetatable
local dupvalueid = debug.upvalueid
local dsetmetatable = debug.setmetatable
local encode, decode, charge = host.encode, host.decode, host.charge
local host_send, host_log, host_now, host_store = host.send, host.log, host.now, host.store_json
local host_rule = host.rule -- tells the host which rule takes a message

local rt = {}
local frozen = raw_setmetatable({}, { __mode = "k" }) -- frozen table -> true
rt.frozen = frozen
local trusted = raw_setmetatable({}, { __mode = "k" }) -- runtime values the freeze skips

local loading = true -- the bot's top level is running
-- The running invocation's contact and its private data. One invocation
-- runs at a time in a VM; a contact object kept past its invocation (in a
-- closure) no longer matches and its methods refuse to work.
local cur_c, cur_p
local cur_rule -- the handler that runs, for errors raised after it returned
local folder = "."    -- the bot's folder, for file names in messages

-- ---------------------------------------------------------------- errors

local prelude_src = dgetinfo(1, "S").short_src

-- Raises msg at the bot's own line: the first caller that is neither this
-- file nor C, so an API misuse points at the script, not at the runtime.
local function raise(msg)
  for level = 2, 60 do
    local info = dgetinfo(level, "Sl")
    if not info then break end
    if info.what ~= "C" and info.short_src ~= prelude_src and (info.currentline or 0) > 0 then
      error(info.short_src .. ":" .. info.currentline .. ": " .. msg, 0)
    end
  end
  error(msg, 0)
end

local function where(level)
  local info = dgetinfo(level + 1, "Sl")
  if info and info.currentline and info.currentline > 0 then
    return info.short_src .. ":" .. info.currentline .. ": "
  end
  return ""
end

local function argerror(n, fname, msg)
  raise(sformat("bad argument #%d to '%s' (%s)", n, fname, msg))
end

local function checktype(v, want, n, fname)
  local t = type(v)
  if t ~= want then argerror(n, fname, want .. " expected, got " .. (v == nil and "no value" or t)) end
end

local function top_level_only(fname)
  if not loading then
    raise(fname .. " can only be called at the top level of the script, while it loads")
  end
end

-- ---------------------------------------------------------------- libraries

local function copy(src, names)
  local t = {}
  for _, k in ipairs(names) do t[k] = src[k] end
  return t
end

local S = copy(string, { "byte", "char", "format", "len", "lower", "upper", "reverse", "sub",
  "pack", "packsize", "unpack", "rep", "find", "match", "gmatch", "gsub" })

local T = copy(table, { "concat", "pack", "insert", "remove", "move", "unpack", "sort" })

local M = {}
for k, v in next, math do M[k] = v end
-- one conversation must not make another's numbers predictable: the host
-- seeds math.random afresh for each handler (sandbox.c, sandbox_seed_random)
M.randomseed = function()
  raise("math.randomseed is not available to bots: each handler's math.random is seeded " ..
    "afresh (for repeatable numbers in a transcript, write @seed N; in parley sim, /seed N)")
end

local U = {}
for k, v in next, utf8 do U[k] = v end

-- coroutine.close is left out: in Lua 5.4.4 a chain of coroutines closed
-- from __close handlers overflows the C stack. wrap (sandbox.c) does not
-- reset a failed coroutine for the same reason; resume tells the watchdog
-- which coroutine runs; running, isyieldable and yield treat the handler's
-- own coroutine as Lua's main thread.
local C = copy(coroutine, { "create", "resume", "running", "status", "yield", "isyieldable", "wrap" })

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
local function place(w) return smatch(w, "^(.-): $") or w end

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
  late_after = "string", broadcast_rate = "number", max_segments = "number", http = "table" }
local limit_keys = { instructions = true, memory = true, time = true, waiting_memory = true }

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
    cfg.limit_instructions, cfg.limit_memory, cfg.limit_time = nil, nil, nil
    cfg.limit_waiting_memory = nil
  end
  for k, v in next, cfg.limits do
    if not limit_keys[k] then raise("bot.config: unknown limit '" .. tostring(k) .. "' (known: instructions, memory, time, waiting_memory)") end
    if k == "instructions" then
      local n = tointeger(v)
      if not n or n < 1000 or n > 1000000000 then
        raise("bot.config: limits.instructions = " .. tostring(v) .. " must be a whole number between 1000 and 1e9")
      end
      cfg.limit_instructions = n
    elseif k == "memory" then
      local n = parse_amount(v, { [""] = 1, b = 1, kb = 1024, kib = 1024, mb = 1048576, mib = 1048576 })
      if not n or n < 65536 or n > 268435456 then
        raise("bot.config: limits.memory = '" .. tostring(v) .. "' must be a size between 64KB and 256MB, like '16MB'")
      end
      cfg.limit_memory = n
    elseif k == "waiting_memory" then
      local n = parse_amount(v, { [""] = 1, b = 1, kb = 1024, kib = 1024, mb = 1048576, mib = 1048576 })
      if not n or n < 1048576 or n > 536870912 then
        raise("bot.config: limits.waiting_memory = '" .. tostring(v) .. "' must be a size between 1MB and 512MB, like '128MB'")
      end
      cfg.limit_waiting_memory = n
    else
      local n = parse_amount(v, { [""] = 1, ms = 1, s = 1000 })
      if not n or n < 1 or n > 10000 then
        raise("bot.config: limits.time = '" .. tostring(v) .. "' must be a duration between 1ms and 10s, like '500ms'")
      end
      cfg.limit_time = n
    end
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
  if loading then raise(fname .. " is available only inside handlers") end
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
  local tz = cur_c and rawget(cur_c, "timezone")
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

-- ---------------------------------------------------------------- drips

local drips = {}        -- name -> { steps, stop_on_reply, where }
local reply_stoppers = {} -- handler names of drips that stop when the fan replies

local function hhmm(v, what)
  if v == nil then return nil end
  local h, m = smatch(type(v) == "string" and v or "", "^(%d%d?):(%d%d)$")
  if not h or tonumber(h) > 23 or tonumber(m) > 59 then
    raise(what .. " = '" .. tostring(v) .. "' is not a time like \"10:00\"")
  end
  return v
end

local step_keys = { after = true, before = true, of = true, at = true, from = true, text = true, call = true,
  args = true, urgent = true, transactional = true }

-- Template filters: {{url fields.x}} inserts the value percent-encoded for a
-- URL (RFC 3986: every byte but the unreserved A-Z a-z 0-9 - . _ ~, so
-- UTF-8 text is encoded byte by byte). A {{WORD name}} whose name is a
-- template's (fields., tags., number, bot.) and whose WORD is no filter is
-- an error naming it: at load for drip texts, when sent for the others.
local template_filters = {
  url = function(s)
    return (sgsub(s, "[^A-Za-z0-9%-%._~]", function(ch) return sformat("%%%02X", sbyte(ch)) end))
  end,
}
local template_roots = { fields = true, tags = true, number = true, bot = true }

-- The problem with text's filters ("template {{x fields.y}}: unknown filter
-- 'x' (known: url)"), or nil.
local function template_problem(text)
  for f, name in sgmatch(text, "{{%s*([%a_][%w_]*)%s+([%w_%.]+)%s*}}") do
    if not template_filters[f] and template_roots[smatch(name, "^[^%.]+")] then
      local known = {}
      for k in next, template_filters do known[#known + 1] = k end
      table.sort(known)
      return "template {{" .. f .. " " .. name .. "}}: unknown filter '" .. f ..
        "' (known: " .. table.concat(known, ", ") .. ")"
    end
  end
end

rt.template_problem = template_problem -- an admin-API broadcast's text, when created

function api.drip(name, steps, options)
  top_level_only("bot.drip")
  checktype(name, "string", 1, "drip")
  checktype(steps, "table", 2, "drip")
  if drips[name] then raise("bot.drip: a drip named '" .. name .. "' already exists (" .. place(drips[name].where) .. ")") end
  if #steps == 0 then raise("bot.drip('" .. name .. "'): no steps") end
  local def = { steps = {}, where = where(2) }
  for i = 1, #steps do
    local st = steps[i]
    local what = "bot.drip('" .. name .. "') step " .. i
    if type(st) ~= "table" then raise(what .. " is a " .. type(st) .. ", not a table") end
    for k in next, st do
      if not step_keys[k] then raise(what .. ": unknown key '" .. tostring(k) .. "' (known: after, before, of, at, from, text, call, args, urgent, transactional)") end
    end
    if (st.text == nil) == (st.call == nil) then raise(what .. ": give exactly one of text or call") end
    if st.text ~= nil and type(st.text) ~= "string" then raise(what .. ": text must be a string") end
    local problem = st.text and template_problem(st.text)
    if problem then raise(what .. ": " .. problem) end
    if st.call ~= nil and type(st.call) ~= "string" then raise(what .. ": call must be a handler name") end
    local d = { text = st.text, call = st.call, at = hhmm(st.at, what .. ": at"),
      mark = mark_of(st, function(msg) raise(what .. ": " .. msg) end) }
    if st.args ~= nil then
      -- data, as bot.after's: each call of the step's handler gets its own
      -- copy, decoded from this (the script's table is shared by everyone)
      local ok, json = pcall(encode, st.args, what .. ": args", 16384)
      if not ok then raise(json) end
      d.args_json = json
    end
    if st.after ~= nil then d.after = duration_ms(st.after, 2, what .. ": after") end
    local offset = st.before or st.after -- as written, for parley check's warnings
    d.offset_text = offset and (type(offset) == "number" and offset .. "s" or offset)
    if st.before ~= nil then d.before = duration_ms(st.before, 2, what .. ": before") end
    if st.of ~= nil then
      if type(st.of) ~= "string" or not smatch(st.of, "^fields%.[%w_]+$") then
        raise(what .. ": of = '" .. tostring(st.of) .. "' must name a contact field, like \"fields.appointment_at\"")
      end
      d.of = ssub(st.of, 8)
    elseif d.before then
      raise(what .. ": 'before' needs 'of' (the date field it counts back from)")
    end
    if st.from ~= nil and st.from ~= "start" and st.from ~= "previous" then
      raise(what .. ": from must be \"start\" or \"previous\"")
    end
    d.from = st.from or "previous"
    if not d.of and not d.after and not d.at then raise(what .. ": say when (after = \"1h\", or of = \"fields.x\" with before/after)") end
    def.steps[i] = d
  end
  if options ~= nil then
    checktype(options, "table", 3, "drip")
    for k, v in next, options do
      if k == "stop_on_reply" then
        def.stop_on_reply = v and true or false
      elseif k == "stop_on" then
        if v ~= "optout" then raise("bot.drip: stop_on = '" .. tostring(v) .. "' (only \"optout\", which is always implied)") end
      else
        raise("bot.drip: unknown option '" .. tostring(k) .. "' (known: stop_on_reply, stop_on)")
      end
    end
  end
  drips[name] = def
  if def.stop_on_reply then reply_stoppers[#reply_stoppers + 1] = "drip:" .. name end
end

-- When step i of a drip is due, or nil if it cannot be (a date field that is
-- missing or not a date). prev: the time of the step before (or the start).
local function step_due(d, prev, started, c)
  local zone = current_zone()
  local t
  if d.of then
    local v = c and c.fields[d.of]
    if type(v) ~= "string" then return nil end
    if smatch(v, "^%d%d%d%d%-%d%d%-%d%d$") then v = v .. " 00:00" end
    local base = host.local_ms(v, zone)
    if not base then return nil end
    t = base + (d.after or 0) - (d.before or 0)
  else
    t = (d.from == "start" and started or prev) + (d.after or 0)
  end
  if d.at then t = host.local_ms(host.local_date(t, zone) .. " " .. d.at, zone, true) end
  return t
end

-- Schedules the first step from `from` on that can still come (a step
-- counted from a date field that has passed is skipped).
local function schedule_step(name, def, from, prev, started, c)
  local now = host.now_ms()
  for i = from, #def.steps do
    local due = step_due(def.steps[i], prev, started, c)
    if due and (due >= now or not def.steps[i].of) then
      local id, err = host.timer_add(due, "drip:" .. name, encode({ step = i, started = started }, "drip"), "drip")
      if not id then raise(err) end
      return id
    end
  end
end

local function drip_start(c, name)
  checktype(name, "string", 1, "start_drip")
  local def = drips[name]
  if not def then raise("c:start_drip('" .. name .. "'): no drip named '" .. name .. "' (define it with bot.drip)") end
  local ok, err = host.drips_stop("drip:" .. name) -- starting again restarts it
  if not ok then raise(err) end
  local now = host.now_ms()
  return schedule_step(name, def, 1, now, now, c)
end

local function drip_stop(c, name)
  checktype(name, "string", 1, "stop_drip")
  if not drips[name] then raise("c:stop_drip('" .. name .. "'): no drip named '" .. name .. "'") end
  local ok, err = host.drips_stop("drip:" .. name)
  if not ok then raise(err) end
end

-- ---------------------------------------------------------------- segments

local segment_special = { tags = true, status = true, joined_after = true, joined_before = true }

-- A field's range in a segment: numbers (min, max: inclusive) or dates
-- (after: inclusive, before: exclusive; "YYYY-MM-DD", with " HH:MM[:SS]").
local range_kinds = { min = "number", max = "number", after = "date", before = "date" }

local function segment_range(k, v, fname)
  local out, kinds, what = {}, {}, fname .. ": segment " .. k .. ": "
  for rk, rv in next, v do
    local kind = range_kinds[rk]
    if not kind then
      raise(what .. "unknown key '" .. tostring(rk) .. "' (a range has min, max, after, before)")
    end
    if kind == "number" then
      if type(rv) ~= "number" or rv ~= rv or rv == math.huge or rv == -math.huge then
        raise(what .. rk .. " must be a number, not " .. type(rv))
      end
    elseif type(rv) ~= "string" or not (smatch(rv, "^%d%d%d%d%-%d%d%-%d%d$")
        or smatch(rv, "^%d%d%d%d%-%d%d%-%d%d[ T]%d%d:%d%d$")
        or smatch(rv, "^%d%d%d%d%-%d%d%-%d%d[ T]%d%d:%d%d:%d%d$")) then
      raise(what .. rk .. " = '" .. tostring(rv) .. "' is not a date like \"2008-12-05\" (or \"2008-12-05 10:00\")")
    else
      rv = (sgsub(rv, "T", " "))
    end
    kinds[kind] = true
    out[rk] = rv
  end
  if kinds.number and kinds.date then
    raise(what .. "a range is of numbers (min, max) or of dates (after, before), not both")
  end
  if next(out) == nil then raise(what .. "an empty range (use min, max, after or before)") end
  return out
end

-- A segment filter as canonical JSON: { city = "Austin", tags = "vip",
-- status = "subscribed", joined_after = "2026-01-01", age = { min = 18 } }.
local function segment_json(q, fname)
  if q == nil then q = {} end
  if type(q) ~= "table" then argerror(1, fname, "segment table expected, got " .. type(q)) end
  local out = {}
  for k, v in next, q do
    if type(k) ~= "string" or not smatch(k, "^[%w_]+$") then
      raise(fname .. ": segment key '" .. tostring(k) .. "' must be a field name (letters, digits, _)")
    end
    if k == "tags" then
      local list = type(v) == "string" and { v } or v
      if type(list) ~= "table" or #list == 0 then raise(fname .. ": tags must be a tag name or a list of them") end
      for i = 1, #list do
        if type(list[i]) ~= "string" then raise(fname .. ": tags[" .. i .. "] is not a string") end
      end
      out.tags = list
    elseif k == "status" then
      if v ~= "subscribed" and v ~= "opted_out" and v ~= "not_opted_in" then
        raise(fname .. ": status = '" .. tostring(v) ..
          "' (use \"subscribed\", \"not_opted_in\" or \"opted_out\")")
      end
      out.status = v
    elseif k == "joined_after" or k == "joined_before" then
      local ms
      if type(v) == "number" then
        ms = epoch_ms(v)
        if not ms then raise(fname .. ": " .. k .. " must be " .. TIME_RANGE) end
      elseif type(v) == "string" then
        local text = smatch(v, "^%d%d%d%d%-%d%d%-%d%d$") and v .. " 00:00" or v
        local err
        ms, err = host.local_ms(text, cfg.timezone or "UTC")
        if not ms then raise(fname .. ": " .. k .. ": " .. err) end
      else
        raise(fname .. ": " .. k .. " must be a date like \"2026-01-01\"")
      end
      out[k] = ms
    else
      local t = type(v)
      if t == "table" then
        out[k] = segment_range(k, v, fname)
      elseif t ~= "string" and t ~= "number" and t ~= "boolean" then
        raise(fname .. ": segment " .. k .. " must be a string, number, boolean or range, not " .. t)
      else
        out[k] = v
      end
    end
  end
  return encode(out, "segment")
end

-- for c in bot.contacts{ city = "Austin" } do ... end: read-only views of the
-- matching contacts (the store as of the last commit), in the order they joined
function api.contacts(q)
  in_handler("bot.contacts")
  local seg = segment_json(q, "bot.contacts")
  local page, i, after = {}, 0, 0
  return function()
    i = i + 1
    if page[i] == nil then
      page = host.contacts_page(seg, after, 200)
      i = 1
      if page[1] == nil then return nil end
    end
    local v = page[i]
    after = v.id
    return v
  end
end

-- bot.broadcast{ segment = {...}, text = "...", at = time, rate = per second }
function api.broadcast(t)
  in_handler("bot.broadcast")
  checktype(t, "table", 1, "broadcast")
  for k in next, t do
    if k ~= "segment" and k ~= "text" and k ~= "at" and k ~= "rate" then
      raise("bot.broadcast: unknown key '" .. tostring(k) .. "' (known: segment, text, at, rate)")
    end
  end
  local seg = segment_json(t.segment, "bot.broadcast")
  if type(t.text) ~= "string" or t.text == "" then raise("bot.broadcast: text must be a non-empty string") end
  local problem = template_problem(t.text)
  if problem then raise("bot.broadcast: " .. problem) end
  local start = host.now_ms()
  if type(t.at) == "number" then
    start = epoch_ms(t.at)
    if not start then raise("bot.broadcast: at must be " .. TIME_RANGE) end
  elseif type(t.at) == "string" then
    local ms, err = host.local_ms(t.at, cfg.timezone or "UTC")
    if not ms then raise("bot.broadcast: at: " .. err) end
    start = ms
  elseif t.at ~= nil then
    raise("bot.broadcast: at must be a time (seconds, or \"2026-03-02 20:00\" in the bot's zone)")
  end
  local rate = t.rate or cfg.broadcast_rate or 10
  if type(rate) ~= "number" or rate <= 0 or rate > 1000 then
    raise("bot.broadcast: rate = " .. tostring(rate) .. " must be messages per second, more than 0 and at most 1000")
  end
  local id, err = host.broadcast_add(seg, t.text, start, rate)
  if not id then raise(err) end
  return id
end

-- { status = "scheduled"|"running"|"done", sent, held, suppressed, failed }
function api.broadcast_status(id)
  in_handler("bot.broadcast_status")
  local n = tointeger(id)
  if not n then argerror(1, "broadcast_status", "broadcast id expected, got " .. type(id)) end
  return host.broadcast_get(n)
end

function api.cancel(id)
  in_handler("bot.cancel")
  local n = tointeger(id)
  if not n then argerror(1, "cancel", "timer id expected, got " .. type(id)) end
  local ok, err = host.timer_cancel(n)
  if not ok then raise(err) end
end

-- ---------------------------------------------------------------- templates

-- {{fields.city}}, {{tags.vip}}, {{number}}, {{bot.name}}: a missing value
-- expands to ""; any other {{...}} stays as written. Only what a template names is loaded. c.state is not
-- reachable: a text can contain what the fan wrote ("You said: " ..
-- msg.text), so a template must not reveal anything the fan did not give.
local function lookup(c, path)
  local v
  local first, rest = smatch(path, "^([^%.]+)%.?(.*)$")
  if first == "bot" then
    v = { name = cfg.name or smatch(folder, "([^/]+)/*$") }
  elseif first == "number" then
    v = c and rawget(c, "number")
  elseif c and (first == "fields" or first == "tags") then
    v = c[first]
  else
    return nil, true -- not a template name: the text stays as written
  end
  for part in sgmatch(rest, "[^%.]+") do
    if type(v) ~= "table" then return nil end
    v = rawget(v, tointeger(tonumber(part)) or part)
  end
  return v
end

local function expand(text, c)
  if not sfind(text, "{{", 1, true) then return text end
  local problem = template_problem(text)
  if problem then raise(problem) end
  -- one pass: an inserted value is never expanded again
  return (sgsub(text, "{{([^{}]*)}}", function(inside)
    local filter, name = nil, smatch(inside, "^%s*([%w_%.]+)%s*$")
    if not name then filter, name = smatch(inside, "^%s*([%a_][%w_]*)%s+([%w_%.]+)%s*$") end
    if not name then return nil end
    local v, unknown = lookup(c, name)
    if unknown then return nil end
    local t = type(v)
    v = (t == "string" or t == "number" or t == "boolean") and tostring(v) or ""
    if filter then v = template_filters[filter](v) end
    return v
  end))
end
rt.expand = expand

-- ---------------------------------------------------------------- conversations

local function text_arg(v, n, fname)
  local t = type(v)
  if t == "number" then return tostring(v) end
  if t ~= "string" then argerror(n, fname, "string expected, got " .. (v == nil and "no value" or t)) end
  return v
end

-- opts.media: up to 10 http(s) URLs of pictures etc. (MMS), as JSON
local function media_opt(media, n, fname)
  if type(media) == "string" then media = { media } end
  if type(media) ~= "table" then argerror(n, fname, "media: a URL or a list of URLs expected, got " .. type(media)) end
  local urls = {}
  for i = 1, #media do
    local u = media[i]
    if type(u) ~= "string" or #u > 1024 or not (sfind(u, "^https?://[^%s]+$")) then
      argerror(n, fname, "media[" .. i .. "] is not an http(s) URL of at most 1024 characters")
    end
    urls[i] = u
  end
  if #urls > 10 then argerror(n, fname, "media: at most 10 URLs, got " .. #urls) end
  if #urls == 0 then return nil end
  return encode(urls, "media")
end

-- transactional (boolean), media (JSON or nil), urgent (boolean)
local function send_opts(opts, n, fname)
  if opts == nil then return false, nil, false end
  if type(opts) ~= "table" then argerror(n, fname, "table of options expected, got " .. type(opts)) end
  for k in next, opts do
    if k ~= "transactional" and k ~= "media" and k ~= "urgent" then
      argerror(n, fname, "unknown option '" .. tostring(k) .. "' (known: transactional, urgent, media)")
    end
  end
  local media = rawget(opts, "media")
  return rawget(opts, "transactional") and true or false, media ~= nil and media_opt(media, n, fname) or nil,
    rawget(opts, "urgent") and true or false
end

-- host.send returns the message's status, or nil and a sentence. What a
-- handler marked urgent or transactional sends is so marked (cur_rule.mark).
local function deliver(to, text, kind, transactional, media, urgent)
  in_handler(kind)
  local mark = cur_rule and cur_rule.mark
  local status, err = host_send(to, text, kind, transactional or mark == "transactional", media,
    urgent or mark == "urgent")
  if not status then raise(err) end
  return status
end

local methods = {}

function methods.reply(c, text, opts)
  local p = c == cur_c and cur_p
  if not p then raise("reply: not a contact of this message") end
  local tr, media, urgent = send_opts(opts, 2, "reply")
  return deliver(nil, expand(text_arg(text, 1, "reply"), c), "reply", tr, media, urgent)
end

function methods.send(c, text, opts)
  local p = c == cur_c and cur_p
  if not p then raise("send: not a contact of this message") end
  local tr, media, urgent = send_opts(opts, 2, "send")
  return deliver(nil, expand(text_arg(text, 1, "send"), c), "send", tr, media, urgent)
end

function methods.expect(c, name)
  local p = c == cur_c and cur_p
  if not p then raise("expect: not a contact of this message") end
  if name == nil then
    p.expect = false
    return
  end
  checktype(name, "string", 1, "expect")
  if not router.handlers[name] then
    raise("c:expect('" .. name .. "'): no handler named '" .. name .. "' (define it with bot.handler)")
  end
  p.expect = name
end

function methods.tag(c, ...)
  local tags = c.tags
  for i = 1, select("#", ...) do
    local name = select(i, ...)
    checktype(name, "string", i, "tag")
    tags[name] = true
  end
end

function methods.untag(c, ...)
  local tags = c.tags
  for i = 1, select("#", ...) do
    local name = select(i, ...)
    checktype(name, "string", i, "untag")
    tags[name] = nil
  end
end

function methods.has_tag(c, name)
  checktype(name, "string", 1, "has_tag")
  return c.tags[name] == true
end

methods.start_drip = drip_start
methods.stop_drip = drip_stop

-- What `return c:continue()` hands back from bot.on_join: the message then
-- goes on to the rest of the routing (rt.dispatch). A value of its own, so
-- nothing a script returns can be mistaken for it.
local continue_token = raw_setmetatable({}, { __metatable = false,
  __newindex = function() raise("the value of c:continue() cannot be changed") end,
  __tostring = function() return "c:continue()" end })
frozen[continue_token] = true

function methods.continue(c)
  if not (c == cur_c and cur_p) then raise("continue: not a contact of this message") end
  return continue_token
end

local contact_mt = { __metatable = false }
contact_mt.__index = function(c, k)
  local m = methods[k]
  if m then return m end
  local p = c == cur_c and cur_p
  if not p then return nil end
  if k == "fields" or k == "state" then
    local v = decode(p[k .. "_json"])
    if type(v) ~= "table" then v = {} end
    rawset(c, k, v)
    return v
  elseif k == "tags" then
    local v = {}
    local list = decode(p.tags_json)
    if type(list) == "table" then
      for i = 1, #list do v[list[i]] = true end
    end
    rawset(c, "tags", v)
    return v
  end
  return nil
end

local function encode_tags(tags)
  if type(tags) ~= "table" or getmetatable(tags) ~= nil then error("c.tags must be a table of tag names", 0) end
  local list = {}
  for k, v in next, tags do
    if type(k) ~= "string" then error("c.tags: tag names must be strings, got a " .. type(k), 0) end
    if v ~= true and v ~= false then error("c.tags." .. k .. ": set tags to true (or nil to remove them)", 0) end
    if v then list[#list + 1] = k end
  end
  if #list == 0 then return "[]" end
  table.sort(list)
  return encode(list, "c.tags")
end

-- "; did you mean bot.keyword?" for bot.keywrd: the API name the fewest
-- edits away (insertions, deletions, changes, swaps of neighbours), if it
-- is close enough to be a slip; "" otherwise.
local function edit_distance(a, b)
  local prev2, prev, cur = nil, {}, nil
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    cur = { [0] = i }
    for j = 1, #b do
      local cost = sbyte(a, i) == sbyte(b, j) and 0 or 1
      local d = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
      if prev2 and i > 1 and j > 1 and sbyte(a, i) == sbyte(b, j - 1) and sbyte(a, i - 1) == sbyte(b, j) then
        d = math.min(d, prev2[j - 2] + 1)
      end
      cur[j] = d
    end
    prev2, prev = prev, cur
  end
  return prev[#b]
end

local function nearest_api_name(k)
  if type(k) ~= "string" or #k > 64 then return "" end
  local best, best_d = nil, 3
  local names = { "store" }
  for name in next, api do names[#names + 1] = name end
  for _, name in ipairs(names) do
    local d = edit_distance(slower(k), name)
    if d < best_d or (d == best_d and best and name < best) then best, best_d = name, d end
  end
  if best and best_d * 2 < #k then return "; did you mean bot." .. best .. "?" end
  return ""
end

-- bot.store: the bot's stored table, decoded afresh for each invocation
local cur_store -- nil until a handler touches bot.store
local cur_store_base -- the JSON it was decoded from
local bot = {}
local bot_mt = { __metatable = false }
bot_mt.__index = function(_, k)
  if k == "store" then
    if loading then raise("bot.store is available only inside handlers") end
    if cur_store == nil then
      cur_store_base = host_store()
      cur_store = decode(cur_store_base)
      if type(cur_store) ~= "table" then cur_store = {} end
    end
    return cur_store
  end
  local f = api[k]
  if f == nil then raise("bot." .. tostring(k) .. " does not exist" .. nearest_api_name(k)) end
  return f
end
bot_mt.__newindex = function(_, k)
  raise("bot." .. tostring(k) .. " cannot be assigned (put shared data in fields of bot.store)")
end
raw_setmetatable(bot, bot_mt)
-- rawset would skip __newindex: refused from the start, while the script
-- loads too (a field planted there would be shared by all conversations)
frozen[bot] = true

local function global_send(number, text, opts)
  checktype(number, "string", 1, "send")
  local tr, media, urgent = send_opts(opts, 3, "send")
  return deliver(number, expand(text_arg(text, 2, "send"), nil), "send", tr, media, urgent)
end

-- ---------------------------------------------------------------- http

-- While a handler waits for a response, other conversations run in the same
-- VM: the running invocation's state (cur_c, cur_p, cur_rule, cur_store) is
-- put back when it resumes. bot.store may have been changed meanwhile by
-- another handler: the waiting handler's table is brought up to date in place,
-- keeping the keys it changed itself (compared with what it first read).
local function same_value(a, b)
  if a == b then return true end
  if type(a) ~= "table" or type(b) ~= "table" then return false end
  local ok1, ja = pcall(encode, a, "bot.store", 1048576, 100000)
  local ok2, jb = pcall(encode, b, "bot.store", 1048576, 100000)
  return ok1 and ok2 and ja == jb
end

local function rebase_store(store, base_json)
  local now_json = host_store()
  if now_json == base_json then return base_json end
  local base_t, fresh = decode(base_json), decode(now_json)
  if type(base_t) ~= "table" then base_t = {} end
  if type(fresh) ~= "table" then fresh = {} end
  local keys = {}
  for k in next, store do keys[#keys + 1] = k end
  for k in next, fresh do if rawget(store, k) == nil then keys[#keys + 1] = k end end
  for i = 1, #keys do
    local k = keys[i]
    if same_value(rawget(store, k), base_t[k]) then rawset(store, k, fresh[k]) end
  end
  return now_json
end

local host_http = host.http
local http = {}
local http_opts = { headers = true, timeout = true }
-- what the runtime sets itself: a Host of the script's would reach another
-- site behind an allowed address; framing headers would break the request
local reserved_headers = { host = true, ["content-length"] = true, ["transfer-encoding"] = true,
  connection = true, upgrade = true, te = true, trailer = true, ["keep-alive"] = true,
  ["proxy-authorization"] = true, ["proxy-connection"] = true, expect = true }

-- A copy of a request body that encode can take: the script's tables as
-- they are, and frozen ones (constants made while the script loaded, read
-- through their proxies) as plain tables.
local function plain(v, fname, depth)
  if type(v) ~= "table" then return v end
  if depth > 16 then raise(fname .. ": the body is nested more than 16 levels (a cycle?)") end
  local out = {}
  for k, x in pairs(v) do
    charge(1)
    out[k] = plain(x, fname, depth + 1)
  end
  return out
end

local function http_call(fname, method, url, body, opts, opts_n)
  if loading then raise(fname .. " is available only inside handlers") end
  checktype(url, "string", 1, fname)
  if opts == nil then opts = {} end
  checktype(opts, "table", opts_n, fname)
  for k in next, opts do
    if not http_opts[k] then
      argerror(opts_n, fname, "unknown option '" .. tostring(k) .. "' (known: headers, timeout)")
    end
  end
  local headers = {}
  local has_type = false
  if opts.headers ~= nil then
    checktype(opts.headers, "table", opts_n, fname)
    for k, v in pairs(opts.headers) do
      if type(k) ~= "string" or not sfind(k, "^[%w!#%$%%&'%*%+%-%.%^_`|~]+$") then
        raise(fname .. ": '" .. tostring(k) .. "' is not an HTTP header name")
      end
      if type(v) == "number" then v = tostring(v) end
      if type(v) ~= "string" or sfind(v, "[%z\1-\8\10-\31\127]") then
        raise(fname .. ": header '" .. k .. "' must be a string without control characters")
      end
      if reserved_headers[slower(k)] then
        raise(fname .. ": header '" .. k .. "' is set by the runtime, not by scripts")
      end
      if slower(k) == "content-type" then has_type = true end
      headers[k] = v
    end
  end
  if body ~= nil then
    if type(body) == "table" then
      body = encode(plain(body, fname, 1), fname .. " body", 1048576, 100000)
      if not has_type then headers["Content-Type"] = "application/json" end
    elseif type(body) ~= "string" then
      argerror(2, fname, "the body must be a string, or a table to send as JSON")
    end
  end
  local timeout = cfg.http_timeout_ms or 10000
  if opts.timeout ~= nil then
    local ms = http_timeout_ms(opts.timeout)
    if not ms then
      argerror(opts_n, fname, "timeout must be a duration between 1ms and 60s, like \"5s\" (a number is seconds)")
    end
    timeout = ms
  end
  local headers_json = next(headers) and encode(headers, fname .. " headers") or nil
  local c, p, rule, store, store_base = cur_c, cur_p, cur_rule, cur_store, cur_store_base
  local status, rbody, rheaders = host_http(method, url, body, headers_json, timeout)
  cur_c, cur_p, cur_rule, cur_store, cur_store_base = c, p, rule, store, store_base
  if store ~= nil then cur_store_base = rebase_store(store, store_base) end
  if status == false then raise(fname .. ": " .. rbody) end -- refused: the script's mistake
  if status == nil then return nil, rbody end               -- no response: timeout, refused connection
  local res = { status = status, body = rbody, headers = rheaders }
  local ct = rheaders["content-type"]
  if ct and sfind(slower(ct), "json", 1, true) then
    local ok, v = pcall(decode, rbody)
    if ok then res.json = v end
  end
  return res
end

-- http.get(url[, opts]), http.post(url, body[, opts]): the response
-- {status, body, headers, json} or nil and the reason no response came.
function http.get(url, opts) return http_call("http.get", "GET", url, nil, opts, 2) end
function http.post(url, body, opts) return http_call("http.post", "POST", url, body, opts, 3) end

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
  if loading then return cfg.timezone or "UTC" end
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
    if loading then raise("date.age: give the time to count to (bot.now() is available only inside handlers)") end
    at = host_now()
  else
    at = date_time(at, 2, "age")
  end
  return date_result("date.age", host_date_age(birthday, at, zone))
end

local G = {}       -- the bot's globals (_ENV of every bot chunk)
local base = {     -- what G sees besides the script's own globals
  assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs, pcall = pcall,
  rawequal = rawequal, rawget = rawget, rawlen = rawlen, rawset = host.rawset,
  select = select, setmetatable = host.setmetatable, getmetatable = getmetatable,
  tonumber = tonumber, tostring = tostring, type = type, xpcall = xpcall,
  _VERSION = _VERSION,
  string = S, table = T, math = M, utf8 = U, coroutine = C,
  bot = bot, send = global_send, print = api.log, http = http, date = date,
}
base._G = G

-- load as Lua's (sandbox_lib.c), binary chunks refused, the bot's globals
-- the default environment
base.load = host.loader(G)

-- Lua names a function called from C (through pcall) by looking for it in
-- the VM's own library tables: the replacements go there, so that
-- pcall(setmetatable, 1) says 'setmetatable' as in Lua. This file keeps the
-- originals it captured at the top.
_G.setmetatable, _G.rawset, _G.load = base.setmetatable, base.rawset, base.load

-- require: the bot's own modules (with the shared lib/ modules it requires,
-- read with it) and stdlib/, loaded once, at the top level.
local files = {}
local file_labels = {} -- path -> where a shared module was read
local loaded = {}
local loading_now = {}

local function file_label(path)
  return file_labels[path] or (folder .. "/" .. path)
end

local function module_source(name)
  local rel = sgsub(name, "%.", "/")
  for _, path in ipairs({ rel .. ".lua", rel .. "/init.lua" }) do
    if files[path] then return files[path], file_label(path) end
  end
  if sfind(rel, "^internal/") then return nil end
  local src = host.stdlib_source(rel .. ".lua")
  if src then return src, "stdlib/" .. rel .. ".lua" end
  return nil
end

function base.require(name)
  checktype(name, "string", 1, "require")
  local v = loaded[name]
  if v ~= nil then return v end
  if not sfind(name, "^[%a_][%w_]*$") and not sfind(name, "^[%a_][%w_]*%.[%w_%.]*[%w_]$") or sfind(name, "%.%.") then
    raise("require: bad module name '" .. name .. "' (use dotted names like 'lib.util'; paths are not allowed)")
  end
  if not loading then
    raise("require('" .. name .. "') must be called at the top level of the script (modules load once, before the bot starts)")
  end
  if loading_now[name] then raise("require: module '" .. name .. "' requires itself (a loop)") end
  local src, path = module_source(name)
  if not src then
    raise("require: module '" .. name .. "' not found (looked for " .. sgsub(name, "%.", "/") ..
      ".lua in the bot's folder" .. (sfind(name, "^lib%.") and ", in the shared lib/ folder beside the bot folders" or "") ..
      " and in stdlib/)")
  end
  local chunk, err = load(src, "@" .. path, "t", G)
  if not chunk then error(err, 0) end
  loading_now[name] = true
  local r = chunk(name)
  loading_now[name] = nil
  if r == nil then r = true end
  loaded[name] = r
  return r
end

-- ("").dump and friends: method calls on strings see only the sanitized table
do
  local smt = dgetmetatable("")
  smt.__index = S
  smt.__metatable = false
end

local function undefined_global(_, k)
  raise("undefined global '" .. tostring(k) .. "'")
end

-- while loading, G reads through to base and undefined reads give nil
raw_setmetatable(G, { __index = base, __metatable = false })

for _, v in next, base do
  if type(v) == "function" then trusted[v] = true end
end
for _, lib in ipairs({ S, T, M, U, C, http, date }) do
  for _, v in next, lib do trusted[v] = true end
end
-- What the script hands the runtime while it loads: the arguments of every
-- bot.* call, with the call's name and place. The freeze walks them all, so
-- whatever a registration keeps (a handler, a drip's steps, a config table,
-- and any registration added later) goes through it without being listed.
local given = {}
for name, f in next, api do
  api[name] = function(...)
    if loading then given[#given + 1] = { name = "bot." .. name, where = where(2), args = pack(...) } end
    return f(...) -- a tail call: the API's own where() levels stay as they were
  end
end
for _, v in next, api do trusted[v] = true end
for _, v in next, methods do trusted[v] = true end
trusted[bot] = true
trusted[global_send] = true

-- ---------------------------------------------------------------- freezing

local function readonly(_, k)
  raise("attempt to change '" .. tostring(k) .. "' of a table shared by all conversations " ..
    "(it was created while the script loaded and is read-only; keep per-conversation data in c.state, shared data in bot.store)")
end

local no_media = {} -- msg.media when there is none (frozen with the libraries)

local shared = {} -- what check_shared (sandbox.c) compares after every invocation
rt.shared = shared

local function describe(f)
  local info = dgetinfo(f, "S")
  return info.short_src .. ":" .. (info.linedefined or 0)
end

local walk

-- The path the walk took to the value it is looking at, for the message when
-- it finds something that cannot be shared: trail_how[i] is "root" (key: a
-- description), "field", "key", "metatable" or "upvalue" (key: its name,
-- trail_fn: the function).
local trail_how, trail_key, trail_fn, depth = {}, {}, {}, 0

local function show_key(k)
  if type(k) == "string" then return "'" .. k .. "'" end
  if type(k) == "number" or type(k) == "boolean" then return tostring(k) end
  return "a " .. type(k) .. " key"
end

-- "bot.lua:7: " and "global 'words' > upvalue 'it' of the function at bot.lua:5"
local function trail_text()
  local parts, at = {}, nil
  for i = 1, depth do
    local how, k = trail_how[i], trail_key[i]
    if how == "root" then
      parts[#parts + 1] = k
      at = trail_fn[i] or at
    elseif how == "field" then
      parts[#parts + 1] = "field " .. show_key(k)
    elseif how == "key" then
      parts[#parts + 1] = "a key"
    elseif how == "metatable" then
      parts[#parts + 1] = "its metatable"
    else
      local f = describe(trail_fn[i])
      parts[#parts + 1] = "upvalue '" .. (k ~= "" and k or "?") .. "' of the function at " .. f
      at = f .. ": "
    end
  end
  return at or (folder .. "/bot.lua: "), table.concat(parts, " > ")
end

-- A value the top level left behind that no freeze can make safe: the load fails.
local function unshareable(what, advice)
  local place, path = trail_text()
  error(place .. what .. " created while the script loads would be shared by all conversations (found through " ..
    path .. "); " .. advice, 0)
end

local function visit(v, how, k, fn)
  local t = type(v)
  if t ~= "table" and t ~= "function" and t ~= "thread" and t ~= "userdata" then return end
  depth = depth + 1
  trail_how[depth], trail_key[depth], trail_fn[depth] = how, k, fn
  walk(v)
  depth = depth - 1
end

local function freeze_table(t)
  if frozen[t] or trusted[t] then return end
  frozen[t] = true
  local backing = {}
  local keys = {}
  for k, v in next, t do
    backing[k] = v
    keys[#keys + 1] = k
  end
  local mt = dgetmetatable(t)
  for i = 1, #keys do
    local k = keys[i]
    -- metamethod names stay in place so the table keeps working as a
    -- metatable (Lua reads those raw); check_shared guards them
    if type(k) == "string" and ssub(k, 1, 2) == "__" then
      shared[#shared + 1] = { t = t, k = k, v = backing[k],
        what = "a handler changed '" .. k .. "' of a table shared by all conversations" }
    else
      rawset(t, k, nil)
    end
  end
  local fmt = {}
  if mt then
    for k, v in next, mt do rawset(fmt, k, v) end
    if rawget(mt, "__index") ~= nil then raw_setmetatable(backing, { __index = rawget(mt, "__index") }) end
  end
  fmt.__index = backing
  fmt.__newindex = readonly
  fmt.__len = function() return rawlen(backing) end
  fmt.__pairs = function(self)
    return function(_, k) return next(backing, k) end, self, nil
  end
  fmt.__metatable = mt or false
  fmt.__gc = nil
  dsetmetatable(t, fmt)
  for k, v in next, backing do
    -- (strings, numbers and booleans need no call: the cost of a big
    -- lookup table built at the top level is its tables)
    local tk, tv = type(k), type(v)
    if tk == "table" or tk == "function" or tk == "thread" or tk == "userdata" then visit(k, "key", k) end
    if tv == "table" or tv == "function" or tv == "thread" or tv == "userdata" then visit(v, "field", k) end
  end
  if mt then visit(mt, "metatable") end
end

local cells = {} -- upvalue ids already in shared

-- A C function with upvalues keeps state the freeze cannot reach (a gmatch
-- iterator's position, a wrapped coroutine): what it is, by its upvalues
-- (lua_pattern.c's gmatch: two strings and its state, a userdata;
-- coroutine.wrap's, sandbox.c: the coroutine and resume).
local function stateful_c_function(f)
  local has_thread, has_userdata = false, false
  for i = 1, 255 do
    local name, v = dgetupvalue(f, i)
    if name == nil then break end
    if type(v) == "thread" then has_thread = true end
    if type(v) == "userdata" then has_userdata = true end
  end
  if has_thread then return "a coroutine.wrap function", "call coroutine.wrap inside the handler" end
  if has_userdata then return "a string.gmatch iterator", "call gmatch inside the handler that uses it" end
  return "a C function with its own state", "make it inside the handler"
end

local function freeze_function(f)
  if trusted[f] or frozen[f] then return end
  frozen[f] = true
  local info = dgetinfo(f, "S")
  if info.what == "C" then
    if dgetupvalue(f, 1) ~= nil then unshareable(stateful_c_function(f)) end
    return
  end
  for i = 1, 255 do
    local name, v = dgetupvalue(f, i)
    if name == nil then break end
    local id = dupvalueid(f, i)
    if cells[id] then goto continue end
    cells[id] = true
    shared[#shared + 1] = { f = f, i = i, v = v,
      what = describe(f) .. ": a handler changed '" .. (name ~= "" and name or "?") ..
        "', a local shared by all conversations (declared while the script loaded); " ..
        "keep per-conversation data in c.state, shared data in bot.store" }
    visit(v, "upvalue", name, f)
    ::continue::
  end
end

walk = function(v)
  local t = type(v)
  if t == "table" then
    if v == G then return end
    freeze_table(v)
  elseif t == "function" then
    freeze_function(v)
  elseif t == "thread" then
    unshareable("a coroutine", "create it inside a handler")
  elseif t == "userdata" then
    unshareable("a userdata value", "make it inside a handler")
  end
end

-- Freezes what can be reached from the bot's top level: its globals, its
-- modules, everything it handed to a bot.* function, and anything planted
-- in `bot` itself. Each is walked through table keys, values and
-- metatables and function upvalues: tables become read-only in place,
-- upvalues are snapshotted (check_shared), and what cannot be made safe (a
-- coroutine, a C function with state, a userdata) fails the load.
function rt.freeze()
  for name, def in next, drips do
    for i, d in ipairs(def.steps) do
      if d.call and not router.handlers[d.call] then
        error(def.where .. "bot.drip('" .. name .. "') step " .. i .. ": no handler named '" .. d.call ..
          "' (define it with bot.handler)", 0)
      end
    end
  end
  for _, ev in ipairs(router.every) do
    if not router.handlers[ev.handler] then
      error(ev.where .. "bot.every('" .. ev.spec .. "', '" .. ev.handler .. "'): no handler named '" ..
        ev.handler .. "' (define it with bot.handler)", 0)
    end
  end
  loading = false
  -- G's own content moves to a frozen backing table that falls back to base
  local globals = {}
  for k, v in next, G do globals[k] = v end
  for k in next, globals do rawset(G, k, nil) end
  for k, v in next, base do if globals[k] == nil then globals[k] = v end end
  raw_setmetatable(globals, { __index = undefined_global })
  dsetmetatable(G, { __index = globals, __newindex = function(_, k)
    raise("assignment to global '" .. tostring(k) .. "' after the script loaded " ..
      "(globals are frozen; use local variables, c.state or bot.store)")
  end, __metatable = false })
  frozen[G] = true
  frozen[globals] = true
  for _, lib in ipairs({ { S, "string" }, { T, "table" }, { M, "math" }, { U, "utf8" }, { C, "coroutine" },
      { http, "http" }, { date, "date" }, { base, "the base library" }, { no_media, "msg.media" } }) do
    visit(lib[1], "root", lib[2]) -- what a script added to them while it loaded too
  end
  for k, v in next, globals do
    visit(k, "root", "a global's name")
    visit(v, "root", "global " .. show_key(k))
  end
  for name, v in next, loaded do visit(v, "root", "module '" .. name .. "'") end
  for i = 1, #given do
    local g = given[i]
    for n = 1, g.args.n do
      local at = g.where ~= "" and " (" .. place(g.where) .. ")" or ""
      visit(g.args[n], "root", "argument " .. n .. " of " .. g.name .. at, g.where ~= "" and g.where or nil)
    end
  end
  given = nil
  for k, v in next, bot do -- none: rawset on bot is refused
    visit(k, "root", "a key of bot")
    visit(v, "root", "bot." .. tostring(k))
  end
  rt.shared_count = #shared
end

-- ---------------------------------------------------------------- bot.env

-- The bot's settings (bot_env.h): given by the host when the version loads,
-- read-only, names in any spelling (api-key, api_key: API_KEY), a missing
-- one is nil. The values live only in this upvalue: bot.env itself stays
-- empty, so neither pairs nor rawget lists them.
local env_values = {}
local supper = string.upper
local env_proxy = raw_setmetatable({}, {
  __metatable = false,
  __index = function(_, k)
    if type(k) ~= "string" then return nil end
    return env_values[sgsub(supper(k), "[^%w]", "_")]
  end,
  __newindex = function(_, k)
    raise("bot.env is read-only (bot.env." .. tostring(k) .. " comes from the config file, " ..
      "the environment, parley sim --env or a transcript's @env)")
  end,
})
frozen[env_proxy] = true
trusted[env_proxy] = true
api.env = env_proxy

function rt.load(sources, dir, env, labels)
  files = sources
  folder = dir
  env_values = env or {}
  file_labels = labels or {}
  local src = files["bot.lua"]
  local chunk, err = load(src, "@" .. folder .. "/bot.lua", "t", G)
  if not chunk then error(err, 0) end
  chunk()
end

-- ---------------------------------------------------------------- routing

local fire, fire_drip -- defined below: run a timer's handler, a drip's step

-- The rule that takes a message, and for the host (the simulator's "rule:"
-- line) its kind and what it was: the keyword, the handler expected, ...
local function route(c, text, is_new, expect)
  if is_new and router.join then return router.join, nil, "on_join" end
  local norm = normalize(text)
  local rule = router.keywords[norm]
  if rule then return rule, nil, "keyword", norm end
  if expect then
    -- consumed either way: a handler removed by a new version is forgotten
    cur_p.expect = false
    local h = router.handlers[expect]
    if h then return h, nil, "expect", expect end
  end
  local lower = slower(text)
  local best = first_word(lower, router.hears)
  for i = 1, #router.hear_phrases do
    local p = router.hear_phrases[i]
    if not best or p.rule.order < best.order then
      local ws = {}
      for w in sgmatch(lower, "[%w_\128-\255]+") do ws[#ws + 1] = w end
      for s = 1, #ws - #p.words + 1 do
        local ok = true
        for j = 1, #p.words do
          if ws[s + j - 1] ~= p.words[j] then ok = false break end
        end
        if ok then best = p.rule break end
      end
    end
  end
  if best then return best, nil, "hear", place(best.where) end
  -- matched on the lowercased text; the captures are what the fan typed
  for i = 1, #router.matches do
    local m = router.matches[i]
    local caps = pack(match_cased(lower, m.pattern, 1, text))
    if caps[1] ~= nil then return m.rule, caps, "match", m.pattern end
  end
  return router.fallback, nil, router.fallback and "fallback" or "none"
end

local function fail_after(msg)
  local where = ""
  if cur_rule then
    local info = dgetinfo(cur_rule.fn, "S")
    where = info.short_src .. ":" .. info.linedefined .. ": "
  end
  error(where .. msg, 0)
end

local function encode_or_fail(v, label, max_bytes, max_entries)
  if type(v) ~= "table" then fail_after(label .. " must be a table, not a " .. type(v)) end
  local ok, json = pcall(encode, v, label, max_bytes, max_entries)
  if not ok then fail_after(json) end
  return json
end

-- The call from the host, in a function of its own: its locals are its own
-- (a function has at most 200, and this chunk is near that).
rt.dispatch = (function()
-- The fields of a call's context (rt.call, filled by the host) and of what
-- it changed (the result), by index: runtime/engine/invocation.c's
-- call_field and changed_field. Indexes, not names: the host fills the
-- context for every call, and an array part costs it no hashing.
local CALL_KIND <const>, CALL_TEXT <const>, CALL_NUMBER <const>, CALL_IS_NEW <const> = 1, 2, 3, 4
local CALL_OPTED_OUT <const>, CALL_EXPECT <const>, CALL_TIMEZONE <const> = 5, 6, 7
local CALL_FIELDS <const>, CALL_TAGS <const>, CALL_STATE <const> = 8, 9, 10
local CALL_ID <const>, CALL_AT <const>, CALL_TO <const>, CALL_ARGS <const>, CALL_MEDIA <const> =
  11, 12, 13, 14, 15
local CHANGED_FIELDS <const>, CHANGED_TAGS <const>, CHANGED_STATE <const> = 1, 2, 3
local CHANGED_EXPECT <const>, CHANGED_STORE <const>, CHANGED_TIMEZONE <const> = 4, 5, 6

-- What a call changed, handed back to the host (invocation.c, apply_effects,
-- reads it as soon as the call returns): one table, filled afresh each time.
local changes = { false, false, false, false, false, false }

local function changed(fields, tags, state, expect, store, tz)
  changes[CHANGED_FIELDS], changes[CHANGED_TAGS], changes[CHANGED_STATE] = fields, tags, state
  changes[CHANGED_EXPECT], changes[CHANGED_STORE], changes[CHANGED_TIMEZONE] = expect, store, tz
  return changes
end

local function finish(c, p, result)
  local tr = type(result)
  if c == nil then -- a bot's own timer: no conversation to answer
    if tr == "string" or tr == "number" then
      fail_after("a handler of a bot's own timer has no conversation to reply to; use send(number, text)")
    end
    local store_json
    if cur_store ~= nil then
      store_json = encode_or_fail(cur_store, "bot.store", 1048576, 100000)
      cur_store = nil
    end
    cur_rule = nil
    return changed(nil, nil, nil, nil, store_json, nil)
  end
  if result == continue_token then
    fail_after("c:continue() passes a new contact's first message on from bot.on_join; " ..
      "this handler has no message to pass on")
  end
  if tr == "string" or tr == "number" then
    local problem = template_problem(tostring(result)) -- at the handler's line
    if problem then fail_after(problem) end
    local mark = cur_rule and cur_rule.mark
    local status, err = host_send(nil, expand(tostring(result), c), "reply", mark == "transactional", nil,
      mark == "urgent")
    if not status then fail_after(err) end
  elseif tr == "table" or tr == "function" or tr == "thread" or tr == "userdata" then
    fail_after("the handler returned a " .. tr .. "; return a string (the reply) or nothing")
  end
  local fields_json, tags_json, state_json, store_json
  local f = rawget(c, "fields")
  if f ~= nil then
    fields_json = encode_or_fail(f, "c.fields", 16384)
    if fields_json == p.fields_json then fields_json = nil end
  end
  local tg = rawget(c, "tags")
  if tg ~= nil then
    local ok, json = pcall(encode_tags, tg)
    if not ok then fail_after(json) end
    tags_json = json ~= p.tags_json and json or nil
  end
  local s = rawget(c, "state")
  if s ~= nil then
    state_json = encode_or_fail(s, "c.state", 65536)
    if state_json == p.state_json then state_json = nil end
  end
  if cur_store ~= nil then
    store_json = encode_or_fail(cur_store, "bot.store", 1048576, 100000)
    cur_store = nil
  end
  local tz = rawget(c, "timezone")
  if tz ~= nil and tz ~= p.timezone then
    if type(tz) ~= "string" or #tz > 64 or sfind(tz, "%z") or not host.valid_zone(tz) then
      local shown = type(tz) == "string" and sgsub(ssub(tz, 1, 40), "[^%g ]", "?") or tostring(tz)
      fail_after("c.timezone = " .. shown .. " is not a time zone (use a name like America/Chicago)")
    end
  else
    tz = nil
  end
  cur_c, cur_p = nil, nil
  cur_rule = nil
  return changed(fields_json, tags_json, state_json, p.expect, store_json, tz)
end

-- A timer's handler, by name (ctx.text): fn(c, args), c nil for a bot's own
-- timer. skip: the timer is late (bot.config late_after): no handler runs.
fire = function(ctx, skip)
  local name, args_json, number = ctx[CALL_TEXT], ctx[CALL_ARGS], ctx[CALL_NUMBER]
  if ssub(name, 1, 5) == "drip:" then return fire_drip(ssub(name, 6), ctx, skip) end
  local rule = router.handlers[name]
  if not rule then
    error("timer handler '" .. name .. "' does not exist (removed in a new version of the script?)", 0)
  end
  local c, p
  if number then
    c = raw_setmetatable({ number = number, opted_out = ctx[CALL_OPTED_OUT],
      is_new = ctx[CALL_IS_NEW], timezone = ctx[CALL_TIMEZONE] }, contact_mt)
    p = { fields_json = ctx[CALL_FIELDS], tags_json = ctx[CALL_TAGS], state_json = ctx[CALL_STATE],
      expect = nil, timezone = ctx[CALL_TIMEZONE] }
    cur_c, cur_p = c, p
  end
  local args = decode(args_json or "null")
  cur_rule = rule
  return finish(c, p, rule.fn(c, args))
end

-- A drip's step: its text is sent (as any timer send: held by quiet hours)
-- or its handler called, then the next step is scheduled. The drip is found
-- by name now, so a new version of the script applies to future steps; a
-- drip or step that no longer exists ends the enrollment.
fire_drip = function(name, ctx, skip)
  local c = raw_setmetatable({ number = ctx[CALL_NUMBER], opted_out = ctx[CALL_OPTED_OUT],
    is_new = ctx[CALL_IS_NEW], timezone = ctx[CALL_TIMEZONE] }, contact_mt)
  local p = { fields_json = ctx[CALL_FIELDS], tags_json = ctx[CALL_TAGS],
    state_json = ctx[CALL_STATE], expect = nil, timezone = ctx[CALL_TIMEZONE] }
  cur_c, cur_p = c, p
  local args = decode(ctx[CALL_ARGS] or "null")
  local def = drips[name]
  local d = def and type(args) == "table" and def.steps[args.step]
  if not d then return finish(c, p, nil) end
  if skip then
    -- too late (bot.config late_after): this step is skipped, the drip goes on
  elseif d.text then
    deliver(nil, expand(d.text, c), "send", d.mark == "transactional", nil, d.mark == "urgent")
  else
    local rule = router.handlers[d.call]
    if not rule then
      error("drip '" .. name .. "' step " .. args.step .. ": no handler named '" .. d.call .. "'", 0)
    end
    -- the step's mark, else the handler's, for everything the call sends
    cur_rule = d.mark and { fn = rule.fn, order = rule.order, where = rule.where, mark = d.mark } or rule
    local r = rule.fn(c, d.args_json and decode(d.args_json))
    if type(r) == "string" then deliver(nil, expand(r, c), "send", false) end
  end
  local now = host.now_ms()
  schedule_step(name, def, args.step + 1, now, args.started or now, c)
  return finish(c, p, nil)
end

-- A broadcast's text for one recipient.
function rt.render(text, number, fields_json, tags_json)
  local c = raw_setmetatable({ number = number }, contact_mt)
  cur_c, cur_p = c, { fields_json = fields_json, tags_json = tags_json, state_json = "{}" }
  local out = expand(text, c)
  cur_c, cur_p = nil, nil
  return out
end

-- A rule's handler called with the message (and a match's captures).
local function call_rule(rule, c, msg, caps)
  if caps then return rule.fn(c, msg, unpack(caps, 1, caps.n)) end
  return rule.fn(c, msg)
end

-- The context of each call from the host: filled afresh by the host before
-- it (runtime/engine/invocation.c, push_dispatch_args), read by dispatch
-- before anything else runs.
rt.call = { false, false, false, false, false, false, false, false, false, false, false, false,
  false, false, false } -- its array part sized once

-- One call from the host, with its context ctx (rt.call): kind ("message",
-- "optout", "optin", "event", "status", "timer" or "late_timer"), text (a
-- message's; an event's type; a report's status; a timer's handler),
-- number, is_new, opted_out, expect, timezone, fields, tags and state
-- (JSON), id, at, to, args (JSON: an event's data, a report, a timer's
-- arguments), media (JSON).
-- Returns what changed, each nil if unchanged: fields, tags, state (JSON),
-- expect (a string, or false: cleared), store (JSON), timezone.
local function dispatch(ctx)
  -- another invocation may be waiting (http): nothing of its state carries over
  cur_c, cur_p = nil, nil
  cur_store = nil
  cur_rule = nil
  local kind = ctx[CALL_KIND]
  if kind == "timer" then return fire(ctx, false) end
  if kind == "late_timer" then return fire(ctx, true) end
  local number, text, is_new, expect, args_json = ctx[CALL_NUMBER], ctx[CALL_TEXT],
    ctx[CALL_IS_NEW], ctx[CALL_EXPECT], ctx[CALL_ARGS]
  local c = raw_setmetatable({ number = number, opted_out = ctx[CALL_OPTED_OUT], is_new = is_new,
    timezone = ctx[CALL_TIMEZONE] }, contact_mt)
  local p = { fields_json = ctx[CALL_FIELDS], tags_json = ctx[CALL_TAGS],
    state_json = ctx[CALL_STATE], expect = nil, timezone = ctx[CALL_TIMEZONE] }
  cur_c, cur_p = c, p
  local media = no_media
  local media_json = ctx[CALL_MEDIA]
  if media_json then
    media = decode(media_json)
    if type(media) ~= "table" then media = no_media end
  end
  local msg = { text = text, from = number, to = ctx[CALL_TO], id = ctx[CALL_ID], at = ctx[CALL_AT],
    media = media }
  local rule, caps, rule_kind, rule_what
  if kind == "event" then
    rule = router.events[text]
    if not rule then
      error("no bot.on_event handler for events of type '" .. text .. "'", 0)
    end
    local ev = decode(args_json or "{}")
    if type(ev) ~= "table" then ev = { value = ev } end
    ev.type = text
    host_rule("on_event", text)
    cur_rule = rule
    return finish(c, p, rule.fn(c, ev))
  elseif kind == "status" then
    rule = router.status
    local st = decode(args_json or "{}")
    if not rule or type(st) ~= "table" then return finish(c, p, nil) end
    cur_rule = rule
    return finish(c, p, rule.fn(c, st))
  elseif kind == "message" then
    for i = 1, #reply_stoppers do
      local ok, err = host.drips_stop(reply_stoppers[i])
      if not ok then error(err, 0) end
    end
    rule, caps, rule_kind, rule_what = route(c, text, is_new, expect)
    host_rule(rule_kind, rule_what)
  elseif kind == "optout" then
    rule = router.optout
    if rule then host_rule("on_optout") end
  elseif kind == "optin" then
    rule = router.optin
    if rule then host_rule("on_optin") end
  end
  local result
  cur_rule = rule
  if rule then result = call_rule(rule, c, msg, caps) end
  if result == continue_token and kind == "message" and rule == router.join then
    -- on_join passed the message on: the rest of the routing, as for a
    -- contact it is not the first message of (on_join's sends and changes
    -- stay; what it set with c:expect is for the next message)
    rule, caps = route(c, text, false, expect)
    cur_rule = rule
    result = nil
    if rule then result = call_rule(rule, c, msg, caps) end
    if result == continue_token then
      fail_after("c:continue() passes a message on from bot.on_join only; this handler is the rest of the routing")
    end
  end
  return finish(c, p, result)
end

-- What a handler's error record says: error(42) is "42", error(nil) says so,
-- and a table's own __tostring is its message. It runs after the stack
-- unwound, inside the invocation: a looping __tostring hits the limits.
local function error_text(e)
  local t = type(e)
  if t == "string" then return e end
  if t == "number" or t == "boolean" then return tostring(e) end
  if t == "nil" then return "nil (error() was called without a message)" end
  local mt = dgetmetatable(e)
  if type(mt) == "table" and rawget(mt, "__tostring") ~= nil then
    local ok, s = pcall(tostring, e)
    if ok and type(s) == "string" then return s end
    return "error object is a " .. t .. " value (its __tostring failed: " ..
      (type(s) == "string" and s or "a " .. type(s) .. " value") .. ")"
  end
  return "error object is a " .. t .. " value (raise a string with error(), or give the table a __tostring)"
end

local function rethrow(ok, ...)
  if ok then return ... end
  error(error_text((...)), 0)
end

return function(ctx)
  return rethrow(pcall(dispatch, ctx))
end
end)()

-- The allow list's rule (waiting.c has the one that counts): the same
-- name, or a "*." entry and a host under that domain.
local function http_host_allowed(host)
  for _, a in ipairs(cfg.http_allow or {}) do
    if a == host then return true end
    if ssub(a, 1, 2) == "*." and #host > #a - 1 and ssub(host, -(#a - 1)) == ssub(a, 2) then
      return true
    end
  end
  return false
end

-- The source lines of a function of the bot (nil if not in its files).
local function source_of(fn)
  local info = dgetinfo(fn, "S")
  for path, src in next, files do
    if info.source == "@" .. folder .. "/" .. path then
      local out, line = {}, 1
      for l in sgmatch(src .. "\n", "([^\n]*)\n") do
        if line >= info.linedefined and line <= info.lastlinedefined then out[#out + 1] = l end
        line = line + 1
      end
      return T.concat(out, "\n")
    end
  end
end

-- on_join and an event handler: a contact created by an event sends its
-- first message (the code it was sent...) to on_join, unless on_join passes
-- it on. Not said of an on_join that calls c:continue().
local function join_warning(warnings)
  if not router.join then return end
  local first
  for kind, rule in next, router.events do
    if not first or rule.order < first.rule.order then first = { kind = kind, rule = rule } end
  end
  if not first then return end
  local src = source_of(router.join.fn)
  if src and sfind(sgsub(src, "%-%-[^\n]*", ""), ":%s*continue%s*%(") then return end
  warnings[#warnings + 1] = router.join.where .. "warning: bot.on_join also gets the first message of a " ..
    "contact created by an event (bot.on_event '" .. first.kind .. "' at " .. place(first.rule.where) ..
    "), like the code an OTP user replies with; return c:continue() from it to route that message on"
end

-- Steps and recurring timers due at a time of day inside the bot's quiet
-- hours (or that can be: counted from a date field), not marked urgent or
-- transactional: quiet hours would hold what they send. Steps counted from
-- the start or the previous step are a series' pace, held as intended.
local function quiet_warnings(warnings)
  local qs, qe = cfg.quiet_start or 21 * 60, cfg.quiet_end or 9 * 60
  if qs == qe then return end
  local function hm(m) return sformat("%02d:%02d", m // 60, m % 60) end
  local function quiet(h, m)
    local t = tonumber(h) * 60 + tonumber(m)
    if qs < qe then return t >= qs and t < qe end
    return t >= qs or t < qe
  end
  local window = "quiet hours (" .. hm(qs) .. "-" .. hm(qe) .. ")"
  local advice = "mark it urgent = true if the contact asked for it"
  for name, def in next, drips do
    for i, d in ipairs(def.steps) do
      local h = d.call and router.handlers[d.call]
      if not d.mark and not (h and h.mark) then
        local step = def.where .. "warning: drip '" .. name .. "' step " .. i
        if d.at then
          if quiet(smatch(d.at, "^(%d+):(%d+)$")) then
            warnings[#warnings + 1] = step .. " (at " .. d.at .. ") falls inside " .. window ..
              " and is held until " .. hm(qe) .. "; " .. advice .. ", or move it"
          end
        elseif d.of then
          local when = d.offset_text and (d.offset_text .. (d.before and " before " or " after ")) or "at "
          warnings[#warnings + 1] = step .. " (" .. when .. "fields." .. d.of .. ") can fall inside " ..
            window .. " and would then be held until " .. hm(qe) .. "; " .. advice ..
            ", or give it an at = \"HH:MM\" outside them"
        end
      end
    end
  end
  for _, e in ipairs(router.every) do
    local days, hour, minute = smatch(e.spec, "^%s*(%a+)%s+(%d%d?):(%d%d)%s*$")
    local rule = router.handlers[e.handler]
    if days and quiet(hour, minute) and not (rule and rule.mark) then
      warnings[#warnings + 1] = e.where .. "warning: bot.every('" .. e.spec .. "', '" .. e.handler ..
        "') runs inside " .. window .. " in the bot's zone: what it sends is held until " .. hm(qe) ..
        " in each recipient's zone; mark its handler urgent = true if that must go at once, or move it"
    end
  end
end

-- bot.match patterns with a capital letter (not a %A-style class): the text
-- they are matched against is lowercased, so that letter never matches.
local function capital_warnings(warnings)
  for _, m in ipairs(router.matches) do
    local p, i, capital = m.pattern, 1, false
    while i <= #p and not capital do
      local ch = ssub(p, i, i)
      if ch == "%" and ssub(p, i + 1, i + 1) == "b" then -- %bxy: x and y are literal
        capital = sfind(ssub(p, i + 2, i + 3), "%u") ~= nil
        i = i + 4
      elseif ch == "%" then -- %A, %S...: classes; %X: a literal X, which is rare
        i = i + 2
      else
        capital = sfind(ch, "^%u$") ~= nil
        i = i + 1
      end
    end
    if capital then
      warnings[#warnings + 1] = m.rule.where .. "warning: bot.match pattern '" .. p .. "' has a capital " ..
        "letter, but patterns are matched against the lowercased message, so it never matches there; " ..
        "write the pattern in lowercase (the captures keep the fan's case)"
    end
  end
end

-- What `parley check` can find without running a handler.
function rt.check()
  local problems = {}
  for path, src in next, files do
    local line = 1
    for chunk_line in sgmatch(src .. "\n", "([^\n]*)\n") do
      local code = sgsub(chunk_line, "%-%-.*$", "") -- not in a comment (roughly)
      for fn, rest in sgmatch(code, "%f[%w_.]http%.(%a+)%s*(%b())") do
        if fn == "get" or fn == "post" then
          local where = file_label(path) .. ":" .. line .. ": http." .. fn
          local url = smatch(rest, "^%(%s*[\"']([^\"']*)[\"']")
          local authority = url and smatch(slower(url), "^https?://([^/%?#]+)")
          local host = authority and smatch(sgsub(authority, "^.*@", ""), "^([^:]+)")
          if #(cfg.http_allow or {}) == 0 then
            problems[#problems + 1] = where .. ": bot.config{http = {allow = {...}}} lists no " ..
              "hosts, so every request is refused"
          elseif host and not http_host_allowed(host) then
            problems[#problems + 1] = where .. ": " .. host .. " is not in bot.config{http = " ..
              "{allow = ...}}, so the request is refused"
          end
        end
      end
      for name in sgmatch(chunk_line, "expect%s*%(%s*[\"']([^\"']*)[\"']") do
        if not router.handlers[name] then
          problems[#problems + 1] = file_label(path) .. ":" .. line .. ": c:expect('" .. name ..
            "') names no handler; define it with bot.handler('" .. name .. "', function(c, msg) ... end)"
        end
      end
      line = line + 1
    end
  end
  table.sort(problems)
  -- warnings: static texts (drip steps) longer than max_segments SMS segments
  local warnings = {}
  local max = cfg.max_segments or 3
  for name, def in next, drips do
    for i, d in ipairs(def.steps) do
      if d.text then
        local n, enc = host.segments(d.text)
        if n > max then
          warnings[#warnings + 1] = def.where .. "warning: drip '" .. name .. "' step " .. i ..
            " is " .. n .. " SMS segments (" .. enc .. "; bot.config max_segments = " .. max .. ")"
        end
      end
    end
  end
  join_warning(warnings)
  quiet_warnings(warnings)
  capital_warnings(warnings)
  table.sort(warnings)
  return problems, warnings
end

return rt
