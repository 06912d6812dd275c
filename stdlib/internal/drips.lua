-- Drips (bot.drip): their definitions, template filters, and the scheduling
-- of their steps.
-- Part of the trusted side of a bot's Lua VM: see sandbox.lua.
local host, debug, I = ...
local api, checktype, current_zone = I.api, I.checktype, I.current_zone
local duration_ms, encode, host, mark_of = I.duration_ms, I.encode, I.host, I.mark_of
local next, pcall, place, raise, rt, sbyte = I.next, I.pcall, I.place, I.raise, I.rt, I.sbyte
local sformat, sgmatch, sgsub, smatch, ssub = I.sformat, I.sgmatch, I.sgsub, I.smatch, I.ssub
local tonumber, top_level_only, tostring, type = I.tonumber, I.top_level_only, I.tostring, I.type
local where = I.where
local cur = I.cur

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

-- A tracked link's URL: http(s), at most 2048 bytes, without spaces,
-- control characters or the characters a URL must escape (" < > \ { } | ^ `),
-- as the runtime takes it (runtime/engine/links.c).
local function link_url_ok(u)
  return #u <= 2048 and smatch(u, "^https?://[^%c \"<>\\{}|^`]+$") ~= nil
end
I.link_url_ok = link_url_ok

-- The problem with text's filters ("template {{x fields.y}}: unknown filter
-- 'x' (known: url)") or tracked links ({{link "URL"}}), or nil.
local function template_problem(text)
  for inside in sgmatch(text, "{{(%s*link[%s\"][^}]*)}}") do
    local url = smatch(inside, '^%s*link%s+"([^"]*)"%s*$')
    if not url then
      return "template {{" .. inside .. '}}: write a tracked link as {{link "https://..."}}'
    elseif not link_url_ok(url) then
      return 'template {{link "' .. url .. '"}}: not an http(s) URL of at most 2048 bytes ' ..
        "without spaces, quotes, angle brackets or braces"
    end
  end
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

-- what the parts loaded after this one use
I.drip_start, I.drip_stop, I.drips = drip_start, drip_stop, drips
I.reply_stoppers, I.schedule_step = reply_stoppers, schedule_step
I.template_filters, I.template_problem = template_filters, template_problem
