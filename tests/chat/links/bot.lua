-- Tracked links: {{link "URL"}} in replies, drips and broadcasts, c:link,
-- bot.on_click, and the clicked segment.
bot.config{ name = "Links", timezone = "America/New_York" }

bot.keyword("presale", function(c)
  return 'Presale: {{link "https://shop.example/presale"}}'
end)

bot.keyword("both", function(c)
  return '{{link "https://shop.example/a"}} or {{link "https://shop.example/b"}}, ' ..
    'again {{link "https://shop.example/a"}}'
end)

bot.keyword("mine", function(c)
  local link = c:link("https://shop.example/mine")
  c:reply("Yours: " .. link)
  return "Once more: " .. c:link("https://shop.example/mine")
end)

bot.keyword("bad link", function(c)
  local link = c:link("javascript:alert(1)")
  return link
end)

bot.keyword("bad template", function(c)
  c:reply("{{link https://shop.example/x}}")
end)

bot.keyword("join", function(c)
  c:start_drip("welcome")
  return "Welcome!"
end)

bot.drip("welcome", {
  { after = "1d", text = 'Day one: {{link "https://shop.example/day1"}}' },
})

bot.keyword("blast", function(c)
  bot.broadcast{ text = 'Sale: {{link "https://shop.example/sale"}}', rate = 100 }
  return "sending"
end)

bot.keyword("count", function(c)
  local n = 0
  for _ in bot.contacts{ clicked = "https://shop.example/sale" } do n = n + 1 end
  local any = 0
  for _ in bot.contacts{ clicked = true } do any = any + 1 end
  return n .. " clicked the sale, " .. any .. " clicked a link"
end)

bot.keyword("bad segment", function(c)
  for _ in bot.contacts{ clicked = "sale" } do end
end)

bot.on_click(function(c, click)
  c.fields.clicks = (c.fields.clicks or 0) + 1
  return "You opened " .. click.url
end)

bot.fallback(function(c) return "hi" end)
