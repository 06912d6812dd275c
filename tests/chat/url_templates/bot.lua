-- {{url name}}: a value put into a URL, percent-encoded (RFC 3986)
bot.config{ name = "Maps & Co" }

bot.match("^city ", function(c, msg)
  c.fields.city = msg.text:sub(6)
  return "https://maps.example.com/?q={{url fields.city}} ({{fields.city}})"
end)

bot.keyword("link", function(c, msg)
  return "{{ url number }} {{url bot.name}} {{url tags.vip}} {{url fields.none}}|"
end)

bot.keyword("count", function(c, msg)
  c.fields.n = 42
  return "n={{url fields.n}}"
end)

bot.keyword("typo", function(c, msg)
  return "https://x.example/?q={{urll fields.city}}"
end)

bot.keyword("plain", function(c, msg)
  -- not a template name: stays as written, as any other {{...}}
  return "{{hello world}} {{url state.x}}"
end)

bot.keyword("again", function(c, msg)
  -- an inserted value is not expanded again
  c.fields.city = "{{fields.n}} & {{url number}}"
  return "{{url fields.city}} {{fields.city}}"
end)

bot.fallback(function(c, msg) return "?" end)

bot.keyword("bcast", function(c, msg)
  bot.broadcast{ text = "Near you: https://x.example/?c={{urll fields.city}}" }
end)
