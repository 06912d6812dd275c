-- Attack: tracked links in bulk. c:link in a loop (each a row in the store
-- and a code), and a message of hundreds of {{link "..."}} placeholders.
-- Must get: at most 32 links from one handler (the 33rd an error naming the
-- limit, nothing of the handler kept), and at most 16 links in one message
-- (the placeholders past them show their URL, not a link); a URL that is
-- not http(s) is refused at the handler's line.
bot.config{ name = "hostile 72", limits = { time = "1s" }, max_message_chars = 1600 }

bot.keyword("set", function(c)
  c.state.x = "kept"
  return "set"
end)

bot.keyword("attack", function(c)
  c.state.x = "changed"
  for i = 1, 1000 do c:link("https://shop.example/" .. i) end
  return "made"
end)

bot.keyword("attack2", function(c)
  local parts = {}
  for i = 1, 20 do parts[#parts + 1] = '{{link "https://s.example/' .. i .. '"}}' end
  return table.concat(parts, " ")
end)

bot.keyword("attack3", function(c)
  local link = c:link("javascript:alert(document.cookie)")
  return link
end)

bot.keyword("ping", function() return "pong" end)
