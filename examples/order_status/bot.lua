-- Order status for an online shop, from the shop's own API.
--
--   ORDER 1234      where the order is (GET /orders/1234)
--   POINTS          the loyalty balance (GET /loyalty/<number>)
--
-- and, from the shop's backend, POST /v1/bots/order_status/events with
-- {"type": "order.paid", "contact": "+1555...", "data": {"order": "1234", "total": 42.5}}:
-- the bot credits loyalty points (POST /loyalty/<number>/credit) and texts a receipt.
--
-- While a handler waits for the shop's API, the bot keeps answering every
-- other customer. When the API does not answer, the customer hears so and
-- the bot tries again in two minutes with a timer. The credit carries the
-- order number as its idempotency key: after a crash a waiting handler runs
-- again, and the shop must not credit twice.
bot.config{
  name = "Juniper Goods",
  numbers = { "+15550400" },
  help = "Juniper Goods order updates: ORDER <number>, POINTS. Reply STOP to opt out.",
  timezone = "America/Chicago",
  http = { allow = { "api.junipergoods.example" }, timeout = "4s", max_bytes = "64KB" },
}

-- The shop's API and its key are settings of the deployment, not of the code:
-- PARLEY_BOT_ORDER_STATUS_SHOP_API_KEY in the server's environment (or
-- env.SHOP_API_KEY under [bot order_status] in its config file). Without one,
-- the shop's demo key, which its sandbox API accepts.
local API = bot.env.SHOP_API_URL or "https://api.junipergoods.example"
local KEY = { ["X-Api-Key"] = bot.env.SHOP_API_KEY or "demo-key" }

local function describe(id, o)
  if o.status == "shipped" then
    return "Order " .. id .. " shipped " .. o.shipped_on .. ", arriving " .. o.eta ..
      ". Tracking: " .. o.tracking
  elseif o.status == "processing" then
    return "Order " .. id .. " is being packed. We'll text you when it ships."
  end
  return "Order " .. id .. ": " .. tostring(o.status)
end

-- The order's status as a text, or nil when the API did not answer.
local function order_text(id)
  local res = http.get(API .. "/orders/" .. id, { headers = KEY })
  if not res or res.status >= 500 then return nil end
  if res.status == 404 then return "We can't find order " .. id .. ". Check the number on your receipt." end
  if res.status ~= 200 or type(res.json) ~= "table" then return nil end
  return describe(id, res.json)
end

bot.match("^order #?(%d+)$", function(c, msg, id)
  local text = order_text(id)
  if text then return text end
  bot.after("2m", "retry_order", { order = id })
  return "Our order system is slow right now. We'll text you about order " .. id .. " shortly."
end)

bot.handler("retry_order", function(c, args)
  c:send(order_text(args.order) or
    ("Sorry, we still can't reach our order system. Reply ORDER " .. args.order .. " to try again."))
end)

bot.keyword("POINTS", function(c, msg)
  local res, err = http.get(API .. "/loyalty/" .. c.number, { headers = KEY })
  if not res or res.status ~= 200 then return "Points are not available right now, try again later." end
  return "You have " .. res.json.points .. " points."
end)

bot.on_event("order.paid", function(c, ev)
  local points = math.floor((ev.total or 0) + 0.5)
  local headers = { ["X-Api-Key"] = KEY["X-Api-Key"], ["Idempotency-Key"] = "order-" .. ev.order }
  local res = http.post(API .. "/loyalty/" .. c.number .. "/credit",
    { points = points, order = ev.order }, { headers = headers })
  local receipt = "Thanks! Order " .. ev.order .. " is paid."
  if res and res.status == 200 then
    receipt = receipt .. " You earned " .. points .. " points (" .. res.json.balance .. " in all)."
  end
  c:send(receipt, { transactional = true })
end)

bot.fallback(function(c, msg)
  return "Text ORDER and your order number (ORDER 1234), or POINTS."
end)
