-- Runs one file of Lua 5.4.4's test suite the same way in plain Lua and in a
-- bot handler: a fresh environment holding the globals a bot script has
-- (the sandbox's allow-list), the suite's control globals (prelude.lua),
-- then the file's text as a chunk of its own. Like _G in plain Lua, the
-- environment is its own _G and the default environment of load. Returns "ok" or
-- "error: <message>".
local names = { "assert", "error", "getmetatable", "ipairs", "load", "next", "pairs", "pcall",
  "print", "rawequal", "rawget", "rawlen", "rawset", "select", "setmetatable", "tonumber",
  "tostring", "type", "xpcall", "_VERSION", "coroutine", "math", "string", "table", "utf8" }

local G = _G

---@param prelude string the suite's control globals (prelude.lua)
---@param text string the test file, cuts applied
---@param chunkname string the file's name, for error messages
---@return string
return function(prelude, text, chunkname)
  local env = {}
  for _, k in ipairs(names) do env[k] = G[k] end
  env._G = env
  -- the file's globals are env, so is the default environment of what it loads
  local lua_load = load
  env.load = function(chunk, chunkname, mode, ...)
    local f, err
    if select("#", ...) == 0 then
      f, err = lua_load(chunk, chunkname, mode, env)
    else
      f, err = lua_load(chunk, chunkname, mode, ...)
    end
    return f, err
  end
  local pre, perr = load(prelude, "=prelude", "t", env)
  if not pre then return "error: " .. perr end
  pre()
  local f, err = load(text, "@" .. chunkname, "t", env)
  if not f then return "error: " .. err end
  local ok, e = pcall(f)
  if ok then return "ok" end
  return "error: " .. (type(e) == "string" and e or "error object is a " .. type(e))
end
