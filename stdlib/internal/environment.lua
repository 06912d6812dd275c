-- The bot's environment: its globals (an allow-list), require, the freeze of
-- everything its top level left behind, bot.env, and loading its files.
-- Part of the trusted side of a bot's Lua VM: see sandbox.lua.
local host, debug, I = ...
local C, M, S, T, U, api, bot, checktype = I.C, I.M, I.S, I.T, I.U, I.api, I.bot, I.checktype
local date, dgetinfo, dgetmetatable = I.date, I.dgetinfo, I.dgetmetatable
local dgetupvalue, drips, dsetmetatable = I.dgetupvalue, I.drips, I.dsetmetatable
local dupvalueid, error, frozen, getmetatable = I.dupvalueid, I.error, I.frozen, I.getmetatable
local global_send, host, http, load, methods = I.global_send, I.host, I.http, I.load, I.methods
local next, pack, pcall, place, raise = I.next, I.pack, I.pcall, I.place, I.raise
local raw_setmetatable, rawequal, rawget = I.raw_setmetatable, I.rawequal, I.rawget
local rawlen, rawset, router, rt, select = I.rawlen, I.rawset, I.router, I.rt, I.select
local sfind, sgsub, ssub, tonumber, tostring = I.sfind, I.sgsub, I.ssub, I.tonumber, I.tostring
local trusted, type, where = I.trusted, I.type, I.where
local cur = I.cur

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
local file_labels = {} -- path -> where a shared module was read
local loaded = {}
local loading_now = {}

local function file_label(path)
  return file_labels[path] or (cur.folder .. "/" .. path)
end

local function module_source(name)
  local rel = sgsub(name, "%.", "/")
  for _, path in ipairs({ rel .. ".lua", rel .. "/init.lua" }) do
    if cur.files[path] then return cur.files[path], file_label(path) end
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
  if not cur.loading then
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
    if cur.loading then given[#given + 1] = { name = "bot." .. name, where = where(2), args = pack(...) } end
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
  return at or (cur.folder .. "/bot.lua: "), table.concat(parts, " > ")
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
  cur.loading = false
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
  cur.files = sources
  cur.folder = dir
  env_values = env or {}
  file_labels = labels or {}
  local src = cur.files["bot.lua"]
  local chunk, err = load(src, "@" .. cur.folder .. "/bot.lua", "t", G)
  if not chunk then error(err, 0) end
  chunk()
end

-- what the parts loaded after this one use
I.file_label, I.no_media = file_label, no_media
