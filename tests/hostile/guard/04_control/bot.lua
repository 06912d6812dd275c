-- Control for tests/e2e/host_charges.sh: the time and peak memory of a
-- transcript that does nothing, subtracted from the attacks' figures.
bot.config{ name = "guard 04" }

bot.keyword("ping", function() return "pong" end)
