/* Unit tests for handlers that wait for an HTTP response (runtime/engine/waiting.c,
 * engine.h's engine_on_http / engine_http_done): the requests are recorded
 * here and answered in whatever order a test wants, which a transcript
 * cannot do.
 *
 *   make build/test_waiting && ./build/test_waiting */
#include <time.h>

#include "engine.h"
#include "store.h"
#include "test.h"

static const char *const BOT_LUA =
    "bot.config{ name = 'W', quiet_hours = false,\n"
    "  http = { allow = { 'api.test' }, max_bytes = '16MB' },\n"
    "  limits = { instructions = 1000000, time = '1s', memory = '1MB' } }\n"
    "bot.keyword('count', function(c, msg)\n"
    "  bot.store.a = (bot.store.a or 0) + 1\n"
    "  local res = http.get('https://api.test/count')\n"
    "  bot.store.from_a = res.body\n"
    "  return 'count ' .. bot.store.a\n"
    "end)\n"
    "bot.keyword('bump', function(c, msg)\n"
    "  bot.store.b = (bot.store.b or 0) + 1\n"
    "  bot.store.a = 100\n"
    "  return 'bumped'\n"
    "end)\n"
    "local function burn(n) local x = 0 for i = 1, n do x = x + i end return x end\n"
    "bot.keyword('burn', function(c, msg)\n"
    "  burn(300000)\n"
    "  http.get('https://api.test/burn')\n"
    "  burn(300000)\n"
    "  return 'burned'\n"
    "end)\n"
    "bot.keyword('burn once', function(c, msg) burn(300000) burn(10000) return 'once' end)\n"
    "bot.keyword('light', function(c, msg)\n"
    "  burn(100000)\n"
    "  http.get('https://api.test/light')\n"
    "  burn(100000)\n"
    "  return 'light'\n"
    "end)\n"
    "bot.keyword('twice', function(c, msg)\n"
    "  c.state.step = 1\n"
    "  local a = http.get('https://api.test/one')\n"
    "  local b = http.post('https://api.test/two', a.body)\n"
    "  c.state.step = 2\n"
    "  return a.body .. '+' .. b.body\n"
    "end)\n"
    "bot.keyword('keep', function(c, msg)\n"
    "  local res = http.get('https://api.test/big')\n"
    "  return 'kept ' .. #res.body\n"
    "end)\n"
    "bot.handler('step', function(c)\n"
    "  http.get('https://api.test/step')\n"
    "  c:send('step one')\n"
    "end)\n"
    "bot.drip('d', { { after = '1m', call = 'step' }, { after = '1m', text = 'step two' } })\n"
    "bot.keyword('drip', function(c, msg) c:start_drip('d') return 'dripping' end)\n"
    "bot.keyword('schedule it', function(c, msg) bot.store.tid = bot.after('1m', 'slow_timer') end)\n"
    "bot.handler('slow_timer', function(c) http.get('https://api.test/t') c:send('timer done') end)\n"
    "bot.keyword('cancel it', function(c, msg) bot.cancel(bot.store.tid) return 'cancel asked' end)\n"
    "bot.keyword('wait table', function(c, msg)\n"
    "  http.get('https://api.test/wt')\n"
    "  return {}\n"
    "end)\n"
    "bot.fallback(function(c, msg) return 'echo ' .. msg.text end)\n";

static char *tmp;
static int open_threads; /* engine_threads of the engines open_with_bot opens */
static int64_t now_ms = 1772445600000; /* 2026-03-02 10:00 UTC */
static int64_t fake_clock(void *ud) {
  (void)ud;
  return now_ms;
}

/* ---------------------------------------------------------------- recorded */

enum { MAXQ = 16 };
static struct {
  uint64_t id;
  char url[256];
} requests[MAXQ];
static int nrequests;

static void record_request(void *ud, const engine_http_request *r) {
  (void)ud;
  if (nrequests < MAXQ) {
    requests[nrequests].id = r->id;
    snprintf(requests[nrequests].url, sizeof requests[nrequests].url, "%s", r->url);
    nrequests++;
  }
}

static char sent[32][128]; /* "to: text" and "error: ..." in order */
static int nsent;

static void on_message(void *ud, const engine_message *m) {
  (void)ud;
  if (nsent < 32) snprintf(sent[nsent++], sizeof sent[0], "%s: %s", m->to, m->text);
}

static void on_action(void *ud, const engine_action *a) {
  (void)ud;
  if (strncmp(a->text, "error: ", 7) == 0 && nsent < 32)
    snprintf(sent[nsent++], sizeof sent[0], "%s", a->text);
}

static int say(engine *e, bot *b, const char *from, const char *text) {
  char err[512];
  inbound in = {.from = from, .text = text, .len = strlen(text)};
  int rc = engine_handle(e, b, &in, 1, err, sizeof err);
  if (rc) test_note("engine_handle: %s", err);
  return rc;
}

static int answer(engine *e, uint64_t id, long status, const char *body) {
  static const char *const headers[] = {"content-type", "text/plain"};
  engine_http_result r = {.status = status, .body = body, .body_len = body ? strlen(body) : 0,
                          .headers = headers, .nheaders = 1,
                          .error = status ? NULL : "timed out"};
  char err[512];
  int rc = engine_http_done(e, id, &r, err, sizeof err);
  if (rc == 0) rc = engine_flush(e, err, sizeof err);
  if (rc) test_note("engine_http_done: %s", err);
  return rc;
}

static char *store_of(engine *e, bot *b) { return store_bot_store_get(engine_store(e), bot_id(b), NULL); }

/* ---------------------------------------------------------------- tests */

static void test_busy_conversation_waits(engine *e, bot *b) {
  nrequests = nsent = 0;
  say(e, b, "+15550001", "count");
  CHECK_INT(nrequests, 1, "the handler made its request");
  CHECK_INT(engine_http_waiting(e), 1, "and waits");
  CHECK_INT(nsent, 0, "nothing is sent while it waits");
  say(e, b, "+15550002", "hello");
  CHECK_INT(nsent, 1, "another conversation is handled meanwhile");
  CHECK_STR(sent[0], "+15550002: echo hello", "... with its reply");
  say(e, b, "+15550001", "later");
  CHECK_INT(nsent, 1, "the waiting fan's next message is not handled yet");
  say(e, b, "+15550002", "bump"); /* changes bot.store while count waits */
  CHECK_INT(nsent, 2, "bump runs meanwhile");
  answer(e, requests[0].id, 200, "forty-two");
  CHECK_INT(engine_http_waiting(e), 0, "the answer ends the wait");
  CHECK_STR(nsent > 2 ? sent[2] : NULL, "+15550001: count 1",
            "the handler finishes with the answer");
  char err[256];
  engine_advance(e, now_ms, err, sizeof err);
  CHECK_STR(nsent > 3 ? sent[3] : NULL, "+15550001: echo later",
            "the message that came meanwhile runs after it");
  char *store = store_of(e, b);
  CHECK_HAS(store, "\"b\":1", "bot.store keeps what another handler wrote meanwhile");
  CHECK_HAS(store, "\"a\":1", "... and the waiting handler's own change wins on its key");
  CHECK_HAS(store, "\"from_a\":\"forty-two\"", "... and what it wrote after the wait");
  free(store);
}

static void test_budget_is_carried(engine *e, bot *b) {
  nsent = 0;
  say(e, b, "+15550003", "burn once");
  CHECK_STR(nsent ? sent[0] : NULL, "+15550003: once", "half of burn fits the limit");
  nrequests = nsent = 0;
  say(e, b, "+15550003", "burn");
  answer(e, requests[0].id, 200, "ok");
  CHECK_HAS(nsent ? sent[0] : NULL, "instruction limit exceeded",
            "instructions before and after the wait count together");
  nrequests = nsent = 0;
  say(e, b, "+15550003", "light");
  struct timespec nap = {1, 200 * 1000000L}; /* more than limits.time */
  nanosleep(&nap, NULL);
  answer(e, requests[0].id, 200, "ok");
  CHECK_STR(nsent ? sent[0] : NULL, "+15550003: light",
            "within the limits, and the time spent waiting does not count");
}

static void test_two_requests(engine *e, bot *b) {
  nrequests = nsent = 0;
  say(e, b, "+15550004", "twice");
  CHECK_INT(nrequests, 1, "the first request");
  answer(e, requests[0].id, 200, "one");
  CHECK_INT(nrequests, 2, "after its answer, the second");
  CHECK_STR(requests[1].url, "https://api.test/two", "... to its URL");
  CHECK_INT(nsent, 0, "still nothing sent");
  answer(e, requests[1].id, 200, "two");
  CHECK_STR(nsent ? sent[0] : NULL, "+15550004: one+two", "both answers reach the handler");
  char err[256];
  CHECK_INT(engine_http_done(e, 987654, &(engine_http_result){.error = "x"}, err, sizeof err), 0,
            "an answer nobody waits for is ignored");
}

static void test_no_response(engine *e, bot *b) {
  nrequests = nsent = 0;
  say(e, b, "+15550005", "count");
  answer(e, requests[0].id, 0, NULL);
  CHECK_HAS(nsent ? sent[0] : NULL, "attempt to index a nil value",
            "no response: http.get returned nil (the script indexed it)");
  nrequests = nsent = 0;
  say(e, b, "+15550005", "hi");
  CHECK_STR(nsent ? sent[0] : NULL, "+15550005: echo hi", "the conversation is free again");
}

/* An error found after the handler returned names the handler's line,
 * also when other handlers ran while it waited. */
static void test_error_after_the_wait(engine *e, bot *b) {
  nrequests = nsent = 0;
  say(e, b, "+15550009", "wait table");
  say(e, b, "+15550002", "hello");
  CHECK_STR(nsent ? sent[0] : NULL, "+15550002: echo hello", "another handler runs meanwhile");
  answer(e, requests[0].id, 200, "ok");
  CHECK_HAS(nsent > 1 ? sent[1] : NULL, "bot.lua:49: the handler returned a table",
            "the waiting handler's error names its line");
}

static void test_order_after_the_wait(engine *e, bot *b) {
  nrequests = nsent = 0;
  char err[256];
  say(e, b, "+15550007", "count");
  say(e, b, "+15550007", "first");
  answer(e, requests[0].id, 200, "x");
  say(e, b, "+15550007", "second"); /* before any advance ran "first" */
  engine_advance(e, now_ms, err, sizeof err);
  CHECK_INT(nsent, 3, "three replies");
  CHECK_STR(nsent > 1 ? sent[1] : NULL, "+15550007: echo first",
            "the message that waited runs before one that came after the wait ended");
  CHECK_STR(nsent > 2 ? sent[2] : NULL, "+15550007: echo second", "... which runs next");
}

static void test_answer_counts_against_memory(engine *e, bot *b) {
  nrequests = nsent = 0;
  size_t n = 3u << 20;
  char *big = malloc(n + 1);
  memset(big, 'x', n);
  big[n] = 0;
  say(e, b, "+15550008", "keep");
  answer(e, requests[0].id, 200, big);
  free(big);
  CHECK_HAS(nsent ? sent[0] : NULL, "memory limit exceeded",
            "a 3 MB answer does not fit a handler's 1 MB memory limit");
  nrequests = nsent = 0;
  say(e, b, "+15550008", "keep");
  answer(e, requests[0].id, 200, "small");
  CHECK_STR(nsent ? sent[0] : NULL, "+15550008: kept 5", "a small one does");
}

static void test_opt_out_while_waiting(engine *e, bot *b) {
  nrequests = nsent = 0;
  char err[256];
  say(e, b, "+15550009", "drip");
  now_ms += 61000;
  engine_advance(e, now_ms, err, sizeof err); /* the drip's first step waits */
  CHECK_INT(nrequests, 1, "the drip step's handler waits");
  say(e, b, "+15550009", "hello"); /* queued behind it */
  say(e, b, "+15550009", "STOP");
  CHECK_HAS(nsent > 1 ? sent[1] : NULL, "unsubscribed", "STOP is answered at once");
  answer(e, requests[0].id, 200, "ok");
  now_ms += 10 * 60000;
  engine_advance(e, now_ms, err, sizeof err);
  for (int i = 0; i < nsent; i++)
    if (strstr(sent[i], "step") || strstr(sent[i], "echo hello"))
      test_note("sent after STOP: %s", sent[i]);
  int after = 0;
  for (int i = 0; i < nsent; i++) after += strstr(sent[i], "step") || strstr(sent[i], "echo") != NULL;
  CHECK_INT(after, 0, "after STOP during the wait: no step message, no next step, no script "
                      "for the message that waited");
}

/* Whether timer id is pending (due by now). */
static int timer_pending(engine *e, bot *b, int64_t id) {
  timer_row *ts;
  size_t n;
  int found = 0;
  if (store_timers_due(engine_store(e), bot_id(b), now_ms, NULL, 1000, &ts, &n)) return -1;
  for (size_t i = 0; i < n; i++) {
    found |= ts[i].id == id;
    timer_row_free(&ts[i]);
  }
  free(ts);
  return found;
}

static void test_cancel_of_a_running_timer(engine *e, bot *b) {
  nrequests = nsent = 0;
  char err[256];
  say(e, b, "+15550010", "schedule it");
  char *store = store_of(e, b);
  const char *tid = store ? strstr(store, "\"tid\":") : NULL;
  int64_t id = tid ? atoll(tid + 6) : 0;
  free(store);
  now_ms += 61000;
  engine_advance(e, now_ms, err, sizeof err);
  CHECK_INT(nrequests, 1, "the timer's handler waits");
  say(e, b, "+15550011", "cancel it");
  CHECK_INT(timer_pending(e, b, id), 1,
            "bot.cancel of a timer whose handler waits leaves it (it runs already)");
  answer(e, requests[0].id, 200, "ok");
  CHECK_STR(nsent > 1 ? sent[1] : NULL, "+15550010: timer done", "the handler finishes");
  CHECK_INT(timer_pending(e, b, id), 0, "and its timer is done");
}

static void test_erased_while_waiting(engine *e, bot *b) {
  nrequests = nsent = 0;
  say(e, b, "+15550006", "count");
  char err[256];
  CHECK_INT(engine_erase_contact(e, b, "+15550006", err, sizeof err), 1,
            "a contact is erased while its handler waits");
  answer(e, requests[0].id, 200, "late");
  CHECK_INT(nsent, 0, "the answer is dropped: nothing is sent to an erased contact");
}

/* (declared below) */
static engine *open_with_bot(const char *name, const char *lua, bot **b);

/* A bot whose keyword 'hog' holds 14 MB and waits for a response (the
 * limits line is the test's), and whose fallback echoes the length. */
#define HOG_BOT(limits)                                                           \
  "bot.config{ name = 'H', http = { allow = { 'api.test' } },\n"                  \
  "  limits = " limits " }\n"                                                     \
  "bot.keyword('hog', function(c, msg)\n"                                         \
  "  local t = {}\n"                                                              \
  "  for i = 1, 14 * 16 do t[i] = string.rep('x', 65536 - 32) .. i end\n"         \
  "  http.get('https://api.test/hog')\n"                                          \
  "  return 'hogged ' .. #t\n"                                                    \
  "end)\n"                                                                        \
  "bot.fallback(function(c, msg) return 'echo ' .. #msg.text end)\n"

/* 'hog' from count contacts numbered from prefix; how many were refused the
 * wait. */
static int hog(engine *e, bot *b, const char *prefix, int count) {
  int refused = 0;
  char number[32];
  for (int i = 0; i < count; i++) {
    snprintf(number, sizeof number, "%s%04d", prefix, i);
    nsent = 0;
    say(e, b, number, "hog");
    if (nsent && strstr(sent[0], "waiting for responses hold")) refused++;
  }
  return refused;
}

/* A message of n bytes of c from number; 0 if it could not be made. */
static int say_long(engine *e, bot *b, const char *number, size_t n, char c) {
  char *text = malloc(n + 1);
  if (!text) return 0;
  memset(text, c, n);
  text[n] = 0;
  nsent = 0;
  say(e, b, number, text);
  free(text);
  return 1;
}

/* Handlers waiting for a response keep their memory. Enough of them once
 * reached the VM's hard cap, and the engine, pushing the next handler's
 * arguments outside any protected call, made Lua panic: the process
 * exited. Now the waiting handlers of a bot have a memory budget
 * (limits.waiting_memory): past it a new wait is refused with an error in
 * the handler, and the other conversations go on. */
static void test_waiting_memory_budget(void) {
  static const char *const HOG_LUA =
      HOG_BOT("{ instructions = 1e8, time = '5s', memory = '32MB' }");
  bot *b;
  engine *e = open_with_bot("hogbot", HOG_LUA, &b);
  if (!e) return;
  nrequests = nsent = 0;
  int refused = hog(e, b, "+1555020", 90);
  CHECK(engine_http_waiting(e) < 90, "not every handler may wait holding 14 MB (%zu wait)",
        engine_http_waiting(e));
  CHECK(refused > 0, "the waits past the bot's budget are refused with an error (%d)", refused);
  /* 4 MB: more than the VM had left when 72 handlers of 14 MB waited */
  say_long(e, b, "+15550299", (size_t)4 << 20, 'y');
  CHECK_STR(nsent ? sent[0] : NULL, "+15550299: echo 4194304",
            "another contact's (long) message is answered");
  nsent = 0;
  say(e, b, "+15550298", "hello");
  CHECK_STR(nsent ? sent[0] : NULL, "+15550298: echo 5", "and the next one");
  engine_close(e);
}

/* A handler whose arguments the VM cannot hold (here a text larger than
 * what the VM has left under its hard cap, with 504 MB held by waiting
 * handlers) fails with an error record; the process goes on. */
static void test_arguments_too_big(void) {
  static const char *const HOG_LUA = HOG_BOT(
      "{ instructions = 1e8, time = '5s', memory = '32MB', waiting_memory = '512MB' }");
  bot *b;
  engine *e = open_with_bot("argbot", HOG_LUA, &b);
  if (!e) return;
  hog(e, b, "+1555040", 36);
  CHECK_INT(engine_http_waiting(e), 36, "36 handlers of 14 MB wait (within 512 MB)");
  if (!say_long(e, b, "+15550301", (size_t)560 << 20, 'x')) {
    engine_close(e);
    return;
  }
  CHECK_HAS(nsent ? sent[0] : NULL, "error: not enough memory left in the bot's VM",
            "a text the VM cannot hold is an error record");
  nsent = 0;
  say(e, b, "+15550302", "hello");
  CHECK_STR(nsent ? sent[0] : NULL, "+15550302: echo 5", "the next contact's message is answered");
  engine_close(e);
}

/* A waiting handler's memory is its own across the wait: garbage other
 * handlers leave meanwhile is not room for it (the limit was measured from
 * the heap's size at the resumption, garbage included). */
static void test_garbage_across_a_wait(void) {
  static const char *const KEEP_LUA =
      "bot.config{ name = 'K', http = { allow = { 'api.test' } },\n"
      "  limits = { instructions = 1e8, time = '5s', memory = '4MB' } }\n"
      "local chunk = string.rep('x', 65536 - 32)\n"
      "local function fill(t, from, n) for i = from, from + n * 16 - 1 do t[i] = chunk .. i end end\n"
      "bot.keyword('keep', function(c, msg)\n"
      "  local t = {}\n"
      "  fill(t, 1, 2)\n"
      "  http.get('https://api.test/keep')\n"
      "  fill(t, 1000, 4)\n"
      "  return 'kept 6 MiB'\n"
      "end)\n"
      "bot.keyword('junk', function(c, msg)\n"
      "  fill({}, 1, 3)\n"
      "  return 'junk'\n"
      "end)\n"
      "bot.keyword('small', function(c, msg)\n"
      "  local t = {}\n"
      "  fill(t, 1, 1)\n"
      "  http.get('https://api.test/small')\n"
      "  fill(t, 1000, 1)\n"
      "  return 'kept 2 MiB'\n"
      "end)\n";
  bot *b;
  engine *e = open_with_bot("keepbot", KEEP_LUA, &b);
  if (!e) return;
  nrequests = nsent = 0;
  say(e, b, "+15550501", "keep");
  CHECK_INT(engine_http_waiting(e), 1, "the handler holding 2 MiB waits");
  say(e, b, "+15550502", "junk");
  say(e, b, "+15550503", "junk");
  CHECK_INT(nsent, 2, "two other handlers leave 3 MiB of garbage each meanwhile");
  nsent = 0;
  answer(e, requests[0].id, 200, "ok");
  CHECK_HAS(nsent ? sent[0] : NULL, "memory limit exceeded (4096 KiB per message)",
            "after the wait, 4 MiB more do not fit its 4 MB limit, garbage or not");
  nrequests = nsent = 0;
  say(e, b, "+15550504", "small");
  say(e, b, "+15550502", "junk");
  answer(e, requests[0].id, 200, "ok");
  CHECK_STR(nsent > 1 ? sent[1] : NULL, "+15550504: kept 2 MiB", "1 + 1 MiB do");
  engine_close(e);
}

/* A new in-memory engine with the bot `lua` loaded from tmp/name, requests
 * recorded here; NULL (reported) if it does not load. */
static engine *open_with_bot(const char *name, const char *lua, bot **b) {
  char *dir = test_path(tmp, name);
  mkdir(dir, 0700);
  char *file = test_path(dir, "bot.lua");
  test_write_file(file, lua, strlen(lua));
  engine_observer obs = {on_message, on_action, NULL, NULL, 0};
  engine_options opt = {.db_path = ":memory:", .clock = fake_clock, .observer = &obs,
                        .engine_threads = open_threads};
  char err[2048];
  engine *e = engine_open(&opt, err, sizeof err);
  *b = e ? engine_load_bot(e, dir, err, sizeof err) : NULL;
  if (!test_result(e && *b, "an engine loads the bot %s", name)) {
    test_note("%s", err);
    engine_close(e);
    e = NULL;
  } else {
    engine_on_http(e, record_request, NULL);
  }
  free(file);
  free(dir);
  return e;
}

/* Pending recurring timers of the bot. */
static size_t every_pending(engine *e, bot *b) {
  timer_row *ts;
  size_t n = 0;
  store_timers_every(engine_store(e), bot_id(b), &ts, &n);
  for (size_t i = 0; i < n; i++) timer_row_free(&ts[i]);
  free(ts);
  return n;
}

/* A recurring timer whose handler waits, and a reload meanwhile: the timer
 * goes on (one pending run), and so it does after the answer. */
static void test_recurring_across_a_reload(void) {
  static const char *const EVERY_LUA =
      "bot.config{ name = 'E', http = { allow = { 'api.test' } } }\n"
      "bot.handler('tick', function() http.get('https://api.test/tick') send('+15550123', 'tick') end)\n"
      "bot.every('every 15m', 'tick')\n";
  bot *b;
  engine *e = open_with_bot("everybot", EVERY_LUA, &b);
  if (!e) return;
  char err[2048];
  nrequests = nsent = 0;
  now_ms += 16 * 60000;
  engine_advance(e, now_ms, err, sizeof err);
  CHECK_INT(nrequests, 1, "the recurring timer's handler waits");
  CHECK_INT(every_pending(e, b), 1, "its next run is the one pending recurring timer");
  char *dir = test_path(tmp, "everybot");
  bot *b2 = engine_load_bot(e, dir, err, sizeof err); /* a reload */
  free(dir);
  CHECK(b2 != NULL, "a reload while it waits");
  answer(e, requests[0].id, 200, "ok");
  CHECK_STR(nsent ? sent[0] : NULL, "+15550123: tick", "the waiting handler finishes");
  CHECK_INT(b2 ? every_pending(e, b2) : 0, 1,
            "after the reload and the answer, the timer still has its next run");
  now_ms += 15 * 60000;
  engine_advance(e, now_ms, err, sizeof err);
  CHECK_INT(nrequests, 2, "and it runs");
  engine_close(e);
}

/* The limits on waiting handlers are the bot's and the server's, whatever
 * the number of workers: with two, 500 handlers of one bot over many
 * conversations (both workers' partitions) are all it may have waiting. */
static void test_limit_counts_every_worker(void) {
  enum { PER_BOT = 500 }; /* docs/api.md: 500 of a bot, 1000 of the server */
  open_threads = 2;
  bot *b;
  engine *e = open_with_bot("limitbot", BOT_LUA, &b);
  open_threads = 0;
  if (!e) return;
  char number[32];
  for (int i = 0; i < PER_BOT; i++) {
    snprintf(number, sizeof number, "+1555%07d", 100000 + i);
    say(e, b, number, "count");
  }
  CHECK_INT((long)engine_http_waiting(e), PER_BOT,
            "%d handlers of the bot wait, over both workers", PER_BOT);
  nsent = 0;
  say(e, b, "+15559999999", "count");
  CHECK_INT((long)engine_http_waiting(e), PER_BOT,
            "one more of that bot does not wait, whichever worker it is on");
  int refused = 0;
  for (int i = 0; i < nsent; i++)
    refused |= strstr(sent[i], "handlers of this bot are waiting for responses already") != NULL;
  CHECK(refused, "its handler fails: the bot's handlers are waiting already");
  engine_close(e);
}

int main(void) {
  tmp = test_tmpdir();
  bot *b;
  engine *e = open_with_bot("waitbot", BOT_LUA, &b);
  if (e) {
    test_busy_conversation_waits(e, b);
    test_budget_is_carried(e, b);
    test_two_requests(e, b);
    test_no_response(e, b);
    test_error_after_the_wait(e, b);
    test_erased_while_waiting(e, b);
    test_order_after_the_wait(e, b);
    test_answer_counts_against_memory(e, b);
    test_opt_out_while_waiting(e, b);
    test_cancel_of_a_running_timer(e, b);
    engine_close(e);
  }
  test_recurring_across_a_reload();
  /* The two cases that hold hundreds of MB (2.9 GB at the peak) are left
   * out under ThreadSanitizer (make test-tsan sets PARLEY_SANITIZED=thread):
   * its shadow memory would multiply that, and they test a memory budget,
   * not threads. */
  const char *sanitized = getenv("PARLEY_SANITIZED");
  if (sanitized && strcmp(sanitized, "thread") == 0) {
    printf("# left out under ThreadSanitizer: the two cases of hundreds of MB\n");
  } else {
    test_waiting_memory_budget();
    test_arguments_too_big();
  }
  test_garbage_across_a_wait();
  test_limit_counts_every_worker();
  test_rmtree(tmp);
  free(tmp);
  return test_done();
}
