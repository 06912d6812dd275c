-- A person in the loop: AGENT hands the conversation to a person; while a
-- person has it, the fan's messages reach no handler (STOP still works);
-- handed back, bot.on_handback runs and the handlers answer again.
bot.keyword("AGENT", function(c)
  c:handoff{ reason = "asked for a person" }
  return "Connecting you to a person. They will answer here."
end)

bot.keyword("PING", function() return "pong" end)

bot.fallback(function(c, msg)
  return "Bot here: " .. msg.text
end)

bot.on_handback(function(c, info)
  c.fields.handbacks = (c.fields.handbacks or 0) + 1
  return "You're back with the bot (" .. info.by .. ": " .. info.note .. ")."
end)
