# Sourced by the e2e tests whose bot fetches over real HTTP:
#   stock_server_start TMP BOTDIR  serves TMP/web/stock.json ({"left": 4}) on
#                                  127.0.0.1:$port (a free port; the server's
#                                  PID is $web) and writes BOTDIR/bot.lua, a
#                                  bot whose keyword "stock" fetches it
#   stock_server_stop              stops it
stock_server_start() {
  mkdir -p "$1/web" "$2"
  printf '{"left": 4}' >"$1/web/stock.json"
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  python3 -m http.server "$port" --bind 127.0.0.1 --directory "$1/web" >/dev/null 2>&1 &
  web=$!
  printf 'bot.config{ name = "Fetch", http = { allow = { "127.0.0.1" } } }
bot.keyword("stock", function(c)
  local res, err = http.get("http://127.0.0.1:%s/stock.json")
  return res and ("Left: " .. tostring(res.json and res.json.left)) or ("failed: " .. err)
end)
' "$port" >"$2/bot.lua"
  for _ in $(seq 1 50); do
    curl -sf "http://127.0.0.1:$port/stock.json" >/dev/null 2>&1 && break
    sleep 0.1
  done
}

stock_server_stop() {
  kill "$web" 2>/dev/null
  wait "$web" 2>/dev/null
  web=""
}
