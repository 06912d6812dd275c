-- Segments and broadcasts (bot.contacts, bot.broadcast), templates ({{...}}),
-- the contact object's methods (c:reply, c:send, c:expect, tags), bot.store
-- and send().
-- Part of the trusted side of a bot's Lua VM: see sandbox.lua.
local host, debug, I = ...
local TIME_RANGE, api, argerror, cfg = I.TIME_RANGE, I.api, I.argerror, I.cfg
local checktype, decode, drip_start, drip_stop = I.checktype, I.decode, I.drip_start, I.drip_stop
local encode, epoch_ms, error, frozen = I.encode, I.epoch_ms, I.error, I.frozen
local getmetatable, host, host_send = I.getmetatable, I.host, I.host_send
local host_store, in_handler, next, raise = I.host_store, I.in_handler, I.next, I.raise
local raw_setmetatable, rawget, rawset, router = I.raw_setmetatable, I.rawget, I.rawset, I.router
local rt, sbyte, select, sfind, sgmatch = I.rt, I.sbyte, I.select, I.sfind, I.sgmatch
local sgsub, slower, smatch, template_filters = I.sgsub, I.slower, I.smatch, I.template_filters
local template_problem, tointeger, tonumber = I.template_problem, I.tointeger, I.tonumber
local link_url_ok = I.link_url_ok
local tostring, type = I.tostring, I.type
local channel_of, shape_send, template_opt = I.channel_of, I.shape_send, I.template_opt
local cur = I.cur

-- ---------------------------------------------------------------- segments

local segment_special = { tags = true, status = true, joined_after = true, joined_before = true,
  seen_after = true, seen_before = true }

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
    elseif k == "clicked" then
      -- contacts a person clicked a tracked link of: to this URL, or any (true)
      if v ~= true and not (type(v) == "string" and link_url_ok(v)) then
        raise(fname .. ": clicked must be a link's URL (http or https) or true, not " ..
          (type(v) == "string" and "'" .. v .. "'" or type(v)))
      end
      out.clicked = v
    elseif k == "joined_after" or k == "joined_before" or k == "seen_after" or k == "seen_before" then
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

-- bot.broadcast{ segment = {...}, text = "...", at = time, rate = per second,
-- template = "name", language = "en_US", params = {...} (its WhatsApp
-- recipients get the template, the others the text) }
local broadcast_keys = { segment = true, text = true, at = true, rate = true, template = true,
  language = true, params = true }
function api.broadcast(t)
  in_handler("bot.broadcast")
  checktype(t, "table", 1, "broadcast")
  for k in next, t do
    if not broadcast_keys[k] then
      raise("bot.broadcast: unknown key '" .. tostring(k) ..
        "' (known: segment, text, at, rate, template, language, params)")
    end
  end
  local content
  if t.template ~= nil then
    local tmpl = template_opt(t, 1, "broadcast")
    for i = 1, #tmpl.params do -- filled in for each recipient, as the text
      local problem = template_problem(tmpl.params[i])
      if problem then raise("bot.broadcast: params[" .. i .. "]: " .. problem) end
    end
    content = encode({ template = tmpl }, "bot.broadcast")
  elseif t.language ~= nil or t.params ~= nil then
    raise("bot.broadcast: language and params go with a template")
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
  local id, err = host.broadcast_add(seg, t.text, start, rate, content)
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
    v = { name = cfg.name or smatch(cur.folder, "([^/]+)/*$") }
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

-- A message to address, as c:send(text, opts) or c:send{ text = ..., <opts> }
-- give it (text is argument n): transactional, urgent, its text
-- (template-expanded for c) and what it carries beside it (channels.lua).
local function outgoing(address, text, opts, n, fname, c)
  local on = n + 1
  if type(text) == "table" and opts == nil then
    local t = text
    opts, on, text = {}, n, t.text
    for k, v in pairs(t) do -- (t may be frozen: read as the script would)
      if k ~= "text" then opts[k] = v end
    end
    if text == nil and opts.template == nil then argerror(n, fname, "text expected in the table") end
  end
  if text ~= nil then text = expand(text_arg(text, n, fname), c) end
  return shape_send(address, text, opts, on, fname, media_opt)
end

-- host.send returns the message's status, or nil and a sentence. What a
-- handler marked urgent or transactional sends is so marked (cur_rule.mark).
local function deliver(to, text, kind, transactional, urgent, media)
  in_handler(kind)
  local mark = cur.rule and cur.rule.mark
  local status, err = host_send(to, text, kind, transactional or mark == "transactional", media,
    urgent or mark == "urgent")
  if not status then raise(err) end
  return status
end

-- The message, then those its channel needs after it (channels.lua: a
-- Messenger attachment each); the first's status.
local function deliver_all(to, text, kind, transactional, urgent, content, after)
  local status = deliver(to, text, kind, transactional, urgent, content)
  for i = 1, after and #after or 0 do
    deliver(to, after[i][1], kind, transactional, urgent, after[i][2])
  end
  return status
end

local methods = {}

function methods.reply(c, text, opts)
  local p = c == cur.c and cur.p
  if not p then raise("reply: not a contact of this message") end
  local tr, urgent, body, content, after = outgoing(rawget(c, "number"), text, opts, 1, "reply", c)
  return deliver_all(nil, body, "reply", tr, urgent, content, after)
end

function methods.send(c, text, opts)
  local p = c == cur.c and cur.p
  if not p then raise("send: not a contact of this message") end
  local tr, urgent, body, content, after = outgoing(rawget(c, "number"), text, opts, 1, "send", c)
  return deliver_all(nil, body, "send", tr, urgent, content, after)
end

-- c:link(url): a short link to url, tracked: unique to the contact and the
-- first message of this handler it goes in; a visit runs bot.on_click.
function methods.link(c, url)
  if c ~= cur.c then raise("link: not a contact of this message") end
  in_handler("c:link")
  if type(url) ~= "string" then argerror(1, "link", "URL string expected, got " .. type(url)) end
  local link, err = host.link(url)
  if not link then raise(err) end
  return link
end

function methods.expect(c, name)
  local p = c == cur.c and cur.p
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

-- c:handoff{ reason = "..." }: a person takes the conversation over; its
-- messages reach no handler until a person hands it back
-- (bot.on_handback). Recorded when the handler ends, with its other changes.
function methods.handoff(c, opts)
  local p = c == cur.c and cur.p
  if not p then raise("handoff: not a contact of this conversation") end
  local reason = ""
  if opts ~= nil then
    if type(opts) ~= "table" then
      raise("handoff: expected a table like { reason = \"asked for a person\" }, got a " .. type(opts))
    end
    for k in next, opts do
      if k ~= "reason" then raise("handoff: unknown option '" .. tostring(k) .. "' (it takes reason)") end
    end
    reason = opts.reason
    if reason == nil then reason = "" end
    if type(reason) ~= "string" then raise("handoff: reason must be a string, got a " .. type(reason)) end
    if #reason > 500 then raise("handoff: reason is longer than 500 bytes") end
  end
  p.handoff = reason
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
  if not (c == cur.c and cur.p) then raise("continue: not a contact of this message") end
  return continue_token
end

local contact_mt = { __metatable = false }
contact_mt.__index = function(c, k)
  local m = methods[k]
  if m then return m end
  if k == "channel" then return channel_of(rawget(c, "number")) end
  local p = c == cur.c and cur.p
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
-- (cur.store, nil until a handler touches it; cur.store_base, the JSON it
-- was decoded from)
local bot = {}
local bot_mt = { __metatable = false }
bot_mt.__index = function(_, k)
  if k == "store" then
    if cur.loading then raise("bot.store is available only inside handlers") end
    if cur.store == nil then
      cur.store_base = host_store()
      cur.store = decode(cur.store_base)
      if type(cur.store) ~= "table" then cur.store = {} end
    end
    return cur.store
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
  local tr, urgent, body, content, after = outgoing(number, text, opts, 2, "send", nil)
  return deliver_all(number, body, "send", tr, urgent, content, after)
end

-- what the parts loaded after this one use
I.bot, I.contact_mt, I.continue_token, I.deliver = bot, contact_mt, continue_token, deliver
I.encode_tags, I.expand, I.global_send, I.methods = encode_tags, expand, global_send, methods
