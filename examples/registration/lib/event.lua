-- The event this line signs people up for, and the text helpers bot.lua uses.
--
-- A module is loaded once, by require at the top level of bot.lua; the table
-- it returns is frozen with the rest of the script (read-only in handlers),
-- which suits constants like these.
local M = {}

M.name = "Riverside Maker Faire"
M.date = "Sat Apr 18, 10am-4pm"
M.place = "Riverside Community Hall, 120 Main St"
M.contact = "Dana, +1 555-0199"

-- The staff member who gets questions and may answer them with ANSWER: a
-- setting of the deployment, not of the code (PARLEY_BOT_REGISTRATION_STAFF_NUMBER,
-- or env.STAFF_NUMBER under [bot registration] in the config file); the
-- front desk's number when none is given.
M.staff = bot.env.STAFF_NUMBER or "+15550199"

-- The longest name and question kept; longer ones are cut.
M.max_name = 60
M.max_question = 300

local KEYWORDS = "Text REGISTER to sign up, DETAILS for the when and where, "
  .. "QUESTION to ask us something, WITHDRAW to give up your spot."

---The event's date, place and who to call, in one line.
---@return string
function M.details()
  return M.name .. ": " .. M.date .. " at " .. M.place .. ". Questions? Text QUESTION or call "
    .. M.contact .. "."
end

---What the bot can do, for the fallback.
---@param registered boolean whether the fan already has a spot
---@return string
function M.menu(registered)
  if registered then
    return "You're registered for the " .. M.name .. " (ticket #{{fields.ticket}}). " .. KEYWORDS
  end
  return "This is the " .. M.name .. " line. " .. KEYWORDS
end

---Removes leading and trailing whitespace and collapses inner runs to one space.
---@param text string
---@return string
function M.squeeze(text)
  return (text:gsub("%s+", " "):gsub("^ ", ""):gsub(" $", ""))
end

---Cuts text to at most n characters (UTF-8 aware), adding "..." when cut.
---@param text string
---@param n integer
---@return string
function M.clip(text, n)
  local len = utf8.len(text)
  if len == nil or len <= n then return text end
  return text:sub(1, utf8.offset(text, n + 1) - 1) .. "..."
end

---Makes fan-written text safe to put into a message: the runtime expands
---{{...}} in every text it sends, and a fan's own words must arrive as written.
---@param text string
---@return string
function M.literal(text)
  return (text:gsub("{{", "{ {"))
end

---Checks a name a fan sent.
---@param text string the message
---@return string|nil name the cleaned name, or nil
---@return string|nil problem why the name was refused
function M.clean_name(text)
  local name = M.squeeze(text)
  if name == "" or not name:find("%a") then
    return nil, "Please send just the name for your badge, like Sam Lee."
  end
  if utf8.len(name) == nil then
    return nil, "That name has characters I can't read. Please send it again."
  end
  return M.clip(name, M.max_name)
end

return M
