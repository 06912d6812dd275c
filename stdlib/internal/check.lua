-- parley check: what a script's registrations and settings say, as problems
-- and warnings.
-- Part of the trusted side of a bot's Lua VM: see sandbox.lua.
local host, debug, I = ...
local T, cfg, dgetinfo, drips, file_label = I.T, I.cfg, I.dgetinfo, I.drips, I.file_label
local host, next, place, router, rt, sfind = I.host, I.next, I.place, I.router, I.rt, I.sfind
local sformat, sgmatch, sgsub, slower, smatch = I.sformat, I.sgmatch, I.sgsub, I.slower, I.smatch
local ssub, tonumber, where = I.ssub, I.tonumber, I.where
local cur = I.cur

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
  for path, src in next, cur.files do
    if info.source == "@" .. cur.folder .. "/" .. path then
      local out, line = {}, 1
      for l in sgmatch(src .. "\n", "([^\n]*)\n") do
        if line >= info.linedefined and line <= info.lastlinedefined then out[#out + 1] = l end
        line = line + 1
      end
      return T.concat(out, "\n")
    end
  end
end

-- Free text in a drip step or a broadcast of a bot on Meta's channels
-- (bot.config channels): a step comes a day or more after the fan last
-- wrote, a broadcast to anyone, when only a template (WhatsApp) or a
-- tagged message (Messenger) may go.
local window_channels = { whatsapp = "WhatsApp", messenger = "Messenger", instagram = "Instagram" }
local function window_warnings(warnings)
  local on
  for _, ch in ipairs(cfg.channels or {}) do on = on or window_channels[ch] end
  if not on then return end
  for name, def in next, drips do
    for i, d in ipairs(def.steps) do
      if d.text then
        warnings[#warnings + 1] = def.where .. "warning: drip '" .. name .. "' step " .. i ..
          " sends free text; on " .. on .. " it only goes within 24 hours of the contact's last " ..
          "message (call a handler that sends c:send{template = ...} or a tag instead)"
      end
    end
  end
  -- a broadcast's text is free text: it reaches only who wrote within the
  -- window, unless the broadcast has a template for them
  for path, src in next, cur.files do
    local code = sgsub(src, "%-%-[^\n]*", "") -- comments out (roughly), lines kept
    for at, call in sgmatch(code, "()%f[%w_.]bot%.broadcast%s*(%b{})") do
      if not sfind(call, "template%s*=") then
        local _, newlines = sgsub(ssub(code, 1, at), "\n", "")
        warnings[#warnings + 1] = file_label(path) .. ":" .. (newlines + 1) .. ": warning: " ..
          "bot.broadcast sends free text; on " .. on .. " it reaches only the contacts who " ..
          "wrote within 24 hours (the others' messages fail; give it a template)"
      end
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
  for path, src in next, cur.files do
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
  window_warnings(warnings)
  join_warning(warnings)
  quiet_warnings(warnings)
  capital_warnings(warnings)
  table.sort(warnings)
  return problems, warnings
end

