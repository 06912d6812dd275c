-- Load-time attack: an instruction limit out of range.
-- Must get: an error naming limits.instructions, exit 1 (not a crash).
bot.config{ limits = { instructions = 5 } }
