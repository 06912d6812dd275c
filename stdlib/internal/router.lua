-- Routing and dispatch: the rule that takes a message, a handler's end (what
-- changed, for the host), timers' and drips' handlers, and rt.dispatch, the
-- one call from the host for each message, event, report or timer.
-- Part of the trusted side of a bot's Lua VM: see sandbox.lua.
local host, debug, I = ...
local contact_mt, continue_token, decode = I.contact_mt, I.continue_token, I.decode
local deliver, dgetinfo, dgetmetatable, drips = I.deliver, I.dgetinfo, I.dgetmetatable, I.drips
local encode, encode_tags, error, expand = I.encode, I.encode_tags, I.error, I.expand
local first_word, host, host_rule, host_send = I.first_word, I.host, I.host_rule, I.host_send
local match_cased, no_media, normalize, pack = I.match_cased, I.no_media, I.normalize, I.pack
local pcall, place, raw_setmetatable, rawget = I.pcall, I.place, I.raw_setmetatable, I.rawget
local reply_stoppers, router, rt = I.reply_stoppers, I.router, I.rt
local schedule_step, sfind, sgmatch, sgsub = I.schedule_step, I.sfind, I.sgmatch, I.sgsub
local shown, slower, ssub, template_problem = I.shown, I.slower, I.ssub, I.template_problem
local tostring, type, unpack, where = I.tostring, I.type, I.unpack, I.where
local channel_of, next = I.channel_of, I.next
local cur = I.cur

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
    cur.p.expect = false
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
  if cur.rule then
    local info = dgetinfo(cur.rule.fn, "S")
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
local CHANGED_HANDOFF <const> = 7

-- What a call changed, handed back to the host (invocation.c, apply_effects,
-- reads it as soon as the call returns): one table, filled afresh each time.
local changes = { false, false, false, false, false, false }

local function changed(fields, tags, state, expect, store, tz, handoff)
  changes[CHANGED_FIELDS], changes[CHANGED_TAGS], changes[CHANGED_STATE] = fields, tags, state
  changes[CHANGED_EXPECT], changes[CHANGED_STORE], changes[CHANGED_TIMEZONE] = expect, store, tz
  changes[CHANGED_HANDOFF] = handoff
  return changes
end

local function finish(c, p, result)
  local tr = type(result)
  if c == nil then -- a bot's own timer: no conversation to answer
    if tr == "string" or tr == "number" then
      fail_after("a handler of a bot's own timer has no conversation to reply to; use send(number, text)")
    end
    local store_json
    if cur.store ~= nil then
      store_json = encode_or_fail(cur.store, "bot.store", 1048576, 100000)
      cur.store = nil
    end
    cur.rule = nil
    return changed(nil, nil, nil, nil, store_json, nil)
  end
  if result == continue_token then
    fail_after("c:continue() passes a new contact's first message on from bot.on_join; " ..
      "this handler has no message to pass on")
  end
  if tr == "string" or tr == "number" then
    local text = tostring(result)
    if sfind(text, "{{", 1, true) then -- a template: its filters checked at the handler's line
      local problem = template_problem(text)
      if problem then fail_after(problem) end
      text = expand(text, c)
    end
    local mark = cur.rule and cur.rule.mark
    local status, err = host_send(nil, text, "reply", mark == "transactional", nil, mark == "urgent")
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
  if cur.store ~= nil then
    store_json = encode_or_fail(cur.store, "bot.store", 1048576, 100000)
    cur.store = nil
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
  cur.c, cur.p = nil, nil
  cur.rule = nil
  return changed(fields_json, tags_json, state_json, p.expect, store_json, tz, p.handoff)
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
    cur.c, cur.p = c, p
  end
  local args = decode(args_json or "null")
  cur.rule = rule
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
  cur.c, cur.p = c, p
  local args = decode(ctx[CALL_ARGS] or "null")
  local def = drips[name]
  local d = def and type(args) == "table" and def.steps[args.step]
  if not d then return finish(c, p, nil) end
  if skip then
    -- too late (bot.config late_after): this step is skipped, the drip goes on
  elseif d.text then
    deliver(nil, expand(d.text, c), "send", d.mark == "transactional", d.mark == "urgent")
  else
    local rule = router.handlers[d.call]
    if not rule then
      error("drip '" .. name .. "' step " .. args.step .. ": no handler named '" .. d.call .. "'", 0)
    end
    -- the step's mark, else the handler's, for everything the call sends
    cur.rule = d.mark and { fn = rule.fn, order = rule.order, where = rule.where, mark = d.mark } or rule
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
  cur.c, cur.p = c, { fields_json = fields_json, tags_json = tags_json, state_json = "{}" }
  local out = expand(text, c)
  cur.c, cur.p = nil, nil
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
-- "optout", "optin", "event", "status", "timer", "late_timer", "handback"
-- or "click"), text (a
-- message's; an event's type; a report's status; a timer's handler),
-- number, is_new, opted_out, expect, timezone, fields, tags and state
-- (JSON), id, at, to, args (JSON: an event's data, a report, a timer's
-- arguments), media (JSON).
-- Returns what changed, each nil if unchanged: fields, tags, state (JSON),
-- expect (a string, or false: cleared), store (JSON), timezone.
local function dispatch(ctx)
  -- another invocation may be waiting (http): nothing of its state carries over
  cur.c, cur.p = nil, nil
  cur.store = nil
  cur.rule = nil
  local kind = ctx[CALL_KIND]
  if kind == "timer" then return fire(ctx, false) end
  if kind == "late_timer" then return fire(ctx, true) end
  local number, text, is_new, expect, args_json = ctx[CALL_NUMBER], ctx[CALL_TEXT],
    ctx[CALL_IS_NEW], ctx[CALL_EXPECT], ctx[CALL_ARGS]
  local c = raw_setmetatable({ number = number, opted_out = ctx[CALL_OPTED_OUT], is_new = is_new,
    timezone = ctx[CALL_TIMEZONE] }, contact_mt)
  local p = { fields_json = ctx[CALL_FIELDS], tags_json = ctx[CALL_TAGS],
    state_json = ctx[CALL_STATE], expect = nil, timezone = ctx[CALL_TIMEZONE] }
  cur.c, cur.p = c, p
  local media, came = no_media, nil
  local media_json = ctx[CALL_MEDIA]
  if media_json then
    came = decode(media_json)
    -- a list of media URLs, or what a channel says came with the text:
    -- { media = {...}, choice = {...}, location = {...}, contacts = {...} }
    if type(came) == "table" and came[1] == nil and next(came) ~= nil then
      media = type(came.media) == "table" and came.media or no_media
    else
      media, came = type(came) == "table" and came or no_media, nil
    end
  end
  local msg = { text = text, from = number, to = ctx[CALL_TO], id = ctx[CALL_ID], at = ctx[CALL_AT],
    media = media, channel = channel_of(number), choice = came and came.choice,
    location = came and came.location, contacts = came and came.contacts }
  local rule, caps, rule_kind, rule_what
  if kind == "event" then
    rule = router.events[text]
    if not rule then
      host.no_handler() -- the host reports this error as no_handler, not as a handler's
      error("no bot.on_event handler for events of type '" .. text .. "'", 0)
    end
    local ev = decode(args_json or "{}")
    if type(ev) ~= "table" then ev = { value = ev } end
    ev.type = text
    host_rule("on_event", text)
    cur.rule = rule
    return finish(c, p, rule.fn(c, ev))
  elseif kind == "handback" then
    rule = router.handback
    local info = decode(args_json or "{}")
    if not rule or type(info) ~= "table" then return finish(c, p, nil) end
    host_rule("on_handback")
    cur.rule = rule
    return finish(c, p, rule.fn(c, info))
  elseif kind == "click" then
    rule = router.click
    local click = decode(args_json or "{}")
    if not rule or type(click) ~= "table" then return finish(c, p, nil) end
    host_rule("on_click")
    cur.rule = rule
    return finish(c, p, rule.fn(c, click))
  elseif kind == "status" then
    rule = router.status
    local st = decode(args_json or "{}")
    if not rule or type(st) ~= "table" then return finish(c, p, nil) end
    cur.rule = rule
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
  cur.rule = rule
  if rule then result = call_rule(rule, c, msg, caps) end
  if result == continue_token and kind == "message" and rule == router.join then
    -- on_join passed the message on: the rest of the routing, as for a
    -- contact it is not the first message of (on_join's sends and changes
    -- stay; what it set with c:expect is for the next message)
    rule, caps = route(c, text, false, expect)
    cur.rule = rule
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

function rt.dispatch(ctx)
  return rethrow(pcall(dispatch, ctx))
end
