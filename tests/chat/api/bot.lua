-- Exercises the Lua API's edges; transcripts in tests/ pin each behaviour.
bot.config{ name = "API", max_message_chars = 40 }

bot.on_join(function(c, msg)
  c.state.secret = "s3cr3t"
  c.fields.name = "Sam"
  return "joined"
end)

bot.keyword("echo", function(c, msg)
  return "[{{fields.name}}] [{{state.secret}}]"
end)

bot.match("^say (.*)$", function(c, msg, what)
  return what
end)

bot.keyword("long", function(c, msg)
  return ("é"):rep(40)
end)

bot.keyword("toolong", function(c, msg)
  return ("é"):rep(41)
end)

bot.keyword("badsend", function(c, msg)
  c:send(42, { urgnet = true })
end)

bot.keyword("badmedia", function(c, msg)
  c:send("look", { media = { "https://cdn.example.com/a.jpg", "ftp://cdn.example.com/b.jpg" } })
end)

bot.keyword("badutf8", function(c, msg)
  c:send(("Grüße"):sub(1, 3)) -- cut inside the ü
end)

bot.keyword("media", function(c, msg)
  c:send("Poster", { media = "https://cdn.example.com/poster.jpg" })
end)

bot.keyword("badfields", function(c, msg)
  c.fields = "hello"
end)

bot.keyword("badzone", function(c, msg)
  c.timezone = "Mars/Olympus"
end)

bot.keyword("zone", function(c, msg)
  c.timezone = "America/Chicago"
  return "ok"
end)

bot.keyword("two", function(c, msg)
  c:reply("one")
  return "two"
end)

bot.keyword("ask", function(c, msg)
  c:expect("answer")
  return "?"
end)

bot.handler("answer", function(c, msg)
  return "got " .. msg.text
end)

bot.on_optout(function(c, msg)
  c:expect("answer")
  c:send("bye")
end)

bot.fallback(function(c, msg)
  bot.log("fallback for", msg.text)
  error("boom")
end)

-- garbage while a pooled coroutine runs: the running thread must stay anchored
bot.keyword("churn", function(c, msg)
  local keep = {}
  for i = 1, 20000 do
    local co = coroutine.create(function() coroutine.yield(i) end)
    coroutine.resume(co)
    if i % 1000 == 0 then keep[#keep + 1] = co end
  end
  return "churned " .. #keep
end)
