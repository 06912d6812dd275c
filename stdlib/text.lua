-- text: small string helpers for bot scripts.
--
--   local text = require("text")
--   text.trim("  hi  ")                 --> "hi"
--   text.words("Hello, big world!")     --> { "hello", "big", "world" }
--   text.list({ "Austin", "Dallas", "Denver" })  --> "Austin, Dallas and Denver"
local text = {}

---Removes whitespace at both ends.
---@param s string
---@return string
function text.trim(s)
  return (s:gsub("^%s+", ""):gsub("%s+$", ""))
end

---The lowercased words of s (letters, digits, underscores and non-ASCII bytes).
---@param s string
---@return string[]
function text.words(s)
  local out = {}
  for w in s:lower():gmatch("[%w_\128-\255]+") do out[#out + 1] = w end
  return out
end

---Splits s at each occurrence of the plain separator sep (default ",").
---@param s string
---@param sep? string
---@return string[]
function text.split(s, sep)
  sep = sep or ","
  local out, from = {}, 1
  while true do
    local i, j = s:find(sep, from, true)
    if not i then break end
    out[#out + 1] = s:sub(from, i - 1)
    from = j + 1
  end
  out[#out + 1] = s:sub(from)
  return out
end

---True if s starts with prefix.
---@param s string
---@param prefix string
---@return boolean
function text.starts_with(s, prefix)
  return s:sub(1, #prefix) == prefix
end

---The first letter of each word in upper case: "new york" -> "New York".
---@param s string
---@return string
function text.title(s)
  return (s:lower():gsub("(%a)([%w']*)", function(a, b) return a:upper() .. b end))
end

---Joins items as a sentence: "a", "a and b", "a, b and c".
---@param items string[]
---@param conjunction? string
---@return string
function text.list(items, conjunction)
  conjunction = conjunction or "and"
  local n = #items
  if n == 0 then return "" end
  if n == 1 then return items[1] end
  return table.concat(items, ", ", 1, n - 1) .. " " .. conjunction .. " " .. items[n]
end

return text
