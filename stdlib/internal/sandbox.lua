-- The trusted side of a bot's Lua VM.
--
-- Runs once per VM with the full standard library, before any bot code. It
-- builds the environment bot scripts see (an allow-list of libraries, the
-- `bot` API), loads the bot, freezes everything the bot's top level left
-- behind, and routes each message to a handler. Everything it needs later is
-- captured in locals here, so nothing a script does can replace it.
--
-- This file holds what every part needs (the captured builtins, errors, the
-- library copies) and loads the parts, in order (see the end): api.lua
-- (rules, bot.config, timers), drips.lua, conversations.lua (segments,
-- broadcasts, templates, the contact's methods, bot.store, send), http.lua,
-- date.lua, environment.lua (globals, require, freezing, loading the bot),
-- router.lua (routing, rt.dispatch), check.lua (parley check). They share
-- one private table, I: each takes what it uses from it into locals and
-- puts there what later parts use; what changes while handlers run (the
-- invocation's contact, its rule, bot.store, whether the top level runs)
-- is in I.cur. Neither I nor the loader is reachable from a script.
local host, debug, load_part = ...

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
local I = {} -- what the parts of this side share (below); never reachable from a script
local frozen = raw_setmetatable({}, { __mode = "k" }) -- frozen table -> true
rt.frozen = frozen
local trusted = raw_setmetatable({}, { __mode = "k" }) -- runtime values the freeze skips

-- What the parts share and change (I.cur):
-- loading: the bot's top level is running.
-- c, p: the running invocation's contact and its private data. One
--   invocation runs at a time in a VM; a contact object kept past its
--   invocation (in a closure) no longer matches and its methods refuse to
--   work.
-- rule: the handler that runs, for errors raised after it returned.
-- store: bot.store, nil until a handler touches it; store_base: the JSON it
--   was decoded from.
-- folder: the bot's folder, for file names in messages; files: its files
--   (path -> source), given to rt.load.
local cur = { loading = true, folder = ".", files = {} }

-- ---------------------------------------------------------------- errors

-- The parts of this side (short_src -> true): this file and those it loads.
local internal_src = { [dgetinfo(1, "S").short_src] = true }

-- Raises msg at the bot's own line: the first caller that is neither one of
-- these files nor C, so an API misuse points at the script, not at the
-- runtime.
local function raise(msg)
  for level = 2, 60 do
    local info = dgetinfo(level, "Sl")
    if not info then break end
    if info.what ~= "C" and not internal_src[info.short_src] and (info.currentline or 0) > 0 then
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
  if not cur.loading then
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

-- what the parts loaded after this one use
I.C, I.M, I.S, I.T, I.U, I.argerror, I.charge = C, M, S, T, U, argerror, charge
I.checktype, I.decode, I.dgetinfo, I.dgetmetatable = checktype, decode, dgetinfo, dgetmetatable
I.dgetupvalue, I.dsetmetatable, I.dupvalueid = dgetupvalue, dsetmetatable, dupvalueid
I.encode, I.error, I.frozen, I.getmetatable, I.host = encode, error, frozen, getmetatable, host
I.host_log, I.host_now, I.host_rule, I.host_send = host_log, host_now, host_rule, host_send
I.host_store, I.load, I.next, I.pack, I.pcall = host_store, load, next, pack, pcall
I.raise, I.raw_setmetatable, I.rawequal, I.rawget = raise, raw_setmetatable, rawequal, rawget
I.rawlen, I.rawset, I.rt, I.sbyte, I.select, I.sfind = rawlen, rawset, rt, sbyte, select, sfind
I.sformat, I.sgmatch, I.sgsub, I.slower, I.smatch = sformat, sgmatch, sgsub, slower, smatch
I.ssub, I.tointeger, I.tonumber, I.top_level_only = ssub, tointeger, tonumber, top_level_only
I.tostring, I.trusted, I.type, I.unpack, I.where = tostring, trusted, type, unpack, where
I.cur = cur

-- The other parts, in order: each is called with (host, debug, I) and takes
-- what it needs from I, puts there what later ones need. load_part (the
-- host's) compiles stdlib/internal/NAME.lua, text only; nothing a script
-- can reach keeps it.
local parts = { "api", "drips", "channels", "conversations", "http", "date", "environment", "router", "check" }
for i = 1, #parts do
  internal_src["stdlib/internal/" .. parts[i] .. ".lua"] = true
  load_part(parts[i])(host, debug, I)
end

return rt
