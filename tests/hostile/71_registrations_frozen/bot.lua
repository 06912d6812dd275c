-- Attack: every way a script hands something to the runtime at the top
-- level (globals, modules, bot.config, and each registration API) is a way
-- for one conversation to leave data for the next, if what it hands over
-- stays mutable. Each handler below captures its own top-level table (or gets
-- one from the runtime) and writes the contact's number into it; the next
-- contact reads it.
-- Must get: for every kind, the write is refused (a table made while the
-- script loaded is read-only) or lands in the handler's own copy (drip
-- args), and the second contact sees nothing of the first.
local conf = { name = "hostile 71", limits = { time = "200ms", memory = "8MB" } }
bot.config(conf)

-- what a handler saw before writing, and whether its write was kept
local function probe(kind, t, who)
  local saw = t.who
  local nested_saw = t.inner.who
  local wrote = pcall(function() t.who = who end)
  local nested = pcall(function() t.inner.who = who end)
  return kind .. ": saw " .. tostring(saw) .. "/" .. tostring(nested_saw) .. ", write " ..
    (wrote and "kept" or "refused") .. "/" .. (nested and "kept" or "refused")
end

local function box() return { inner = {} } end

GLOBAL_BOX = box()
local module_box = require("probe_box")
conf.inner = {}
local on_join_box, keyword_box, hear_box, phrase_box, match_box = box(), box(), box(), box(), box()
local handler_box, fallback_box, event_box, status_box, every_box = box(), box(), box(), box(), box()
local optout_box, optin_box = box(), box()

bot.on_join(function(c) return probe("on_join", on_join_box, c.number) end)
bot.keyword("kw", function(c) return probe("keyword", keyword_box, c.number) end)
bot.keyword("global", function(c) return probe("global", GLOBAL_BOX, c.number) end)
bot.keyword("config", function(c) return probe("config", conf, c.number) end)
bot.keyword("module", function(c) return probe("module", module_box, c.number) end)
bot.hear("hearword", function(c) return probe("hear", hear_box, c.number) end)
bot.hear("hear this phrase", function(c) return probe("hear phrase", phrase_box, c.number) end)
bot.match("^match (%a+)$", function(c, msg, x) return probe("match " .. x, match_box, c.number) end)
bot.keyword("ask", function(c)
  c:expect("answer")
  return "asked"
end)
bot.handler("answer", function(c) return probe("handler", handler_box, c.number) end)
bot.fallback(function(c) return probe("fallback", fallback_box, c.number) end)
bot.on_event("probe.ev", function(c, ev) return probe("on_event", event_box, c.number) end)
-- delivery reports do not come in transcripts: registered so its upvalues
-- go through the freeze like the others (tests/hostile/load covers it)
bot.on_status(function(c, st) probe("on_status", status_box, c.number) end)
bot.on_optout(function(c) c.fields.probe = probe("on_optout", optout_box, c.number) end)
bot.on_optin(function(c) return probe("on_optin", optin_box, c.number) end)

bot.handler("tick", function(c, args)
  send("+15550009", probe("every", every_box, "tick " .. bot.now()))
end)
bot.every("every 15m", "tick")

bot.handler("drip_step", function(c, args) return probe("drip args", args, c.number) end)
bot.drip("series", { { after = "20m", call = "drip_step", args = { inner = {} } } })
bot.keyword("drip", function(c)
  c:start_drip("series")
  return "enrolled"
end)
