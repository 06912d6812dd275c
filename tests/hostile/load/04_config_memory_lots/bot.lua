-- Load-time attack: a memory limit that is not a size.
-- Must get: an error naming limits.memory and 'lots' (not a crash).
bot.config{ limits = { memory = "lots" } }
