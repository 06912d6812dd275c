-- A module shared by the bots of tests/chat (require("lib.greeting")).
local words = require("lib.words")

local M = {}

-- the same environment as the bot's own code: no io, os or debug
M.env = tostring(io) .. " " .. tostring(os) .. " " .. tostring(debug)

function M.hello(name)
  return words.hi .. ", " .. name .. "!"
end

function M.fail()
  error("the shared module failed")
end

return M
