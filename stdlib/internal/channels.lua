-- Channels (SMS, WhatsApp, Messenger, Instagram) and what a message may
-- carry beside its text on each: buttons, a list, a WhatsApp template, a
-- Messenger tag, media. A contact's channel is read off its address
-- (runtime/core/channel.h): "+15550001", "whatsapp:+15550001",
-- "messenger:PSID", "instagram:IGSID".
-- Part of the trusted side of a bot's Lua VM: see sandbox.lua.
local host, debug, I = ...
local T, U, argerror, decode, encode = I.T, I.U, I.argerror, I.decode, I.encode
local sfind, smatch = I.sfind, I.smatch
local tostring, type = I.tostring, I.type
local tconcat, ulen = T.concat, U.len
-- What a script passes may be a table shared by all conversations (frozen:
-- a proxy that next and rawget see empty), so it is read with indexing and
-- pairs, as the script itself would read it.
local pairs = pairs

local prefixed = { whatsapp = true, messenger = true, instagram = true }

-- "sms", "whatsapp", "messenger" or "instagram"
local function channel_of(address)
  local p = type(address) == "string" and smatch(address, "^(%l+):")
  return p and prefixed[p] and p or "sms"
end

-- The options c:send and send() take (the table form's text aside).
local known = { transactional = true, urgent = true, media = true, buttons = true, list = true,
  template = true, language = true, params = true, tag = true }
local known_list = "transactional, urgent, media, buttons, list, template, language, params, tag"

-- Meta's limits (WhatsApp Cloud API: interactive messages; Messenger:
-- quick replies), checked here so a script learns of them at its line.
local MAX_BUTTONS, BUTTON_TITLE, BUTTON_ID = 3, 20, 256
local MAX_ITEMS, ITEM_TITLE, ITEM_DESCRIPTION, ITEM_ID, LIST_BUTTON = 10, 24, 72, 200, 20
local TAGS = { HUMAN_AGENT = true, CONFIRMED_EVENT_UPDATE = true, POST_PURCHASE_UPDATE = true,
  ACCOUNT_UPDATE = true }
-- a WhatsApp message's text with buttons, a list or media: at most this long
local BODY_WITH_CHOICES, MAX_PARAMS = 1024, 100

local function text_within(v, max, n, fname, what)
  if type(v) == "number" then v = tostring(v) end
  if type(v) ~= "string" then argerror(n, fname, what .. " must be a string") end
  local len = ulen(v)
  if not len or len < 1 or len > max then
    argerror(n, fname, what .. " must be 1 to " .. max .. " characters of UTF-8")
  end
  return v
end

-- A choice: "Yes" (its id is its title), or { id = "yes", title = "Yes",
-- description = "..." (list items only) }.
local function choice(v, i, n, fname, what, max_title, max_id, described)
  local label = what .. "[" .. i .. "]"
  if type(v) ~= "table" then
    local title = text_within(v, max_title, n, fname, label)
    return { id = title, title = title }
  end
  for k in pairs(v) do
    if k ~= "id" and k ~= "title" and not (described and k == "description") then
      argerror(n, fname, label .. ": unknown key '" .. tostring(k) .. "' (known: id, title" ..
        (described and ", description)" or ")"))
    end
  end
  local title = text_within(v.title, max_title, n, fname, label .. ".title")
  local id = v.id
  id = id == nil and title or text_within(id, max_id, n, fname, label .. ".id")
  local out = { id = id, title = title }
  local d = v.description
  if d ~= nil then out.description = text_within(d, ITEM_DESCRIPTION, n, fname, label .. ".description") end
  return out
end

local function choices(list, max, n, fname, what, max_title, max_id, described)
  if type(list) ~= "table" then argerror(n, fname, what .. " must be a list") end
  local count = #list
  if type(count) ~= "number" or count < 1 or count > max then
    argerror(n, fname, what .. ": 1 to " .. max .. " expected, got " .. tostring(count))
  end
  local out, titles, ids = {}, {}, {}
  for i = 1, count do
    local c = choice(list[i], i, n, fname, what, max_title, max_id, described)
    if titles[c.title] or ids[c.id] then
      argerror(n, fname, what .. "[" .. i .. "] repeats a title or an id (each must be unique)")
    end
    titles[c.title], ids[c.id] = true, true
    out[i] = c
  end
  if #out == 0 or #out > max then argerror(n, fname, what .. ": 1 to " .. max .. " expected, got " .. #out) end
  return out
end

-- The choices as numbered lines after the text, for a channel without
-- buttons (SMS): the fan answers with the number or the words.
local function numbered(text, list)
  local lines = { text }
  for i = 1, #list do lines[#lines + 1] = i .. ". " .. list[i].title end
  return tconcat(lines, "\n")
end

local function template_opt(o, n, fname)
  local name = o.template
  if type(name) ~= "string" or not sfind(name, "^[a-z0-9_]+$") or #name > 512 then
    argerror(n, fname, "template must be the name of an approved template (lowercase letters, digits and _)")
  end
  local language = o.language or "en_US"
  if type(language) ~= "string" or not sfind(language, "^%a%a%a?[_%-]?%w*$") or #language > 16 then
    argerror(n, fname, "language must be a template language code like en_US")
  end
  local params, list = o.params or {}, {}
  if type(params) ~= "table" then argerror(n, fname, "params must be a list of strings") end
  local count = #params
  if type(count) ~= "number" or count > MAX_PARAMS then
    argerror(n, fname, "params: at most " .. MAX_PARAMS .. " expected")
  end
  for i = 1, count do list[i] = text_within(params[i], 1024, n, fname, "params[" .. i .. "]") end
  return { name = name, language = language, params = list }
end

-- The template as text, where a message's text is shown (transcripts,
-- the console, the admin API): [template order_update en_US: 1042 | shipped]
local function template_text(t)
  if #t.params == 0 then return "[template " .. t.name .. " " .. t.language .. "]" end
  return "[template " .. t.name .. " " .. t.language .. ": " .. tconcat(t.params, " | ") .. "]"
end

-- opts (nil or a table), for a message to address: transactional, urgent,
-- the text (text, as given: nil with a template), what it carries beside
-- it as the host takes it (JSON: a list of media URLs, or an object with
-- media, buttons, list, template, tag; nil: nothing), and the messages to
-- send after it (nil: none): on Messenger and Instagram a message is text
-- or one attachment, so each media URL goes as a message of its own, its
-- URL its text.
local function shape(address, text, opts, n, fname, media_opt)
  if opts == nil then return false, false, text, nil end
  if type(opts) ~= "table" then argerror(n, fname, "table of options expected, got " .. type(opts)) end
  for k in pairs(opts) do
    if not known[k] then argerror(n, fname, "unknown option '" .. tostring(k) .. "' (known: " .. known_list .. ")") end
  end
  local tr, urgent = opts.transactional and true or false, opts.urgent and true or false
  local ch = channel_of(address)
  local media = opts.media
  if ch == "whatsapp" and type(media) == "table" and #media > 1 then
    argerror(n, fname, "media: WhatsApp takes one a message, got " .. #media)
  end
  media = media ~= nil and media_opt(media, n, fname) or nil
  local attachments -- Messenger's and Instagram's: messages of their own
  if media and (ch == "messenger" or ch == "instagram") then
    attachments, media = decode(media), nil
  end
  local buttons, list = opts.buttons, opts.list
  if buttons ~= nil and list ~= nil then argerror(n, fname, "give buttons or a list, not both") end
  if opts.template ~= nil and (buttons ~= nil or list ~= nil) then
    argerror(n, fname, "a template carries its own buttons: not with buttons or a list")
  end
  local rich = {}
  if buttons ~= nil then
    local b = choices(buttons, MAX_BUTTONS, n, fname, "buttons", BUTTON_TITLE, BUTTON_ID, false)
    if ch == "sms" then text = numbered(text, b) else rich.buttons = b end
  elseif list ~= nil then
    if type(list) ~= "table" then argerror(n, fname, "list must be a table { button = ..., items = {...} }") end
    for k in pairs(list) do
      if k ~= "button" and k ~= "items" then argerror(n, fname, "list: unknown key '" .. tostring(k) .. "' (known: button, items)") end
    end
    local items = choices(list.items, MAX_ITEMS, n, fname, "list.items", ITEM_TITLE, ITEM_ID, true)
    local button = text_within(list.button or "Choose", LIST_BUTTON, n, fname, "list.button")
    if ch == "whatsapp" then rich.list = { button = button, items = items } else text = numbered(text, items) end
  end
  if opts.template ~= nil then
    local t = template_opt(opts, n, fname)
    if ch == "whatsapp" then
      rich.template = t
      text = template_text(t) -- what goes (the text is for other channels)
    elseif text == nil then
      argerror(n, fname, "a template goes on WhatsApp only: give text for " .. ch)
    end
  elseif opts.language ~= nil or opts.params ~= nil then
    argerror(n, fname, "language and params go with a template")
  end
  local tag = opts.tag
  if tag ~= nil then
    if not TAGS[tag] then
      argerror(n, fname, "tag must be HUMAN_AGENT, CONFIRMED_EVENT_UPDATE, POST_PURCHASE_UPDATE or ACCOUNT_UPDATE")
    end
    if ch == "instagram" and tag ~= "HUMAN_AGENT" then
      argerror(n, fname, "tag: Instagram takes HUMAN_AGENT only")
    end
    if ch == "messenger" or ch == "instagram" then rich.tag = tag end
  end
  if media and ch == "whatsapp" and (rich.buttons or rich.list or rich.template) then
    argerror(n, fname, "on WhatsApp, media goes alone with its caption, not with buttons, a list or a template")
  end
  if ch == "whatsapp" and (rich.buttons or rich.list or media) and (ulen(text) or 0) > BODY_WITH_CHOICES then
    argerror(n, fname, "on WhatsApp, a text with buttons, a list or media is at most " ..
      BODY_WITH_CHOICES .. " characters, got " .. tostring(ulen(text)))
  end
  local after
  for i = 1, attachments and #attachments or 0 do -- each with the text's tag
    after = after or {}
    after[i] = { attachments[i], encode({ media = { attachments[i] }, tag = rich.tag }, "send") }
  end
  if not (rich.buttons or rich.list or rich.template or rich.tag) then
    return tr, urgent, text, media, after
  end
  if media then rich.media = decode(media) end
  return tr, urgent, text, encode(rich, "send"), after
end

I.channel_of, I.shape_send, I.template_opt = channel_of, shape, template_opt
