-- wrk script for bench/http.sh: the workload of shared/bench/WORKLOAD.md as
-- signed Twilio webhooks, each message sent exactly once.
--
--   wrk -tT -cC ... -s bench/http/twilio.lua http://127.0.0.1:PORT \
--       -- MESSAGES T DONEDIR [PATH]
--
-- MESSAGES: the lines of bench/http/gen.py ("<signature> <form body>"), line
-- i being message i. Thread t (0-based, numbered in setup) sends the lines
-- i with i mod T == t, in order: T divides the 10,000 contacts, so every
-- message of a contact goes through one thread, in index order, and one
-- thread keeps at most C/T requests in flight (a contact's next message is
-- 10,000/T requests later). When a thread has every answer to its lines it
-- notes the time, leaves a mark in DONEDIR and stops; the last one sends wrk
-- SIGINT, which ends the run (bench/http.sh does it itself should that
-- signal get lost). Requests after a thread's list is used up (while its
-- last answers are still coming) are GET /healthz, not counted as webhooks.
--
-- done() prints one line for the harness (times in microseconds; list_us:
-- from the first webhook sent to the last one answered, over all threads,
-- the time the list took whenever wrk stops):
--   parley-bench: requests=N duration_us=N list_us=N p50_us=N p90_us=N
--                 p99_us=N max_us=N posts=N sent=N replies=N non200=N
--                 healthz=N connect_errors=N read_errors=N ...

local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } parley_timespec;
int clock_gettime(int clock, parley_timespec *ts);
int usleep(unsigned int usec);
]]
local ts = ffi.new("parley_timespec")
local function now_us() -- CLOCK_REALTIME, comparable across threads
  ffi.C.clock_gettime(0, ts)
  return tonumber(ts.tv_sec) * 1000000 + tonumber(ts.tv_nsec) / 1000
end

local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local reqs, n = {}, 0
nextreq = 1 -- global: done() reads it
local healthz
local verify = false
local nthreads, donedir
local finished = false
-- read back by done() through thread:get
answered, replies, non200, healthz_answered = 0, 0, 0, 0
first_us, last_us = 0, 0 -- this thread's first webhook sent, last answered

function init(args)
  local file = args[1]
  nthreads = tonumber(args[2])
  donedir = args[3]
  local path = args[4] or "/twilio/workload"
  if not file or not nthreads or not donedir then
    error("usage: ... -s twilio.lua URL -- MESSAGES THREADS DONEDIR [PATH]")
  end
  if 10000 % nthreads ~= 0 then
    error("the thread count must divide the 10,000 contacts (per-contact order)")
  end
  local i = 0
  for line in io.lines(file) do
    if i % nthreads == tid then
      local sig, body = line:match("^(%S+) (.*)$")
      n = n + 1
      reqs[n] = wrk.format("POST", path, {
        ["Content-Type"] = "application/x-www-form-urlencoded",
        ["X-Twilio-Signature"] = sig,
      }, body)
    end
    i = i + 1
  end
  healthz = wrk.format("GET", "/healthz", {})
  -- wrk asks thread 0 for one request before the run to check it parses;
  -- that one is never sent
  verify = tid == 0
  local f = assert(io.open(donedir .. "/ready." .. tid, "w"))
  f:close()
end

-- wrk starts each thread as soon as its init() is done, while the next one
-- is still loading the list: each thread waits here for all of them, so
-- the run starts with every thread and no list being read
local function wait_for_all()
  for t = 0, nthreads - 1 do
    while true do
      local g = io.open(donedir .. "/ready." .. t)
      if g then g:close() break end
      ffi.C.usleep(1000)
    end
  end
end

function request()
  if verify then
    verify = false
    return reqs[1]
  end
  local r = reqs[nextreq]
  if r then
    if nextreq == 1 then
      wait_for_all()
      first_us = now_us()
    end
    reqs[nextreq] = nil -- each message once; and the memory goes
    nextreq = nextreq + 1
    return r
  end
  return healthz
end

local function finish()
  finished = true
  last_us = now_us()
  local f = assert(io.open(donedir .. "/done." .. tid, "w"))
  f:close()
  local all = true
  for t = 0, nthreads - 1 do
    local g = io.open(donedir .. "/done." .. t)
    if g then g:close() else all = false end
  end
  if all then
    -- the shell's parent is wrk; its main thread sleeps until SIGINT.
    -- (popen, not os.execute: system() ignores SIGINT while it runs)
    local p = io.popen("kill -INT $PPID")
    p:close()
  end
  wrk.thread:stop()
end

local find = string.find

function response(status, headers, body)
  if body == "ok\n" then
    healthz_answered = healthz_answered + 1
    return
  end
  answered = answered + 1
  if status ~= 200 then
    non200 = non200 + 1
  else
    local at = find(body, "<Message>", 1, true)
    while at do
      replies = replies + 1
      at = find(body, "<Message>", at + 9, true)
    end
  end
  if answered == n and not finished then finish() end
end

function done(summary, latency, requests)
  local posts, rep, bad, hz, sent = 0, 0, 0, 0, 0
  local first, last = math.huge, 0
  for _, t in ipairs(threads) do
    first = math.min(first, t:get("first_us"))
    last = math.max(last, t:get("last_us"))
    posts = posts + t:get("answered")
    rep = rep + t:get("replies")
    bad = bad + t:get("non200")
    hz = hz + t:get("healthz_answered")
    sent = sent + t:get("nextreq") - 1
  end
  local e = summary.errors
  io.write(string.format(
    "parley-bench: requests=%d duration_us=%d list_us=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d " ..
    "posts=%d sent=%d replies=%d non200=%d healthz=%d " ..
    "connect_errors=%d read_errors=%d write_errors=%d timeouts=%d\n",
    summary.requests, summary.duration, last > 0 and last - first or -1, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, posts, sent, rep, bad, hz,
    e.connect, e.read, e.write, e.timeout))
end
