-- Load-time attack: an unknown bot.config key.
-- Must get: an error naming 'bogus', at this file and line.
bot.config{ bogus = 1 }
