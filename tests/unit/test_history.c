/* Unit tests for a conversation's past (runtime/engine/history.c,
 * store_history.h): the contact is written before an inbound message only
 * when it changed since it was written last, and the answers a handler's
 * requests got are kept: in full, or flagged when too large or not text.
 *
 *   make build/test_history && ./build/test_history */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine.h"
#include "store.h"
#include "store_history.h"
#include "test.h"

static const char *const BOT_LUA =
    "bot.config{ name = 'H', quiet_hours = false, http = { allow = { 'api.test' },\n"
    "  max_bytes = '1MB' } }\n"
    "bot.keyword('set', function(c) c.state.n = (c.state.n or 0) + 1 c:tag('seen') end)\n"
    "bot.keyword('noop', function(c) return 'ok' end)\n"
    "bot.keyword('fetch', function(c)\n"
    "  local res = http.get('https://api.test/a')\n"
    "  local big = http.get('https://api.test/big')\n"
    "  local bin = http.get('https://api.test/bin')\n"
    "  return 'got ' .. res.body .. ' ' .. #big.body .. ' ' .. #bin.body\n"
    "end)\n";

static int64_t now_ms = 1772445600000LL;
static int64_t fake_clock(void *ud) {
  (void)ud;
  return now_ms;
}

static uint64_t ids[8];
static int nids;
static void record_request(void *ud, const engine_http_request *r) {
  (void)ud;
  if (nids < 8) ids[nids++] = r->id;
}

static int say(engine *e, bot *b, const char *text) {
  char err[512];
  now_ms += 1000;
  inbound in = {.from = "+15550001", .text = text, .len = strlen(text)};
  int rc = engine_handle(e, b, &in, 1, err, sizeof err);
  if (rc) test_note("engine_handle: %s", err);
  return rc;
}

static void keep_inbound(void *ud, const history_message *m) {
  if (strcmp(m->direction, "in") == 0) *(int64_t *)ud = m->id;
}

/* The id of the contact's last inbound message. */
static int64_t last_in(engine *e, bot *b) {
  contact_row c;
  if (store_contact_get(engine_store(e), bot_id(b), "+15550001", &c) <= 0) return 0;
  int64_t id = 0;
  store_history_messages(engine_store(e), c.id, 0, keep_inbound, &id);
  contact_row_free(&c);
  return id;
}

static void collect(void *ud, const http_answer_row *a) {
  http_answer_row *out = ud;
  int i = 0;
  while (out[i].url && i < 3) i++;
  if (i < 3) {
    out[i] = *a;
    out[i].url = strdup(a->url);
    out[i].body = a->body ? strdup(a->body) : NULL;
  }
}

int main(void) {
  char *tmp = test_tmpdir();
  char *dir = test_path(tmp, "h");
  mkdir(dir, 0700);
  char *file = test_path(dir, "bot.lua");
  test_write_file(file, BOT_LUA, strlen(BOT_LUA));
  engine_options opt = {.db_path = ":memory:", .clock = fake_clock};
  char err[2048];
  engine *e = engine_open(&opt, err, sizeof err);
  bot *b = e ? engine_load_bot(e, dir, err, sizeof err) : NULL;
  if (!test_result(e && b, "an engine loads the bot")) {
    test_note("%s", err);
    return test_done();
  }
  engine_on_http(e, record_request, NULL);
  contact_row c;
  say(e, b, "noop");
  int64_t m1 = last_in(e, b);
  say(e, b, "set");
  int64_t m2 = last_in(e, b);
  say(e, b, "noop");
  int64_t m3 = last_in(e, b);
  say(e, b, "noop");
  int64_t m4 = last_in(e, b);
  store_contact_get(engine_store(e), bot_id(b), "+15550001", &c);
  snapshot_row s;
  CHECK(store_snapshot_before(engine_store(e), c.id, m1, &s) == 1 && s.message_id == m1 &&
            (!s.state || strcmp(s.state, "{}") == 0) && !s.joined && strcmp(s.status, "subscribed") == 0,
        "before the first message: a new contact (no state, not joined)");
  snapshot_row_free(&s);
  CHECK(store_snapshot_before(engine_store(e), c.id, m2, &s) == 1 && s.message_id == m2 &&
            (!s.state || strcmp(s.state, "{}") == 0) && s.joined,
        "before the second: joined (the first message's handling changed that)");
  snapshot_row_free(&s);
  CHECK(store_snapshot_before(engine_store(e), c.id, m3, &s) == 1 && s.message_id == m3 &&
            s.state && strstr(s.state, "\"n\":1") && strstr(s.tags, "seen") && s.joined,
        "what the second message changed is written before the third (state, tags, joined)");
  snapshot_row_free(&s);
  CHECK(store_snapshot_before(engine_store(e), c.id, m4, &s) == 1 && s.message_id == m3,
        "nothing changed since: the fourth message writes none, the third's is in force");
  snapshot_row_free(&s);

  /* the answers a handler's requests got */
  say(e, b, "fetch");
  int64_t m5 = last_in(e, b);
  static const char *const headers[] = {"content-type", "text/plain"};
  size_t big_len = HTTP_ANSWER_KEPT + 1;
  char *big = malloc(big_len + 1);
  memset(big, 'x', big_len);
  big[big_len] = 0;
  const char bin[] = {'a', (char)0xff, 'b'};
  const struct {
    const char *body;
    size_t len;
  } answers[] = {{"three", 5}, {big, big_len}, {bin, sizeof bin}};
  for (int i = 0; i < 3; i++) {
    if (i >= nids) break;
    engine_http_result r = {.status = 200, .body = answers[i].body, .body_len = answers[i].len,
                            .headers = headers, .nheaders = 1};
    if (engine_http_done(e, ids[i], &r, err, sizeof err) || engine_flush(e, err, sizeof err))
      test_note("engine_http_done: %s", err);
  }
  http_answer_row got[3] = {{0}};
  store_http_answers_each(engine_store(e), c.id, 0, collect, got);
  CHECK(got[0].url && strcmp(got[0].url, "https://api.test/a") == 0 && got[0].status == 200 &&
            got[0].body && strcmp(got[0].body, "three") == 0 && got[0].message_id == m5 &&
            !got[0].truncated,
        "an answer is kept with its message, status and body");
  CHECK(got[1].url && got[1].truncated && !got[1].body,
        "a body larger than %d bytes is not kept, and flagged", HTTP_ANSWER_KEPT);
  CHECK(got[2].url && got[2].truncated && !got[2].body, "nor is one that is not UTF-8 text");
  for (int i = 0; i < 3; i++) {
    free((char *)got[i].url);
    free((char *)got[i].body);
  }
  free(big);
  contact_row_free(&c);
  engine_close(e);
  free(file);
  free(dir);
  test_rmtree(tmp);
  free(tmp);
  return test_done();
}
