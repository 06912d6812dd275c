-- The control globals of Lua's test suite (see its all.lua), set before
-- each file, in plain Lua and in the sandbox alike.
_soft = true   -- skip long and memory-hungry parts
_port = true   -- skip non-portable parts
_nomsg = true  -- no messages about skipped parts
T = nil        -- no internal (testC) tests
function Message() end
