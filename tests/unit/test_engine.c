/* Unit tests for runtime/engine/engine.h: the message pipeline end to end, against
 * a bot written by the test into a temporary folder and a database file
 * (or the empty PostgreSQL database PARLEY_TEST_DB names: tests/run.sh runs
 * it on both). Results are read back through store.h, an observer, and
 * (for the errors table) a second connection.
 *
 *   make build/test_engine && ./build/test_engine */
#include <stdatomic.h>

#include "compliance.h"
#include "engine.h"
#include "sql_db.h"
#include "store.h"
#include "test.h"

static const char *const BOT_LUA =
    "bot.config{\n"
    "  name = 'Test Bot',\n"
    "  help = 'Test Bot help: reply STOP to stop.',\n"
    "}\n"
    "\n"
    "bot.keyword('START', function(c, msg) return 'keyword start' end)\n"
    "\n"
    "bot.keyword('FAIL', function(c, msg)\n"
    "  c.state.n = 999\n"
    "  c.fields.broken = true\n"
    "  c:tag('broken')\n"
    "  bot.store.failed = true\n"
    "  c:reply('reply before the error')\n"
    "  send('+15550999', 'send before the error')\n"
    "  error('boom')\n"
    "end)\n"
    "\n"
    "bot.keyword('REMEMBER', function(c, msg)\n"
    "  c.fields.city = 'Austin'\n"
    "  c:tag('vip')\n"
    "  bot.store.total = (bot.store.total or 0) + 1\n"
    "  return 'remembered ' .. bot.store.total\n"
    "end)\n"
    "\n"
    "bot.keyword('TZ', function(c, msg)\n"
    "  c.timezone = 'America/Chicago'\n"
    "  return 'tz set'\n"
    "end)\n"
    "\n"
    "bot.match('^tell (%+%d+) (.+)$', function(c, msg, to, text)\n"
    "  return 'told ' .. send(to, text)\n"
    "end)\n"
    "\n"
    "bot.match('^urgent (%+%d+) (.+)$', function(c, msg, to, text)\n"
    "  return 'urgent ' .. send(to, text, { transactional = true })\n"
    "end)\n"
    "\n"
    "bot.on_optout(function(c, msg)\n"
    "  c:send('plain send after opt-out')\n"
    "  c:send('transactional send after opt-out', { transactional = true })\n"
    "end)\n"
    "\n"
    "bot.on_optin(function(c, msg) return 'on_optin ran' end)\n"
    "\n"
    "bot.fallback(function(c, msg)\n"
    "  c.state.n = (c.state.n or 0) + 1\n"
    "  return 'n=' .. c.state.n\n"
    "end)\n";

static const char *const HELP_TEXT = "Test Bot help: reply STOP to stop.";

static char *tmp, *db_path, *bot_dir;
static char *optout_text, *optin_text; /* the runtime's defaults */

/* ---------------------------------------------------------------- clock */

/* 2026-03-02 10:00 UTC, a millisecond more at each reading; atomic: with
 * several workers every one of them reads the clock at once */
static _Atomic int64_t fake_now = 1772445600000;

static int64_t fake_clock(void *ud) {
  (void)ud;
  return atomic_fetch_add(&fake_now, 1);
}

/* ---------------------------------------------------------------- observer */

typedef struct observed {
  int is_message;
  char *number, *text, *status;
  engine_reply reply;      /* a message's */
  engine_action_kind kind; /* an action's */
  char *detail;
} observed;

static observed *events;
static size_t nevents, cap_events;

static void observe(int is_message, const char *number, const char *text,
                    const char *status) {
  if (nevents == cap_events) {
    cap_events = cap_events ? cap_events * 2 : 256;
    events = realloc(events, cap_events * sizeof *events);
  }
  events[nevents++] = (observed){is_message, strdup(number), strdup(text),
                                 status ? strdup(status) : NULL, ENGINE_REPLY_NONE,
                                 ENGINE_ACTION_SHOWN, NULL};
}

static void on_message(void *ud, const engine_message *m) {
  (void)ud;
  observe(1, m->to, m->text, m->status);
  events[nevents - 1].reply = m->reply;
}

static void on_action(void *ud, const engine_action *a) {
  (void)ud;
  observe(0, a->number, a->text, NULL);
  events[nevents - 1].kind = a->kind;
  events[nevents - 1].detail = a->detail ? strdup(a->detail) : NULL;
}

/* The last observed message to number with that text, or NULL. */
static observed *observed_message(const char *number, const char *text) {
  for (size_t i = nevents; i-- > 0;)
    if (events[i].is_message && strcmp(events[i].number, number) == 0 &&
        strcmp(events[i].text, text) == 0)
      return &events[i];
  return NULL;
}

static void forget_events(void) {
  for (size_t i = 0; i < nevents; i++) {
    free(events[i].number);
    free(events[i].text);
    free(events[i].status);
    free(events[i].detail);
  }
  nevents = 0;
}

/* Observed outgoing messages to number (text NULL: any text). */
static int observed_messages(const char *number, const char *text) {
  int n = 0;
  for (size_t i = 0; i < nevents; i++)
    if (events[i].is_message && strcmp(events[i].number, number) == 0 &&
        (!text || strcmp(events[i].text, text) == 0))
      n++;
  return n;
}

/* Observed actions for number whose text contains part. */
static int observed_actions(const char *number, const char *part) {
  int n = 0;
  for (size_t i = 0; i < nevents; i++)
    if (!events[i].is_message && strcmp(events[i].number, number) == 0 &&
        strstr(events[i].text, part))
      n++;
  return n;
}

static const engine_observer observer = {on_message, on_action, NULL, NULL, 0};

/* ---------------------------------------------------------------- engine */

static engine *open_engine(size_t contact_cache) {
  engine_options opt = {.db_path = db_path, .clock = fake_clock,
                        .observer = &observer, .contact_cache = contact_cache};
  char err[1024] = "";
  engine *e = engine_open(&opt, err, sizeof err);
  if (!e) {
    printf("# engine_open: %s\n", err);
    return NULL;
  }
  return e;
}

/* A bot folder NAME in the test's folder with src as its bot.lua; the
 * folder's path (the caller frees it). */
static char *bot_folder(const char *name, const char *src) {
  char *dir = test_path(tmp, name);
  mkdir(dir, 0700);
  char *file = test_path(dir, "bot.lua");
  test_write_file(file, src, strlen(src));
  free(file);
  return dir;
}

static bot *load_bot(engine *e) {
  char err[4096] = "";
  bot *b = engine_load_bot(e, bot_dir, err, sizeof err);
  if (!b) printf("# engine_load_bot: %s\n", err);
  return b;
}

/* Handles a batch; clears the observer log first. Returns engine_handle's. */
static int handle(engine *e, bot *b, const inbound *msgs, size_t n) {
  char err[1024] = "";
  forget_events();
  int rc = engine_handle(e, b, msgs, n, err, sizeof err);
  if (rc) test_note("engine_handle: %s", err);
  return rc;
}

static int say(engine *e, bot *b, const char *from, const char *text) {
  inbound m = {.from = from, .to = "+15550100", .text = text,
               .len = strlen(text)};
  return handle(e, b, &m, 1);
}

static int say_with_id(engine *e, bot *b, const char *from, const char *text,
                       const char *provider_id) {
  inbound m = {.from = from, .text = text, .len = strlen(text),
               .provider_id = provider_id};
  return handle(e, b, &m, 1);
}

/* ---------------------------------------------------------------- store */

/* The stored contact; .id is 0 when it does not exist. Free with
 * contact_row_free. */
static contact_row contact_of(engine *e, bot *b, const char *number) {
  contact_row r = {0};
  store_contact_get(engine_store(e), bot_id(b), number, &r);
  return r;
}

static char *status_of(engine *e, bot *b, const char *number) {
  contact_row r = contact_of(e, b, number);
  static char status[32];
  snprintf(status, sizeof status, "%s", r.status ? r.status : "(no contact)");
  contact_row_free(&r);
  return status;
}

static char *state_of(engine *e, bot *b, const char *number) {
  contact_row r = contact_of(e, b, number);
  static char state[256];
  snprintf(state, sizeof state, "%s", r.state ? r.state : "(no contact)");
  contact_row_free(&r);
  return state;
}

/* A contact's messages: "in:text:status|out:text:status|...". */
typedef struct transcript {
  char *text;
  size_t len;
} transcript;

static void add_to_transcript(void *ud, const char *direction, const char *text,
                              const char *status, int64_t at) {
  (void)at;
  transcript *t = ud;
  size_t need = strlen(direction) + strlen(text) + strlen(status) + 4;
  t->text = realloc(t->text, t->len + need + 1);
  t->len += (size_t)sprintf(t->text + t->len, "%s%s:%s:%s", t->len ? "|" : "",
                            direction, text, status);
}

/* Caller frees. "" when the contact does not exist. */
static char *messages_of(engine *e, bot *b, const char *number) {
  transcript t = {strdup(""), 0};
  contact_row r = contact_of(e, b, number);
  if (r.id) store_messages_each(engine_store(e), r.id, add_to_transcript, &t);
  contact_row_free(&r);
  return t.text;
}

/* How many times part occurs in text. */
static int occurrences(const char *text, const char *part) {
  int n = 0;
  for (const char *p = text; (p = strstr(p, part)); p += strlen(part)) n++;
  return n;
}

static void add_to_consent(void *ud, const char *action, const char *source,
                           const char *text, int64_t at) {
  (void)at;
  transcript *t = ud;
  size_t need = strlen(action) + strlen(source) + (text ? strlen(text) : 6) + 4;
  t->text = realloc(t->text, t->len + need + 1);
  t->len += (size_t)sprintf(t->text + t->len, "%s%s:%s:%s", t->len ? "|" : "",
                            action, source, text ? text : "(null)");
}

/* "optout:keyword:STOP|optin:keyword:START"; caller frees. */
static char *consent_of(engine *e, bot *b, const char *number) {
  transcript t = {strdup(""), 0};
  contact_row r = contact_of(e, b, number);
  if (r.id) store_consent_each(engine_store(e), r.id, add_to_consent, &t);
  contact_row_free(&r);
  return t.text;
}

/* The first column of the first row of sql, through a second connection. */
static long long sql_int(const char *sql) {
  char err[512];
  sql_db *db = sql_open(db_path, err, sizeof err);
  sql_stmt *s = db ? sql_prepare(db, sql) : NULL;
  long long v = s && sql_step(s) == SQL_ROW ? (long long)sql_column_int(s, 0) : -1;
  if (v < 0) test_note("sql: %s", db ? sql_error(db) : err);
  sql_finalize(s);
  sql_close(db);
  return v;
}

/* Runs sql (on PostgreSQL: pg_sql) through a second connection; 0 on
 * success. */
static int run_sql(const char *sql, const char *pg_sql) {
  char err[512];
  sql_db *db = sql_open(db_path, err, sizeof err);
  int rc = db ? sql_exec(db, sql_kind_of(db) == SQL_POSTGRES ? pg_sql : sql) : -1;
  if (rc) test_note("sql: %s", db ? sql_error(db) : err);
  sql_close(db);
  return rc;
}

/* ---------------------------------------------------------------- tests */

static void test_reply_is_stored_as_outbound(engine *e, bot *b) {
  CHECK_INT(say(e, b, "+15550001", "hello"), 0, "a message is handled");
  char *m = messages_of(e, b, "+15550001");
  CHECK_STR(m, "in:hello:done|out:n=1:sent",
            "the message and the script's reply are stored");
  free(m);
  CHECK_INT(observed_messages("+15550001", "n=1"), 1,
            "the observer sees the reply once");
  CHECK_STR(state_of(e, b, "+15550001"), "{\"n\":1}", "c.state is stored");
  CHECK_INT(handle(e, b, NULL, 0), 0, "an empty batch is handled");
}

static void test_stop_opts_out(engine *e, bot *b) {
  const char *fan = "+15550002";
  say(e, b, fan, "hello");
  say(e, b, fan, "please stop by the store");
  CHECK_STR(state_of(e, b, fan), "{\"n\":2}",
            "\"please stop by the store\" goes to the script");
  CHECK_INT(say(e, b, fan, "STOP"), 0, "STOP is handled");
  CHECK_STR(status_of(e, b, fan), "opted_out", "STOP opts the contact out");
  char *ledger = consent_of(e, b, fan);
  CHECK_STR(ledger, "optout:keyword:STOP", "STOP appends to the consent ledger");
  free(ledger);
  CHECK_INT(observed_messages(fan, optout_text), 1,
            "STOP sends one confirmation");
  char *m = messages_of(e, b, fan);
  CHECK_INT(occurrences(m, optout_text), 1, "one confirmation is stored");
  CHECK_HAS(m, "out:plain send after opt-out:suppressed",
            "a plain c:send in on_optout is suppressed");
  CHECK_HAS(m, "out:transactional send after opt-out:sent",
            "a transactional c:send in on_optout is sent");
  free(m);
  CHECK_INT(observed_messages(fan, "plain send after opt-out"), 0,
            "the observer sees no suppressed message go out");
  CHECK_INT(observed_messages(fan, "transactional send after opt-out"), 1,
            "the observer sees the transactional message go out");
  CHECK_INT(observed_actions(fan, "opted out (STOP)"), 1,
            "the observer sees the opt-out");

  CHECK_INT(say(e, b, fan, "hello?"), 0, "a message after STOP is handled");
  say(e, b, fan, "tell +15550001 psst");
  CHECK_INT(observed_messages(fan, NULL), 0, "an opted-out contact gets no reply");
  CHECK_STR(state_of(e, b, fan), "{\"n\":2}",
            "the script does not run for an opted-out contact");
  m = messages_of(e, b, fan);
  CHECK_HAS(m, "in:hello?:done", "the message of an opted-out contact is stored");
  const char *tail = strstr(m, "in:hello?:done");
  CHECK(tail && !strstr(tail, "out:"), "no outbound message follows it");
  free(m);
  m = messages_of(e, b, "+15550001");
  CHECK(!strstr(m, "psst"), "the script's send() did not run either");
  free(m);
}

static void test_start_opts_back_in(engine *e, bot *b) {
  const char *fan = "+15550002"; /* opted out by test_stop_opts_out */
  CHECK_INT(say(e, b, fan, "Start"), 0, "START from an opted-out contact is handled");
  CHECK_STR(status_of(e, b, fan), "subscribed", "START opts the contact back in");
  char *ledger = consent_of(e, b, fan);
  CHECK_STR(ledger, "optout:keyword:STOP|optin:keyword:Start",
            "START appends to the consent ledger");
  free(ledger);
  CHECK_INT(observed_messages(fan, optin_text), 1, "START sends one confirmation");
  CHECK_INT(observed_messages(fan, "on_optin ran"), 1, "on_optin runs");
  CHECK_INT(observed_messages(fan, "keyword start"), 0,
            "the script's START keyword does not run for an opt-in");

  say(e, b, fan, "START");
  CHECK_INT(observed_messages(fan, "keyword start"), 1,
            "START from a subscribed contact goes to the script's keyword");
  CHECK_INT(observed_messages(fan, optin_text), 0,
            "and sends no opt-in confirmation");
  ledger = consent_of(e, b, fan);
  CHECK_INT(occurrences(ledger, "optin"), 1, "and appends nothing to the ledger");
  free(ledger);
  say(e, b, fan, "hello");
  CHECK_INT(observed_messages(fan, "n=3"), 1,
            "the script runs again, with the state it had");
}

static void test_help_answers_even_when_opted_out(engine *e, bot *b) {
  const char *fan = "+15550003";
  say(e, b, fan, "help");
  CHECK_INT(observed_messages(fan, HELP_TEXT), 1, "HELP gets the help text");
  say(e, b, fan, "STOP");
  say(e, b, fan, "HELP!");
  CHECK_INT(observed_messages(fan, HELP_TEXT), 1,
            "HELP from an opted-out contact gets the help text");
  CHECK_STR(status_of(e, b, fan), "opted_out", "HELP does not opt back in");
  say(e, b, fan, "info");
  CHECK_INT(observed_messages(fan, HELP_TEXT), 1, "INFO gets the help text too");
  CHECK_STR(state_of(e, b, fan), "{}", "HELP and INFO never run the script");
}

static void test_handler_error_commits_nothing(engine *e, bot *b) {
  const char *fan = "+15550004";
  say(e, b, fan, "hello");
  char *before = messages_of(e, b, fan);
  CHECK_INT(say(e, b, fan, "FAIL"), 0, "a batch with a failing handler succeeds");
  CHECK_STR(state_of(e, b, fan), "{\"n\":1}", "a failed handler leaves c.state");
  contact_row r = contact_of(e, b, fan);
  CHECK_STR(r.fields, "{}", "a failed handler leaves c.fields");
  CHECK_STR(r.tags, "[]", "a failed handler leaves the tags");
  contact_row_free(&r);
  char *after = messages_of(e, b, fan);
  size_t n = strlen(before);
  CHECK(strncmp(after, before, n) == 0 && strcmp(after + n, "|in:FAIL:done") == 0,
        "a failed handler stores the message but no reply (%s)", after + n);
  free(before);
  free(after);
  CHECK_INT(observed_messages(fan, NULL), 0, "the observer sees no reply");
  CHECK_INT(observed_messages("+15550999", NULL), 0,
            "the observer sees no send() of the failed handler");
  r = contact_of(e, b, "+15550999");
  CHECK_INT(r.id, 0, "the failed handler's send() target was not created");
  contact_row_free(&r);
  char *store_json = store_bot_store_get(engine_store(e), bot_id(b), NULL);
  CHECK(!strstr(store_json, "failed"), "a failed handler leaves bot.store (%s)",
        store_json);
  free(store_json);
  CHECK_INT(sql_int("SELECT count(*) FROM errors e JOIN messages m"
                    " ON m.id = e.message_id AND m.contact_id = e.contact_id"
                    " WHERE m.text = 'FAIL' AND e.kind = 'error'"
                    " AND e.text LIKE '%boom%'"),
            1, "an error record names the message, the contact and the error");
  CHECK_INT(observed_actions(fan, "boom"), 1, "the observer sees the error");

  say(e, b, fan, "hello again");
  CHECK_INT(observed_messages(fan, "n=2"), 1, "the next message works");

  /* the failure and a good message in one batch */
  inbound batch[] = {{.from = fan, .text = "FAIL", .len = 4},
                     {.from = fan, .text = "more", .len = 4}};
  CHECK_INT(handle(e, b, batch, 2), 0, "a batch with a failure in the middle succeeds");
  CHECK_INT(observed_messages(fan, "n=3"), 1,
            "the message after the failure in the batch is answered");
  CHECK_INT(sql_int("SELECT count(*) FROM errors"), 2, "two error records in all");
}

/* A batch whose numbers the engine looks up together (contacts_prefetch):
 * contacts in its cache (8 here), contacts only the store has, new
 * numbers, and a number erased while opted out, each handled as alone. */
static void test_batch_looks_contacts_up_at_once(engine *e, bot *b) {
  enum { KNOWN = 12 };
  static char known[KNOWN][20];
  inbound batch[KNOWN + 3];
  for (int i = 0; i < KNOWN; i++) {
    snprintf(known[i], sizeof known[i], "+1555300%04d", i);
    batch[i] = (inbound){.from = known[i], .text = "hello", .len = 5};
  }
  CHECK_INT(handle(e, b, batch, KNOWN), 0, "12 new numbers text in one batch");
  CHECK_INT(say(e, b, "+15553099999", "STOP"), 0, "another number opts out");
  char err[512] = "";
  CHECK_INT(engine_erase_contact(e, b, "+15553099999", err, sizeof err), 1,
            "and is erased (%s)", err);
  batch[KNOWN] = (inbound){.from = "+15553099999", .text = "hi again", .len = 8};
  batch[KNOWN + 1] = (inbound){.from = "+15553088888", .text = "first", .len = 5};
  batch[KNOWN + 2] = (inbound){.from = "+15553088888", .text = "second", .len = 6};
  for (int i = 0; i < KNOWN; i++) batch[i].text = "again", batch[i].len = 5;
  CHECK_INT(handle(e, b, batch, KNOWN + 3), 0,
            "a batch of the 12 (not all cached), the erased number and a new one");
  int counted = 0;
  for (int i = 0; i < KNOWN; i++) counted += strcmp(state_of(e, b, known[i]), "{\"n\":2}") == 0;
  CHECK_INT(counted, KNOWN, "each of the 12 goes on from its own state");
  CHECK_STR(status_of(e, b, "+15553099999"), "opted_out",
            "the number erased while opted out is opted out again");
  CHECK_INT(observed_messages("+15553099999", NULL), 0, "and gets no reply");
  CHECK_STR(status_of(e, b, "+15553088888"), "subscribed", "the new number is subscribed");
  CHECK_STR(state_of(e, b, "+15553088888"), "{\"n\":2}",
            "and its two messages are one conversation");
}

/* A store failure in the middle of a batch keeps nothing of the batch, and
 * the engine does not keep the failed batch's effects in memory either.
 * Runs after the restart: bot.store.total is 2. */
static void test_store_failure_keeps_nothing(engine *e, bot *b) {
  const char *a = "+15550011", *c = "+15550012";
  say(e, b, a, "hello");
  char *store_before = store_bot_store_get(engine_store(e), bot_id(b), NULL);
  long long msgs_before = sql_int("SELECT count(*) FROM messages");
  run_sql("CREATE TRIGGER test_poison BEFORE INSERT ON messages"
          " WHEN NEW.text = 'POISON'"
          " BEGIN SELECT RAISE(ABORT, 'poisoned message'); END;",
          "CREATE FUNCTION test_poison() RETURNS trigger LANGUAGE plpgsql AS $$"
          " BEGIN IF NEW.text = 'POISON' THEN RAISE EXCEPTION 'poisoned message'; END IF;"
          " RETURN NEW; END $$;"
          " CREATE TRIGGER test_poison BEFORE INSERT ON messages"
          " FOR EACH ROW EXECUTE FUNCTION test_poison()");
  inbound batch[] = {{.from = a, .text = "REMEMBER", .len = 8},
                     {.from = a, .text = "hello", .len = 5},
                     {.from = c, .text = "hi", .len = 2},
                     {.from = c, .text = "POISON", .len = 6}};
  char err[1024] = "";
  forget_events();
  int rc = engine_handle(e, b, batch, 4, err, sizeof err);
  CHECK_INT(rc, -1, "a batch whose store fails returns -1");
  CHECK_HAS(err, "poisoned message", "with the store's sentence");
  CHECK_INT(nevents, 0, "the observer sees nothing of the failed batch");
  CHECK_INT(sql_int("SELECT count(*) FROM messages"), msgs_before,
            "no message of the failed batch is stored");
  CHECK_STR(state_of(e, b, a), "{\"n\":1}", "c.state is as before the batch");
  contact_row r = contact_of(e, b, c);
  CHECK_INT(r.id, 0, "a contact the failed batch created is not stored");
  contact_row_free(&r);
  char *store_after = store_bot_store_get(engine_store(e), bot_id(b), NULL);
  CHECK_STR(store_after, store_before, "bot.store is as before the batch");
  free(store_after);
  run_sql("DROP TRIGGER test_poison", "DROP TRIGGER test_poison ON messages");

  /* the same batch without the poison: the engine starts from the store */
  batch[3].text = "bye";
  batch[3].len = 3;
  CHECK_INT(handle(e, b, batch, 4), 0, "the batch without the poison succeeds");
  CHECK_STR(state_of(e, b, a), "{\"n\":2}",
            "the counter did not keep the failed batch's increment");
  CHECK_STR(state_of(e, b, c), "{\"n\":2}", "the new contact counted 2");
  CHECK_INT(observed_messages(a, "remembered 3"), 1,
            "bot.store did not keep the failed batch's REMEMBER (2 before, 3 now)");
  free(store_before);
}

enum { BIG_BATCH = 1000, BIG_CONTACTS = 100 };

static void big_number(char *out, int i) {
  sprintf(out, "+1555200%04d", i % BIG_CONTACTS);
}

static void test_big_batch_keeps_order(engine *e, bot *b) {
  static char numbers[BIG_BATCH][20], texts[BIG_BATCH][20];
  inbound *batch = calloc(BIG_BATCH, sizeof *batch);
  for (int i = 0; i < BIG_BATCH; i++) {
    big_number(numbers[i], i);
    sprintf(texts[i], "msg %d", i);
    batch[i] = (inbound){.from = numbers[i], .text = texts[i],
                         .len = strlen(texts[i])};
  }
  long in_before = engine_stats_of(e).messages_in;
  CHECK_INT(handle(e, b, batch, BIG_BATCH), 0,
            "a batch of 1000 messages over 100 contacts is handled");
  CHECK_INT(engine_stats_of(e).messages_in - in_before, BIG_BATCH,
            "the stats count 1000 messages in");
  CHECK_INT(sql_int("SELECT count(*) FROM messages WHERE direction = 'in'"
                    " AND number LIKE '+15552%'"),
            BIG_BATCH, "all 1000 inbound messages are committed");
  CHECK_INT(sql_int("SELECT count(*) FROM messages WHERE direction = 'out'"
                    " AND number LIKE '+15552%'"),
            BIG_BATCH, "all 1000 replies are committed");
  CHECK_INT(sql_int("SELECT count(*) FROM contacts WHERE number LIKE '+15552%'"),
            BIG_CONTACTS, "100 contacts are created");
  CHECK_INT(observed_messages(numbers[0], NULL), BIG_BATCH / BIG_CONTACTS,
            "the observer sees every reply to one contact");

  int in_order = 0;
  for (int c = 0; c < BIG_CONTACTS; c++) {
    char want[1024] = "";
    for (int k = 0; k < BIG_BATCH / BIG_CONTACTS; k++) {
      size_t n = strlen(want);
      snprintf(want + n, sizeof want - n, "%sin:msg %d:done|out:n=%d:sent",
               k ? "|" : "", c + k * BIG_CONTACTS, k + 1);
    }
    char *got = messages_of(e, b, numbers[c]);
    if (strcmp(got, want) == 0 && strcmp(state_of(e, b, numbers[c]), "{\"n\":10}") == 0)
      in_order++;
    else if (c - in_order < 2)
      test_note("%s: expected %s, got %s (state %s)", numbers[c], want, got,
                state_of(e, b, numbers[c]));
    free(got);
  }
  CHECK_INT(in_order, BIG_CONTACTS,
            "every contact's messages were handled in order (state n = 10)");
  free(batch);
}

static void test_duplicate_provider_id(engine *e, bot *b) {
  const char *fan = "+15550005";
  say_with_id(e, b, fan, "hello", "SM-1");
  CHECK_INT(observed_messages(fan, "n=1"), 1, "a message with a provider id is answered");
  long dups = engine_stats_of(e).duplicates;
  inbound later[] = {{.from = fan, .text = "hello", .len = 5, .provider_id = "SM-1"},
                     {.from = fan, .text = "next", .len = 4, .provider_id = "SM-2"}};
  CHECK_INT(handle(e, b, later, 2), 0, "a later batch with a retried id is handled");
  CHECK_INT(observed_messages(fan, NULL), 1, "only the new message is answered");
  CHECK_INT(observed_messages(fan, "n=2"), 1, "the state counted it once");
  CHECK_INT(engine_stats_of(e).duplicates - dups, 1, "the stats count one duplicate");

  inbound same[] = {{.from = fan, .text = "x", .len = 1, .provider_id = "SM-3"},
                    {.from = fan, .text = "x", .len = 1, .provider_id = "SM-3"}};
  handle(e, b, same, 2);
  CHECK_INT(observed_messages(fan, NULL), 1,
            "a provider id twice in one batch is answered once");
  CHECK_STR(state_of(e, b, fan), "{\"n\":3}", "the state counted 3 messages");
  char *m = messages_of(e, b, fan);
  CHECK_INT(occurrences(m, "in:"), 3, "three inbound messages are stored");
  free(m);

  /* the same provider id from another number: a duplicate too, and nothing
   * is written for that number (no contact created) */
  const char *other = "+15550055";
  CHECK_INT(say_with_id(e, b, other, "hello", "SM-1"), 0,
            "a provider id already used by another number is acknowledged");
  CHECK_INT(observed_messages(other, NULL), 0, "and not answered");
  contact_row r = contact_of(e, b, other);
  CHECK_INT(r.id, 0, "no contact is created for the second number");
  contact_row_free(&r);
}

static void test_send_to_another_number(engine *e, bot *b) {
  const char *fan = "+15550006";
  const char *out = "+15550003"; /* opted out in test_help_answers... */
  say(e, b, fan, "tell +15550003 hi there");
  CHECK_INT(observed_messages(fan, "told suppressed"), 1,
            "send() to an opted-out number returns 'suppressed'");
  CHECK_INT(observed_messages(out, NULL), 0,
            "nothing goes out to the opted-out number");
  char *m = messages_of(e, b, out);
  CHECK_HAS(m, "out:hi there:suppressed", "the send is recorded as suppressed");
  free(m);

  say(e, b, fan, "urgent +15550003 fire drill");
  CHECK_INT(observed_messages(fan, "urgent sent"), 1,
            "a transactional send() to an opted-out number returns 'sent'");
  CHECK_INT(observed_messages(out, "fire drill"), 1,
            "the transactional send goes out");
  m = messages_of(e, b, out);
  CHECK_HAS(m, "out:fire drill:sent", "it is recorded as sent");
  free(m);

  say(e, b, fan, "tell +15550001 hi there");
  CHECK_INT(observed_messages(fan, "told sent"), 1,
            "send() to a subscribed number returns 'sent'");
  CHECK_INT(observed_messages("+15550001", "hi there"), 1, "and it goes out");

  say(e, b, fan, "tell +15550777 welcome");
  CHECK_INT(observed_messages("+15550777", "welcome"), 1,
            "send() to a new number goes out");
  CHECK_STR(status_of(e, b, "+15550777"), "not_opted_in",
            "and creates the contact, not opted in (it never asked for marketing)");
}

/* An engine with an outbox on a file of its own under tmp, the test bot
 * loaded in *b (NULL, and a failed check, when either fails). */
static engine *outbox_engine(const char *file, bot **b) {
  char *path = test_path(tmp, file);
  engine_options opt = {.db_path = path, .clock = fake_clock, .observer = &observer,
                        .outbox = 1};
  char err[4096] = "";
  engine *e = engine_open(&opt, err, sizeof err);
  *b = e ? engine_load_bot(e, bot_dir, err, sizeof err) : NULL;
  CHECK(e && *b, "an engine with an outbox opens and loads the bot (%s)", err);
  free(path);
  return e;
}

/* Whether a message answers the inbound being handled is decided when it is
 * recorded, and observers get it as a value: inline (back in the webhook's
 * answer), to the sender through the outbox, or to someone else. */
static void test_reply_kind_is_carried(void) {
  bot *b;
  engine *e = outbox_engine("replies.db", &b);
  if (b) {
    const char *fan = "+15550901";
    inbound m = {.from = fan, .to = "+15550100", .text = "TZ", .len = 2, .inline_reply = 1};
    handle(e, b, &m, 1);
    observed *o = observed_message(fan, "tz set");
    CHECK(o && o->reply == ENGINE_REPLY_INLINE && strcmp(o->status, "sent") == 0,
          "a reply that may go back inline is marked inline (stored sent)");
    m.inline_reply = 0;
    handle(e, b, &m, 1);
    o = observed_message(fan, "tz set");
    CHECK(o && o->reply == ENGINE_REPLY_TO_SENDER && strcmp(o->status, "queued") == 0,
          "one that may not goes to the sender through the outbox (queued)");
    inbound t = {.from = fan, .text = "tell +15550902 welcome", .len = 22, .inline_reply = 1};
    handle(e, b, &t, 1);
    o = observed_message("+15550902", "welcome");
    CHECK(o && o->reply == ENGINE_REPLY_NONE, "a send to another number answers nothing");
    o = observed_message(fan, "told sent");
    CHECK(o && o->reply == ENGINE_REPLY_INLINE, "while the reply to the sender goes inline");
    inbound boom = {.from = fan, .text = "FAIL", .len = 4};
    handle(e, b, &boom, 1);
    int found = 0;
    for (size_t i = 0; i < nevents; i++)
      if (!events[i].is_message && events[i].kind == ENGINE_ACTION_ERROR && events[i].detail &&
          strstr(events[i].detail, "boom") && !strncmp(events[i].text, "error: ", 7) &&
          strcmp(events[i].text + 7, events[i].detail) == 0)
        found = 1;
    CHECK(found, "a handler's error is an action of kind error, its detail the error itself");
  }
  engine_close(e);
}

/* A message relayed to its holder, which committed it with its inline reply
 * and died before answering: the node that took the webhook handles it
 * once it holds the conversation (answer_lost), finds it handled, and
 * answers with that reply again; queued for the provider when the answer
 * may not carry it. A plain retry of the provider gets nothing again. */
static void test_lost_answer_gets_its_replies_again(void) {
  bot *b;
  engine *e = outbox_engine("lost.db", &b);
  if (b) {
    const char *fan = "+15550911";
    inbound m = {.from = fan, .to = "+15550100", .text = "TZ", .len = 2,
                 .provider_id = "SM-lost-1", .inline_reply = 1};
    handle(e, b, &m, 1);
    CHECK_INT(observed_messages(fan, "tz set"), 1, "the reply goes back inline");
    handle(e, b, &m, 1); /* each handle() forgets what was observed before */
    CHECK_INT(observed_messages(fan, "tz set"), 0, "a plain retry is answered with nothing");
    m.answer_lost = 1;
    handle(e, b, &m, 1);
    observed *o = observed_message(fan, "tz set");
    CHECK(observed_messages(fan, "tz set") == 1 && o && o->reply == ENGINE_REPLY_INLINE,
          "one whose relay got no answer is answered with that reply again, inline");
    char *log = messages_of(e, b, fan);
    CHECK_INT(occurrences(log, "in:TZ"), 1, "the message is stored once");
    CHECK_INT(occurrences(log, "out:tz set:sent"), 1, "its reply once, sent");
    free(log);
    m.inline_reply = 0;
    handle(e, b, &m, 1);
    log = messages_of(e, b, fan);
    CHECK_INT(occurrences(log, "out:tz set:queued"), 1,
              "when the answer may not carry it, the reply is queued for the provider");
    free(log);
    inbound other = {.from = "+15550912", .to = "+15550100", .text = "TZ", .len = 2,
                     .provider_id = "SM-lost-1", .inline_reply = 1, .answer_lost = 1};
    handle(e, b, &other, 1);
    CHECK_INT(observed_messages("+15550912", NULL), 0,
              "the same provider id from another number gets nothing");
  }
  engine_close(e);
}

/* Contacts and their consent belong to one bot: a STOP to one bot does not
 * silence another bot on the same engine. */
static void test_opt_out_is_per_bot(engine *e, bot *b) {
  char *dir = bot_folder("otherbot", "bot.fallback(function(c, msg) return 'other bot' end)\n");
  char err[4096] = "";
  bot *other = engine_load_bot(e, dir, err, sizeof err);
  CHECK(other != NULL, "a second bot loads into the same engine (%s)", err);
  if (other) {
    const char *fan = "+15550003"; /* opted out of testbot */
    say(e, other, fan, "hello");
    CHECK_INT(observed_messages(fan, "other bot"), 1,
              "a contact opted out of one bot still hears from another");
    CHECK_STR(status_of(e, b, fan), "opted_out", "and stays opted out of the first");
    CHECK(engine_find_bot(e, "otherbot") == other && engine_find_bot(e, "testbot") == b,
          "engine_find_bot finds both bots by folder name");
  }
  free(dir);
}

/* More provider ids than the engine's filter of them first holds (1,024):
 * it grows, built again from the store and the batches in flight, and every
 * retry is still caught, before and after it grows, in a batch or later. */
enum { BULK_IDS = 3000, BULK_BATCH = 250 };

static void bulk_batch(inbound *batch, char (*ids)[24], int from, const char *text) {
  static char numbers[BULK_BATCH][20];
  for (int i = 0; i < BULK_BATCH; i++) {
    snprintf(numbers[i], sizeof numbers[i], "+1555090%04d", (from + i) % 500);
    snprintf(ids[i], sizeof ids[i], "BULK-%d", from + i);
    batch[i] = (inbound){.from = numbers[i], .text = text, .len = strlen(text),
                         .provider_id = ids[i]};
  }
}

static void test_provider_ids_past_the_filter(engine *e, bot *b) {
  static inbound batch[BULK_BATCH];
  static char ids[BULK_BATCH][24];
  long dups = engine_stats_of(e).duplicates, in = engine_stats_of(e).messages_in;
  int failed = 0;
  char err[1024] = "";
  forget_events();
  /* submitted without waiting: the filter grows while a batch is in flight */
  for (int from = 0; from < BULK_IDS; from += BULK_BATCH) {
    bulk_batch(batch, ids, from, "bulk");
    failed |= engine_submit(e, b, batch, BULK_BATCH, err, sizeof err);
    if (from > 0) { /* the batch before again */
      bulk_batch(batch, ids, from - BULK_BATCH, "bulk");
      failed |= engine_submit(e, b, batch, BULK_BATCH, err, sizeof err);
    }
  }
  failed |= engine_flush(e, err, sizeof err);
  CHECK(!failed, "%d messages with provider ids, each batch sent twice (%s)", BULK_IDS, err);
  CHECK_INT(engine_stats_of(e).messages_in - in, BULK_IDS, "each message is handled once");
  CHECK_INT(engine_stats_of(e).duplicates - dups, BULK_IDS - BULK_BATCH,
            "every retry is a duplicate");
  for (int from = 0; from < BULK_IDS; from += BULK_BATCH) {
    bulk_batch(batch, ids, from, "bulk");
    failed |= handle(e, b, batch, BULK_BATCH);
  }
  CHECK_INT(engine_stats_of(e).messages_in - in, BULK_IDS,
            "all of them again, later: none handled");
  CHECK_INT(engine_stats_of(e).duplicates - dups, 2 * BULK_IDS - BULK_BATCH,
            "all of them duplicates");
  inbound fresh = {.from = "+15550900000", .text = "new", .len = 3, .provider_id = "BULK-new"};
  handle(e, b, &fresh, 1);
  CHECK_INT(engine_stats_of(e).messages_in - in, BULK_IDS + 1, "a new id is handled");
}

/* Sets data before a restart that test_restart_keeps_everything checks. */
static void prepare_restart(engine *e, bot *b) {
  say(e, b, "+15550001", "REMEMBER");
  CHECK_INT(observed_messages("+15550001", "remembered 1"), 1,
            "bot.store counts the first REMEMBER");
  say(e, b, "+15550001", "TZ");
  contact_row r = contact_of(e, b, "+15550001");
  CHECK_STR(r.fields, "{\"city\":\"Austin\"}", "c.fields is stored");
  CHECK_STR(r.tags, "[\"vip\"]", "the tags are stored");
  CHECK_STR(r.timezone, "America/Chicago", "c.timezone is stored");
  contact_row_free(&r);
}

static void test_restart_keeps_everything(engine **ep, bot **bp) {
  engine *e = *ep;
  bot *b = *bp;
  long contacts = store_contact_count(engine_store(e), bot_id(b));
  char *state1 = strdup(state_of(e, b, "+15550001"));
  engine_close(e);

  /* a small contact cache: the 100 contacts of the big batch get evicted */
  *ep = e = open_engine(8);
  *bp = b = e ? load_bot(e) : NULL;
  CHECK(e && b, "the engine and the bot reopen on the same file");
  if (!e || !b) {
    free(state1);
    return;
  }
  CHECK_INT(store_contact_count(engine_store(e), bot_id(b)), contacts,
            "the contacts are kept");
  contact_row r = contact_of(e, b, "+15550001");
  CHECK_STR(r.fields, "{\"city\":\"Austin\"}", "c.fields is kept");
  CHECK_STR(r.tags, "[\"vip\"]", "the tags are kept");
  CHECK_STR(r.timezone, "America/Chicago", "c.timezone is kept");
  CHECK_STR(r.state, state1, "c.state is kept");
  contact_row_free(&r);
  free(state1);

  say(e, b, "+15550001", "REMEMBER");
  CHECK_INT(observed_messages("+15550001", "remembered 2"), 1,
            "bot.store is kept (the second REMEMBER counts 2)");
  say(e, b, "+15550003", "hello");
  CHECK_INT(observed_messages("+15550003", NULL), 0,
            "an opted-out contact stays opted out");
  CHECK_STR(status_of(e, b, "+15550003"), "opted_out", "its status is kept");
  say_with_id(e, b, "+15550005", "hello", "SM-2");
  CHECK_INT(observed_messages("+15550005", NULL), 0,
            "a provider id seen before the restart is still a duplicate");
  long dups = engine_stats_of(e).duplicates;
  inbound late = {.from = "+15550900001", .text = "bulk", .len = 4, .provider_id = "BULK-2999"};
  handle(e, b, &late, 1);
  CHECK_INT(engine_stats_of(e).duplicates - dups, 1,
            "and so is one of the thousands of ids the filter grew for");

  /* every big-batch contact once more, through the small cache */
  static char numbers[BIG_CONTACTS][20];
  inbound batch[BIG_CONTACTS];
  for (int i = 0; i < BIG_CONTACTS; i++) {
    big_number(numbers[i], i);
    batch[i] = (inbound){.from = numbers[i], .text = "again", .len = 5};
  }
  handle(e, b, batch, BIG_CONTACTS);
  handle(e, b, batch, BIG_CONTACTS);
  int twelve = 0;
  for (int i = 0; i < BIG_CONTACTS; i++)
    twelve += strcmp(state_of(e, b, numbers[i]), "{\"n\":12}") == 0;
  CHECK_INT(twelve, BIG_CONTACTS,
            "after a restart and two batches every counter is at 12");
  CHECK(engine_stats_of(e).cached_contacts <= 8,
        "the contact cache stays within its size (%ld)",
        engine_stats_of(e).cached_contacts);
}

static void write_bot(void) {
  bot_dir = bot_folder("testbot", BOT_LUA);
}

static engine *open_memory_engine(int show_rules) {
  engine_options opt = {.db_path = ":memory:", .clock = fake_clock,
                        .observer = &observer, .show_rules = show_rules};
  char err[1024] = "";
  engine *e = engine_open(&opt, err, sizeof err);
  if (!e) printf("# engine_open: %s\n", err);
  return e;
}

/* show_rules: each message's handling names the rule that took it (what
 * parley sim shows); without it, no such line is made. */
static void test_rules_named_when_asked(engine *e, bot *b) {
  say(e, b, "+15550401", "what now");
  CHECK_INT(observed_actions("+15550401", "rule:"), 0,
            "without show_rules no rule line is made");
  engine *e2 = open_memory_engine(1);
  bot *b2 = e2 ? load_bot(e2) : NULL;
  CHECK(e2 && b2, "an engine with show_rules opens and loads the bot");
  if (!b2) {
    engine_close(e2);
    return;
  }
  const char *n = "+15550402";
  struct {
    const char *text, *rule;
  } cases[] = {
      {"REMEMBER", "rule: keyword remember"},
      {"what now", "rule: fallback"},
      {"tell +15550403 hello", "rule: match ^tell (%+%d+) (.+)$"},
      {"HELP", "rule: compliance (HELP)"},
      {"STOP", "rule: compliance (STOP)"},
      {"hello?", "rule: none (the number opted out"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    say(e2, b2, n, cases[i].text);
    CHECK_INT(observed_actions(n, cases[i].rule), 1, "'%s' is named '%s'", cases[i].text,
              cases[i].rule);
  }
  say(e2, b2, n, "STOP"); /* already out: nothing runs, the keyword is still named */
  CHECK_INT(observed_actions(n, "rule: compliance (STOP)"), 1,
            "STOP from an opted-out number is still named as compliance");
  say(e2, b2, n, "START");
  CHECK_INT(observed_actions(n, "rule: compliance (START)"), 1, "START is named");
  CHECK_INT(observed_actions(n, "rule: on_optin"), 1, "and the bot's on_optin after it");
  engine_close(e2);
}

/* An event that did not run as asked tells the backend why, as a value the
 * engine carries from where it is decided: "no_handler" when the bot has no
 * bot.on_event for its type, "error" when its handler failed, even one whose
 * error reads like the missing handler's. */
static char *failed_status, *failed_error;

static void on_event_failed(void *ud, void *tag, const char *status, const char *error) {
  (void)ud;
  (void)tag;
  free(failed_status);
  free(failed_error);
  failed_status = strdup(status);
  failed_error = strdup(error);
}

/* An engine on a new in-memory store telling obs, with the bot of folder
 * dir loaded in *b (NULL, and a note saying why, if it cannot be). */
static engine *memory_engine_with(const engine_observer *obs, const char *dir, bot **b) {
  engine_options opt = {.db_path = ":memory:", .clock = fake_clock, .observer = obs};
  char err[4096] = "";
  engine *e = engine_open(&opt, err, sizeof err);
  *b = e ? engine_load_bot(e, dir, err, sizeof err) : NULL;
  if (!*b) test_note("engine_open or engine_load_bot: %s", err);
  return e;
}

static void test_event_failure_says_why(void) {
  char *dir = bot_folder("eventbot",
                         "bot.on_event('order.paid', function(c, ev) c:send('paid') end)\n"
                         "bot.on_event('broken', function(c, ev) error('boom') end)\n"
                         "bot.on_event('mimic', function(c, ev)\n"
                         "  error(\"no bot.on_event handler for events of type 'mimic'\", 0)\n"
                         "end)\n");
  engine_observer obs = observer;
  obs.event_failed = on_event_failed;
  bot *b;
  engine *e = memory_engine_with(&obs, dir, &b);
  CHECK(e && b, "an engine opens and loads a bot with event handlers");
  struct {
    const char *type, *status, *error;
  } cases[] = {
      {"order.paid", NULL, NULL},
      {"nope", "no_handler", "no bot.on_event handler for events of type 'nope'"},
      {"broken", "error", "boom"},
      {"mimic", "error", "no bot.on_event handler for events of type 'mimic'"},
  };
  for (size_t i = 0; b && i < sizeof cases / sizeof cases[0]; i++) {
    free(failed_status);
    free(failed_error);
    failed_status = failed_error = NULL;
    inbound m = {.from = "+15550501", .text = "", .event_type = cases[i].type};
    handle(e, b, &m, 1);
    if (!cases[i].status) {
      CHECK(!failed_status, "an event its handler takes did not fail");
      CHECK_INT(observed_messages("+15550501", "paid"), 1, "and its handler ran");
      continue;
    }
    CHECK(failed_status && strcmp(failed_status, cases[i].status) == 0,
          "event '%s' failed as %s (got %s)", cases[i].type, cases[i].status,
          failed_status ? failed_status : "nothing");
    CHECK(failed_error && strstr(failed_error, cases[i].error),
          "with its sentence '%s' (got %s)", cases[i].error, failed_error ? failed_error : "none");
  }
  engine_close(e);
  free(failed_status);
  free(failed_error);
  failed_status = failed_error = NULL;
  free(dir);
}

/* A quiet observer (`parley serve`'s) is told of messages and errors, and of
 * no ENGINE_ACTION_SHOWN line (state diffs, logs, rules): those are not made. */
static void test_quiet_observer_gets_no_shown_lines(void) {
  char *dir = bot_folder("quietbot",
                         "bot.keyword('COUNT', function(c) c.state.n = (c.state.n or 0) + 1;"
                         " bot.log('counted'); return 'n=' .. c.state.n end)\n"
                         "bot.keyword('FAIL', function(c) error('boom') end)\n");
  for (int quiet = 0; quiet <= 1; quiet++) {
    engine_observer obs = observer;
    obs.quiet = quiet;
    bot *b;
    engine *e = memory_engine_with(&obs, dir, &b);
    CHECK(e && b, "an engine (quiet %d) opens and loads a bot", quiet);
    if (!b) {
      engine_close(e);
      continue;
    }
    forget_events();
    inbound m[] = {{.from = "+15550601", .text = "COUNT", .len = 5},
                   {.from = "+15550601", .text = "FAIL", .len = 4}};
    handle(e, b, m, 2);
    size_t shown = 0, errors = 0;
    for (size_t i = 0; i < nevents; i++) {
      if (events[i].is_message) continue;
      if (events[i].kind == ENGINE_ACTION_SHOWN) shown++;
      if (events[i].kind == ENGINE_ACTION_ERROR) errors++;
    }
    CHECK_INT(observed_messages("+15550601", "n=1"), 1,
              "quiet %d: the reply is observed", quiet);
    CHECK_INT((long)errors, 1, "quiet %d: the handler's error is observed", quiet);
    if (quiet)
      CHECK_INT((long)shown, 0, "quiet: no shown line (state diff, log, rule) is made");
    else
      CHECK(observed_actions("+15550601", "state.n = 1") == 1 &&
                observed_actions("+15550601", "counted") == 1,
            "not quiet: the state's diff and the log are shown (%zu shown lines)", shown);
    engine_close(e);
  }
  free(dir);
}

int main(void) {
  tmp = test_tmpdir();
  /* PARLEY_TEST_DB: a PostgreSQL URL (an empty database) to run on */
  const char *on = getenv("PARLEY_TEST_DB");
  db_path = on && *on ? strdup(on) : test_path(tmp, "engine.db");
  write_bot();
  optout_text = compliance_default_optout("Test Bot");
  optin_text = compliance_default_optin("Test Bot");

  engine *e = open_engine(0);
  bot *b = e ? load_bot(e) : NULL;
  CHECK(e && b, "an engine opens on a new file and loads the bot");
  if (e && b) {
    CHECK_STR(bot_name(b), "testbot", "the bot is named after its folder");
    CHECK_STR(bot_display_name(b), "Test Bot", "bot.config names it");
    test_reply_is_stored_as_outbound(e, b);
    test_stop_opts_out(e, b);
    test_start_opts_back_in(e, b);
    test_help_answers_even_when_opted_out(e, b);
    test_handler_error_commits_nothing(e, b);
    test_big_batch_keeps_order(e, b);
    test_duplicate_provider_id(e, b);
    test_send_to_another_number(e, b);
    test_opt_out_is_per_bot(e, b);
    test_rules_named_when_asked(e, b);
    test_reply_kind_is_carried();
    test_lost_answer_gets_its_replies_again();
    test_event_failure_says_why();
    test_quiet_observer_gets_no_shown_lines();
    test_provider_ids_past_the_filter(e, b);
    prepare_restart(e, b);
    test_restart_keeps_everything(&e, &b);
    if (e && b) test_batch_looks_contacts_up_at_once(e, b);
    if (e && b) test_store_failure_keeps_nothing(e, b);
  }
  engine_close(e);
  forget_events();
  free(events);
  free(optout_text);
  free(optin_text);
  test_rmtree(tmp);
  free(db_path);
  free(bot_dir);
  free(tmp);
  return test_done();
}
