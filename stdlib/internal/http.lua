-- http.get and http.post: a handler waits for the response (the host
-- suspends it), its invocation's state put back when it resumes.
-- Part of the trusted side of a bot's Lua VM: see sandbox.lua.
local host, debug, I = ...
local argerror, cfg, charge, checktype = I.argerror, I.cfg, I.charge, I.checktype
local decode, encode, host, host_store = I.decode, I.encode, I.host, I.host_store
local http_timeout_ms, next, pcall, raise = I.http_timeout_ms, I.next, I.pcall, I.raise
local rawget, rawset, sfind, slower, tostring = I.rawget, I.rawset, I.sfind, I.slower, I.tostring
local type = I.type
local cur = I.cur

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
  if cur.loading then raise(fname .. " is available only inside handlers") end
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
  local c, p, rule, store, store_base = cur.c, cur.p, cur.rule, cur.store, cur.store_base
  local status, rbody, rheaders = host_http(method, url, body, headers_json, timeout)
  cur.c, cur.p, cur.rule, cur.store, cur.store_base = c, p, rule, store, store_base
  if store ~= nil then cur.store_base = rebase_store(store, store_base) end
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

-- what the parts loaded after this one use
I.http = http
