-- Attack: make the garbage collector run a full cycle during a handler, by
-- creating many short-lived coroutines that allocate. The handler's own
-- coroutine is taken from the runtime's pool of idle threads; if the runtime
-- does not keep it referenced while it runs, the collector frees it under the
-- running handler (use after free: a segfault or worse).
-- Must get: the handler finishes normally ("made 2000") and the next message
-- works, however often it is repeated.
bot.config{ name = "hostile 52", limits = { time = "500ms", memory = "16MB" } }

bot.keyword("attack", function(c)
  for _ = 1, 2000 do
    local co = coroutine.create(function() local garbage = {} end)
    coroutine.resume(co)
  end
  return "made 2000"
end)

bot.keyword("attack2", function(c)
  local made = 0
  for _ = 1, 20 do
    local t = {}
    for i = 1, 1000 do t[i] = { i } end
    made = made + #t
  end
  return "made " .. made
end)

bot.keyword("ping", function() return "pong" end)
