/* Unit tests for runtime/store/store.h: the schema, what survives a reopen, the
 * per-bot contacts, inbound deduplication, the append-only consent ledger,
 * and files store_open must report and leave untouched.
 *
 *   make build/test_store && ./build/test_store */
#include <openssl/evp.h>
#include <pthread.h>
#include <sched.h>
#include <sys/stat.h>
#include <openssl/hmac.h>
#include <sqlite3.h>

#include "store.h"
#include "test.h"
#include "test_contact_adds.h"
#include "test_console_store.h"
#include "test_conversations.h"
#include "test_lookups.h"
#include "test_sql.h"

static char *tmp; /* the test's temporary folder */
static const int64_t T0 = 1772445600000; /* 2026-03-02 10:00 UTC */

/* ---------------------------------------------------------------- helpers */

static char *fresh_db_path(const char *name) {
  char *p = test_path(tmp, name);
  test_rmtree(p);
  return p;
}

/* Opens the store at path; a store that does not open fails a check (the
 * test that wanted it then stops), so a broken migration cannot pass. */
static store *open_or_note(const char *path) {
  char err[512] = "";
  store *st = store_open(path, err, sizeof err);
  if (!st) CHECK(0, "store_open(%s): %s", path, err);
  return st;
}

/* Runs sql on a read-write connection; returns the SQLite result code and
 * copies the error message. */
static int sql_exec(const char *path, const char *sql, char *msg, size_t n) {
  sqlite3 *db;
  if (msg && n) msg[0] = 0;
  int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
  if (rc == SQLITE_OK) {
    char *m = NULL;
    rc = sqlite3_exec(db, sql, NULL, NULL, &m);
    if (m && msg) snprintf(msg, n, "%s", m);
    sqlite3_free(m);
  }
  sqlite3_close(db);
  return rc;
}

static int64_t add_message(store *st, int64_t bot, int64_t contact,
                           const char *number, const char *direction,
                           const char *text, const char *provider_id) {
  message_row m = {.bot_id = bot, .contact_id = contact, .direction = direction,
                   .number = number, .text = text,
                   .status = strcmp(direction, "in") == 0 ? "done" : "sent",
                   .provider_id = provider_id, .at = T0};
  return store_message_add(st, &m);
}

/* messages of a contact, "in:text:status|out:text:status|..." */
typedef struct transcript {
  char text[2048];
} transcript;

static void on_message(void *ud, const char *direction, const char *text,
                       const char *status, int64_t at) {
  (void)at;
  transcript *t = ud;
  size_t n = strlen(t->text);
  snprintf(t->text + n, sizeof t->text - n, "%s%s:%s:%s", n ? "|" : "",
           direction, text, status);
}

static void on_consent(void *ud, const char *action, const char *source,
                       const char *text, int64_t at) {
  (void)at;
  transcript *t = ud;
  size_t n = strlen(t->text);
  snprintf(t->text + n, sizeof t->text - n, "%s%s:%s:%s", n ? "|" : "", action,
           source, text ? text : "(null)");
}

/* Whether a file still has exactly these bytes. */
static int file_is(const char *path, const char *bytes, size_t len) {
  size_t n;
  char *now = test_read_file(path, &n);
  int same = now && n == len && memcmp(now, bytes, len) == 0;
  free(now);
  return same;
}

/* ---------------------------------------------------------------- tests */

static void test_new_file_gets_schema_in_wal_mode(void) {
  char *path = fresh_db_path("new.db");
  store *st = open_or_note(path);
  CHECK(st != NULL, "store_open creates a new database file");
  store_close(st);
  CHECK(sql_int(path, "PRAGMA user_version") >= 1,
        "a new database has a schema version (PRAGMA user_version >= 1)");
  char *mode = sql_text(path, "PRAGMA journal_mode");
  CHECK_STR(mode, "wal", "a new database is in WAL mode");
  free(mode);
  CHECK_INT(sql_int(path, "SELECT count(*) FROM sqlite_schema WHERE type = 'table'"
                          " AND name IN ('bots', 'script_versions', 'contacts',"
                          " 'conversations', 'messages', 'consent', 'timers',"
                          " 'errors')"),
            8, "a new database has all eight tables");

  long long version = sql_int(path, "PRAGMA user_version");
  st = open_or_note(path);
  CHECK(st != NULL, "a database at the current version reopens");
  store_close(st);
  CHECK_INT(sql_int(path, "PRAGMA user_version"), version,
            "reopening keeps the schema version");
  free(path);
}

static void test_reopen_keeps_data(void) {
  char *path = fresh_db_path("reopen.db");
  store *st = open_or_note(path);
  if (!st) return;
  store_begin(st);
  int64_t bot = store_bot_ensure(st, "fanclub", T0);
  int64_t c = store_contact_insert(st, 0, bot, "+15550001", T0);
  store_contact_update(st, c, "opted_out", "{\"city\":\"Austin\"}", "[\"vip\"]",
                       "America/Chicago");
  store_conversation_save(st, c, "{\"count\":2}", "city", T0 + 1);
  add_message(st, bot, c, "+15550001", "in", "hi", "p-1");
  add_message(st, bot, c, "+15550001", "out", "hello", NULL);
  store_consent_add(st, bot, c, "+15550001", "optout", "keyword", "STOP", T0 + 2);
  store_bot_store_set(st, bot, "{\"total\":7}", 0);
  CHECK_INT(store_commit(st), 0, "a transaction with every kind of row commits");
  store_close(st);

  st = open_or_note(path);
  if (!st) return;
  CHECK_INT(store_bot_ensure(st, "fanclub", T0 + 99), bot,
            "after a reopen the bot keeps its id");
  contact_row r = {0};
  CHECK_INT(store_contact_get(store_reads(st), bot, "+15550001", &r), 1,
            "after a reopen the contact is found");
  CHECK_INT(r.id, c, "the contact keeps its id");
  CHECK_STR(r.status, "opted_out", "the contact keeps its status");
  CHECK_STR(r.fields, "{\"city\":\"Austin\"}", "the contact keeps its fields");
  CHECK_STR(r.tags, "[\"vip\"]", "the contact keeps its tags");
  CHECK_STR(r.timezone, "America/Chicago", "the contact keeps its time zone");
  CHECK_STR(r.state, "{\"count\":2}", "the conversation keeps its state");
  CHECK_STR(r.expect, "city", "the conversation keeps its expect");
  CHECK_INT(r.first_seen, T0, "the contact keeps first_seen");
  contact_row_free(&r);

  transcript t = {""};
  store_messages_each(store_reads(st), c, on_message, &t);
  CHECK_STR(t.text, "in:hi:done|out:hello:sent", "the messages are kept in order");
  transcript k = {""};
  store_consent_each(store_reads(st), c, on_consent, &k);
  CHECK_STR(k.text, "optout:keyword:STOP", "the consent ledger is kept");
  char *json = store_bot_store_get(store_reads(st), bot, NULL);
  CHECK_STR(json, "{\"total\":7}", "bot.store is kept");
  free(json);
  CHECK_INT(add_message(st, bot, c, "+15550001", "in", "hi again", "p-1"), 0,
            "provider ids are remembered across a reopen");
  store_close(st);
  free(path);
}

static void test_contacts_are_per_bot(void) {
  char *path = fresh_db_path("perbot.db");
  store *st = open_or_note(path);
  if (!st) return;
  int64_t a = store_bot_ensure(st, "alpha", T0);
  int64_t b = store_bot_ensure(st, "beta", T0);
  CHECK(a > 0 && b > 0 && a != b, "two bots get two ids");
  CHECK_INT(store_bot_ensure(st, "alpha", T0), a,
            "store_bot_ensure finds an existing bot");
  int64_t ca = store_contact_insert(st, 0, a, "+15550001", T0);
  int64_t cb = store_contact_insert(st, 0, b, "+15550001", T0);
  CHECK(ca > 0 && cb > 0 && ca != cb,
        "the same number under two bots is two contacts");
  CHECK_INT(store_contact_count(store_reads(st), a), 1, "bot alpha has one contact");
  CHECK_INT(store_contact_count(store_reads(st), b), 1, "bot beta has one contact");
  store_contact_update(st, ca, NULL, "{\"x\":1}", NULL, NULL);
  contact_row r = {0};
  store_contact_get(store_reads(st), b, "+15550001", &r);
  CHECK_STR(r.fields, "{}", "fields set under one bot do not show under the other");
  contact_row_free(&r);
  CHECK(store_contact_insert(st, 0, a, "+15550001", T0) < 0,
        "a second contact with the same number under the same bot is refused");
  CHECK_INT(store_contact_get(store_reads(st), a, "+15550002", &r), 0,
            "an unknown number is not found");
  store_close(st);
  free(path);
}

static void test_inbound_provider_id_dedup(void) {
  char *path = fresh_db_path("dedup.db");
  store *st = open_or_note(path);
  if (!st) return;
  int64_t a = store_bot_ensure(st, "alpha", T0);
  int64_t b = store_bot_ensure(st, "beta", T0);
  int64_t ca = store_contact_insert(st, 0, a, "+15550001", T0);
  int64_t cb = store_contact_insert(st, 0, b, "+15550001", T0);
  store_begin(st);
  int64_t first = add_message(st, a, ca, "+15550001", "in", "hi", "SM1");
  CHECK(first > 0, "the first inbound message with a provider id is stored");
  CHECK_INT(add_message(st, a, ca, "+15550001", "in", "hi", "SM1"), 0,
            "the same provider id again under the same bot returns 0");
  CHECK(add_message(st, b, cb, "+15550001", "in", "hi", "SM1") > 0,
        "the same provider id under another bot is stored");
  CHECK(add_message(st, a, ca, "+15550001", "out", "reply", "SM1") > 0,
        "the same provider id on an outbound message is stored");
  CHECK(add_message(st, a, ca, "+15550001", "in", "a", NULL) > 0 &&
            add_message(st, a, ca, "+15550001", "in", "b", NULL) > 0,
        "inbound messages without a provider id are never duplicates");
  CHECK_INT(store_commit(st), 0, "a transaction with a refused duplicate commits");
  store_close(st);
  CHECK_INT(sql_int(path, "SELECT count(*) FROM messages WHERE provider_id = 'SM1'"),
            3, "three messages with provider id SM1 are stored");
  free(path);
}

static void test_consent_ledger_is_append_only(void) {
  char *path = fresh_db_path("consent.db");
  store *st = open_or_note(path);
  if (!st) return;
  int64_t bot = store_bot_ensure(st, "alpha", T0);
  int64_t c = store_contact_insert(st, 0, bot, "+15550001", T0);
  store_consent_add(st, bot, c, "+15550001", "optout", "keyword", "STOP", T0);
  store_consent_add(st, bot, c, "+15550001", "optin", "keyword", "START", T0 + 1);
  store_close(st);

  char msg[256];
  int rc = sql_exec(path, "UPDATE consent SET action = 'optin' WHERE action = 'optout'",
                    msg, sizeof msg);
  CHECK(rc != SQLITE_OK, "UPDATE on the consent ledger fails");
  CHECK_HAS(msg, "append-only", "the UPDATE failure says the ledger is append-only");
  rc = sql_exec(path, "DELETE FROM consent", msg, sizeof msg);
  CHECK(rc != SQLITE_OK, "DELETE on the consent ledger fails");
  CHECK_HAS(msg, "append-only", "the DELETE failure says the ledger is append-only");
  CHECK_INT(sql_int(path, "SELECT count(*) FROM consent"), 2,
            "the ledger still has both rows");
  CHECK_INT(sql_int(path, "SELECT count(*) FROM consent WHERE action = 'optout'"
                          " AND text = 'STOP'"),
            1, "the opt-out row is unchanged");

  st = open_or_note(path);
  if (!st) return;
  transcript t = {""};
  store_consent_each(store_reads(st), c, on_consent, &t);
  CHECK_STR(t.text, "optout:keyword:STOP|optin:keyword:START",
            "store_consent_each lists the ledger in order");
  store_close(st);
  free(path);
}

static void test_not_a_database_is_left_alone(void) {
  char *path = fresh_db_path("garbage.db");
  char junk[4096];
  for (size_t i = 0; i < sizeof junk; i++)
    junk[i] = "this is not a database, it is a text file.\n"[i % 43];
  test_write_file(path, junk, sizeof junk);
  char err[512] = "";
  store *st = store_open(path, err, sizeof err);
  CHECK(st == NULL, "store_open refuses a 4 KB text file");
  CHECK_HAS(err, path, "the refusal names the file");
  CHECK(file_is(path, junk, sizeof junk), "the text file is left byte for byte");
  store_close(st);
  char *wal = test_path(tmp, "garbage.db-wal");
  CHECK(!test_file_exists(wal), "no -wal file is left beside it");
  free(wal);

  /* a short text file */
  test_write_file(path, "hello\n", 6);
  st = store_open(path, err, sizeof err);
  CHECK(st == NULL, "store_open refuses a 6-byte text file");
  CHECK(file_is(path, "hello\n", 6), "the 6-byte file is left byte for byte");
  store_close(st);
  free(path);
}

/* Builds a database another program wrote: schema version `version`, in
 * `journal` mode, with one table of its own. */
static void make_foreign_db(const char *path, int version, const char *journal) {
  char sql[256];
  snprintf(sql, sizeof sql,
           "PRAGMA journal_mode = %s; CREATE TABLE future(x); "
           "INSERT INTO future VALUES(42); PRAGMA user_version = %d;",
           journal, version);
  sqlite3 *db;
  sqlite3_open(path, &db);
  sqlite3_exec(db, sql, NULL, NULL, NULL);
  sqlite3_close(db);
}

static void test_newer_schema_is_refused(void) {
  /* a parley database, then bumped past what this parley knows */
  char *path = fresh_db_path("newer.db");
  store *st = open_or_note(path);
  if (!st) return;
  store_close(st);
  long long current = sql_int(path, "PRAGMA user_version");
  char sql[64];
  snprintf(sql, sizeof sql, "PRAGMA user_version = %lld", current + 1);
  sql_exec(path, sql, NULL, 0);
  size_t len;
  char *before = test_read_file(path, &len);
  char err[512] = "";
  st = store_open(path, err, sizeof err);
  CHECK(st == NULL, "store_open refuses schema version %lld (knows %lld)",
        current + 1, current);
  CHECK_HAS(err, path, "the refusal names the file");
  CHECK_HAS(err, "newer", "the refusal says a newer parley wrote it");
  CHECK(file_is(path, before, len), "the newer WAL database is left byte for byte");
  CHECK_INT(sql_int(path, "PRAGMA user_version"), current + 1,
            "its schema version is unchanged");
  store_close(st);
  free(before);

  /* a newer parley that keeps a rollback journal: still untouched */
  char *path2 = fresh_db_path("newer-rollback.db");
  make_foreign_db(path2, 99, "DELETE");
  before = test_read_file(path2, &len);
  st = store_open(path2, err, sizeof err);
  CHECK(st == NULL, "store_open refuses schema version 99 in rollback mode");
  CHECK_HAS(err, "newer", "the refusal says a newer parley wrote it");
  int same = file_is(path2, before, len);
  if (!test_result(same, "the newer rollback-journal database is left byte for byte")) {
    char *mode = sql_text(path2, "PRAGMA journal_mode");
    test_note("journal_mode is now %s", mode);
    free(mode);
  }
  store_close(st);
  free(before);
  free(path);
  free(path2);
}

static void test_locked_database_is_reported(void) {
  char *path = fresh_db_path("locked.db");
  store *st = open_or_note(path);
  if (!st) return;
  int64_t bot = store_bot_ensure(st, "alpha", T0);
  store_contact_insert(st, 0, bot, "+15550001", T0);
  store_close(st);
  long long version = sql_int(path, "PRAGMA user_version");

  sqlite3 *holder;
  sqlite3_open(path, &holder);
  char *msg = NULL;
  int rc = sqlite3_exec(holder, "PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE;"
                                " INSERT INTO bots(name, created_at) VALUES('held', 0);",
                        NULL, NULL, &msg);
  if (rc != SQLITE_OK) test_note("could not take the lock: %s", msg);
  sqlite3_free(msg);

  char err[512] = "";
  st = store_open(path, err, sizeof err);
  CHECK(st == NULL, "store_open reports a database another connection locked");
  CHECK_HAS(err, path, "the report names the file");
  CHECK_HAS(err, "locked", "the report says the database is locked");
  CHECK(strstr(err, "corrupt") == NULL && strstr(err, "not a database") == NULL,
        "the report does not call a locked database corrupt (%s)", err);
  store_close(st);

  sqlite3_exec(holder, "ROLLBACK", NULL, NULL, NULL);
  sqlite3_close(holder);
  CHECK_INT(sql_int(path, "SELECT count(*) FROM contacts"), 1,
            "the locked database keeps its contact");
  CHECK_INT(sql_int(path, "PRAGMA user_version"), version,
            "the locked database keeps its schema version");
  st = open_or_note(path);
  CHECK(st != NULL, "once the lock is gone the database opens");
  if (st)
    CHECK_INT(store_contact_count(store_reads(st), bot), 1, "and has its contact");
  store_close(st);
  free(path);
}

static void test_rollback_discards_changes(void) {
  char *path = fresh_db_path("rollback.db");
  store *st = open_or_note(path);
  if (!st) return;
  int64_t bot = store_bot_ensure(st, "alpha", T0);
  int64_t kept = store_contact_insert(st, 0, bot, "+15550001", T0);
  CHECK_INT(store_begin(st), 0, "store_begin starts a transaction");
  int64_t c = store_contact_insert(st, 0, bot, "+15550002", T0);
  add_message(st, bot, c, "+15550002", "in", "hi", "p-9");
  store_contact_update(st, kept, "opted_out", "{\"a\":1}", NULL, NULL);
  store_bot_store_set(st, bot, "{\"x\":1}", 0);
  CHECK_INT(store_rollback(st), 0, "store_rollback succeeds");
  contact_row r = {0};
  CHECK_INT(store_contact_get(store_reads(st), bot, "+15550002", &r), 0,
            "a contact added in a rolled-back transaction is gone");
  CHECK_INT(store_contact_get(store_reads(st), bot, "+15550001", &r), 1,
            "the earlier contact is still there");
  CHECK_STR(r.status, "subscribed", "its status change was rolled back");
  CHECK_STR(r.fields, "{}", "its fields change was rolled back");
  contact_row_free(&r);
  char *json = store_bot_store_get(store_reads(st), bot, NULL);
  CHECK_STR(json, "{}", "the bot.store change was rolled back");
  free(json);
  CHECK_INT(store_rollback(st), 0, "store_rollback outside a transaction is harmless");
  store_close(st);
  CHECK_INT(sql_int(path, "SELECT count(*) FROM messages"), 0,
            "no message of the rolled-back transaction is on disk");
  free(path);
}

/* Every column of every message, in id order, as one string. */
static char *all_messages(const char *path) {
  return sql_text(
      path,
      "SELECT group_concat(r, '|') FROM (SELECT quote(id) || ',' ||"
      " quote(bot_id) || ',' || quote(contact_id) || ',' || quote(direction)"
      " || ',' || quote(number) || ',' || quote(text) || ',' || quote(status)"
      " || ',' || quote(provider_id) || ',' || quote(transactional) || ','"
      " || quote(segments) || ',' || quote(created_at) || ',' ||"
      " quote(updated_at) || ',' || quote(send_at) || ',' || quote(sender)"
      " || ',' || quote(priority) || ',' || quote(attempts) || ',' ||"
      " quote(next_attempt_at) || ',' || quote(error) || ',' || quote(media)"
      " AS r FROM messages ORDER BY id)");
}

enum { MANY = 150 }; /* more than one statement's worth, and a remainder */

/* Row i of a varied batch: in and out, queued and held, with and without
 * ids, provider ids, segments, senders, media and errors. */
static message_row varied_row(int i, int64_t bot, int64_t contact, char *text,
                              size_t textlen, char *pid, size_t pidlen) {
  snprintf(text, textlen, "message %d", i);
  snprintf(pid, pidlen, "SM%d", i);
  int in = i % 3 == 0;
  static const char *const out_status[] = {"sent", "queued", "held", "failed"};
  return (message_row){.id = i % 7 == 6 ? 0 : 5000 + i,
                       .bot_id = bot,
                       .contact_id = contact,
                       .direction = in ? "in" : "out",
                       .number = "+15550001",
                       .text = text,
                       .status = in ? "done" : out_status[i % 4],
                       .provider_id = i % 5 == 4 ? NULL : pid,
                       .transactional = i % 2,
                       .segments = i % 4,
                       .at = T0 + i,
                       .send_at = i % 4 == 2 ? T0 + 1000 + i : 0,
                       .sender = i % 3 == 1 ? "+15559999" : NULL,
                       .priority = i % 2,
                       .media = i % 8 == 1 ? "[\"https://e.example/a.png\"]" : NULL,
                       .error = i % 4 == 3 ? "carrier said no" : NULL};
}

/* store_messages_add writes exactly the rows store_message_add writes, one
 * by one, whatever the batch's size. */
static void test_messages_add_matches_one_by_one(void) {
  char *one_path = fresh_db_path("one-by-one.db"),
       *many_path = fresh_db_path("batch.db");
  store *one = open_or_note(one_path), *many = open_or_note(many_path);
  if (!one || !many) return;
  static char texts[MANY][32], pids[MANY][32];
  message_row rows[MANY];
  int64_t bot = store_bot_ensure(one, "alpha", T0);
  CHECK_INT(store_bot_ensure(many, "alpha", T0), bot, "both stores have the bot");
  int64_t contact = store_contact_insert(one, 0, bot, "+15550001", T0);
  store_contact_insert(many, 0, bot, "+15550001", T0);
  for (int i = 0; i < MANY; i++)
    rows[i] =
        varied_row(i, bot, contact, texts[i], sizeof texts[i], pids[i], sizeof pids[i]);
  store_begin(one);
  int stored = 0;
  for (int i = 0; i < MANY; i++) stored += store_message_add(one, &rows[i]) > 0;
  store_commit(one);
  CHECK_INT(stored, MANY, "one by one, every row is stored");
  /* batches of every size from 1 up, then the rest */
  store_begin(many);
  int rc = 0;
  size_t at = 0;
  for (size_t size = 1; at < MANY && rc == 0; size++) {
    size_t n = at + size > MANY ? MANY - at : size;
    rc = store_messages_add(many, rows + at, n);
    at += n;
  }
  CHECK_INT(rc, 0, "store_messages_add stores the batches: %s",
            store_error(store_reads(many)));
  CHECK_INT(store_commit(many), 0, "... and they commit");
  rc = store_messages_add(many, rows, 0);
  CHECK_INT(rc, 0, "an empty batch does nothing");
  store_close(one);
  store_close(many);
  char *a = all_messages(one_path), *b = all_messages(many_path);
  CHECK(a && b && strcmp(a, b) == 0, "the stored rows are the same, column by column");
  if (a && b && strcmp(a, b) != 0)
    test_note("one by one: %.300s\n#   batched: %.300s", a, b);
  CHECK_INT(sql_int(many_path, "SELECT count(*) FROM messages"), MANY,
            "all %d rows are there", MANY);
  free(a);
  free(b);
  free(one_path);
  free(many_path);
}

/* A batch whose third row repeats an inbound provider id: an error that
 * names it, and nothing of the batch once the transaction rolls back. */
static void test_messages_add_duplicate_provider_id(void) {
  char *path = fresh_db_path("batch-dup.db");
  store *st = open_or_note(path);
  if (!st) return;
  int64_t bot = store_bot_ensure(st, "alpha", T0);
  int64_t c = store_contact_insert(st, 0, bot, "+15550001", T0);
  message_row rows[5];
  const char *pids[5] = {"SM-a", "SM-b", "SM-a", "SM-c", "SM-d"};
  for (int i = 0; i < 5; i++)
    rows[i] = (message_row){.id = 100 + i,
                            .bot_id = bot,
                            .contact_id = c,
                            .direction = "in",
                            .number = "+15550001",
                            .text = "hi",
                            .status = "done",
                            .provider_id = pids[i],
                            .at = T0};
  store_begin(st);
  CHECK_INT(store_messages_add(st, rows, 5), -1,
            "a batch whose 3rd row repeats an inbound provider id fails");
  CHECK(strstr(store_error(store_reads(st)), "SM-a") != NULL,
        "the error names the provider id: %s", store_error(store_reads(st)));
  CHECK(strstr(store_error(store_reads(st)), "102") != NULL, "... and the message: %s",
        store_error(store_reads(st)));
  store_rollback(st);
  CHECK_INT(sql_int(path, "SELECT count(*) FROM messages"), 0,
            "after the rollback no row of the batch is stored");

  /* one already stored: the batch repeating it fails, the stored one stays */
  store_begin(st);
  CHECK_INT(store_messages_add(st, rows, 1), 0, "a batch of one is stored");
  store_commit(st);
  store_begin(st);
  rows[1].provider_id = "SM-x";
  CHECK_INT(store_messages_add(st, rows + 1, 3), -1,
            "a batch repeating a stored inbound provider id fails");
  CHECK(strstr(store_error(store_reads(st)), "SM-a") != NULL, "the error names it: %s",
        store_error(store_reads(st)));
  store_rollback(st);
  CHECK_INT(sql_int(path, "SELECT count(*) FROM messages"), 1,
            "only the committed message is stored");
  /* in a long batch: the row at fault is named wherever it falls, first of
   * its statement or inside one */
  static message_row many[MANY];
  static char pid[MANY][16];
  int at_fault[] = {64, 100, 149};
  for (int t = 0; t < 3; t++) {
    for (int i = 0; i < MANY; i++) {
      snprintf(pid[i], sizeof pid[i], "L%d", i);
      many[i] = rows[0];
      many[i].id = 1000 + i;
      many[i].provider_id = pid[i];
    }
    many[at_fault[t]].provider_id = "L3";
    store_begin(st);
    char want[32];
    snprintf(want, sizeof want, "message %d ", 1000 + at_fault[t]);
    CHECK_INT(store_messages_add(st, many, MANY), -1,
              "a batch of %d repeating L3 at row %d fails", MANY, at_fault[t]);
    CHECK(strstr(store_error(store_reads(st)), want) &&
              strstr(store_error(store_reads(st)), "'L3'"),
          "the error names row %d: %s", at_fault[t], store_error(store_reads(st)));
    store_rollback(st);
  }
  CHECK_INT(sql_int(path, "SELECT count(*) FROM messages"), 1,
            "after the rollbacks only the committed message is stored");
  /* the same provider id outbound, or for another bot, is no duplicate */
  int64_t other = store_bot_ensure(st, "beta", T0);
  message_row fine[2] = {rows[0], rows[0]};
  fine[0].id = 200;
  fine[0].direction = "out";
  fine[0].status = "queued";
  fine[1].id = 201;
  fine[1].bot_id = other;
  store_begin(st);
  CHECK_INT(store_messages_add(st, fine, 2), 0,
            "the same provider id outbound or under another bot is stored");
  store_commit(st);
  store_close(st);
  CHECK_INT(sql_int(path, "SELECT count(*) FROM messages WHERE provider_id = 'SM-a'"),
            3, "three rows carry SM-a");
  free(path);
}

static void test_contact_update_null_leaves_fields(void) {
  char *path = fresh_db_path("update.db");
  store *st = open_or_note(path);
  if (!st) return;
  int64_t bot = store_bot_ensure(st, "alpha", T0);
  int64_t c = store_contact_insert(st, 0, bot, "+15550001", T0);
  store_contact_update(st, c, "opted_out", "{\"a\":1}", "[\"t\"]", "UTC");
  CHECK_INT(store_contact_update(st, c, NULL, "{\"a\":2}", NULL, NULL), 0,
            "updating only fields succeeds");
  contact_row r = {0};
  store_contact_get(store_reads(st), bot, "+15550001", &r);
  CHECK_STR(r.fields, "{\"a\":2}", "fields changed");
  CHECK_STR(r.status, "opted_out", "a NULL status leaves the status");
  CHECK_STR(r.tags, "[\"t\"]", "NULL tags leave the tags");
  CHECK_STR(r.timezone, "UTC", "a NULL time zone leaves the time zone");
  contact_row_free(&r);
  store_contact_update(st, c, NULL, NULL, NULL, NULL);
  store_contact_get(store_reads(st), bot, "+15550001", &r);
  CHECK(strcmp(r.status, "opted_out") == 0 && strcmp(r.fields, "{\"a\":2}") == 0 &&
            strcmp(r.tags, "[\"t\"]") == 0 && strcmp(r.timezone, "UTC") == 0,
        "an update with only NULLs changes nothing");
  contact_row_free(&r);
  CHECK(store_contact_update(st, c, "sleeping", NULL, NULL, NULL) != 0,
        "an unknown status is refused");
  CHECK(store_error(store_reads(st))[0] != 0,
        "the refusal leaves a sentence in store_error");
  store_contact_seen(st, c, T0 + 500);
  store_contact_get(store_reads(st), bot, "+15550001", &r);
  CHECK_INT(r.last_seen, T0 + 500, "store_contact_seen sets last_seen");
  CHECK_INT(r.first_seen, T0, "and leaves first_seen");
  contact_row_free(&r);
  store_close(st);
  free(path);
}

/* Version numbers count per bot. A database from before (one count over all
 * bots, schema 5) keeps the numbers it has, so a rollback to a number
 * noted before still reaches the same files; new versions count on per
 * bot from the bot's highest. */
static void collect_version(void *ud, int64_t number, const char *sha,
                            int64_t created_at, int active) {
  (void)sha, (void)created_at, (void)active;
  char *list = ud;
  size_t n = strlen(list);
  snprintf(list + n, 64 - n, "%s%lld", n ? "," : "", (long long)number);
}

static void test_version_numbers_per_bot(void) {
  char *path = fresh_db_path("versions.db");
  store *st = open_or_note(path);
  if (!st) return;
  int64_t a = store_bot_ensure(st, "alpha", T0), b = store_bot_ensure(st, "beta", T0);
  int64_t number = 0;
  store_script_version_add(st, a, "a1", "{\"bot.lua\":\"-- a1\"}", T0, &number);
  CHECK_INT(number, 1, "a bot's first version is 1");
  store_script_version_add(st, b, "b1", "{\"bot.lua\":\"-- b1\"}", T0, &number);
  CHECK_INT(number, 1, "another bot's first version is 1 too");
  store_script_version_add(st, a, "a2", "{\"bot.lua\":\"-- a2\"}", T0, &number);
  CHECK_INT(number, 2, "the bot's second version is 2");
  store_script_version_add(st, a, "a1", "{\"bot.lua\":\"-- a1\"}", T0, &number);
  CHECK_INT(number, 1, "the same files again are the same version, with its number");
  char list[64] = "";
  store_versions_each(store_reads(st), a, collect_version, list);
  CHECK_STR(list, "1,2", "the bot's versions are listed by their numbers");
  char *files = store_version_files(store_reads(st), b, 1);
  CHECK_STR(files, "{\"bot.lua\":\"-- b1\"}",
            "a version's files are found by bot and number");
  free(files);
  store_close(st);

  /* the same rows as an older parley numbered them: one count for all */
  char msg[256] = "";
  sql_exec(path,
           "DROP INDEX script_versions_number; ALTER TABLE script_versions DROP COLUMN "
           "number; ALTER TABLE broadcasts DROP COLUMN not_opted_in;"
           " ALTER TABLE broadcasts DROP COLUMN content;"
           " ALTER TABLE messages DROP COLUMN broadcast_id;"
           " ALTER TABLE messages DROP COLUMN reply_to;"
           " DROP TABLE console_sessions; DROP TABLE inbox_reads; DROP TABLE operator_actions;"
           " DROP TABLE links; DROP TABLE clicks; DROP TABLE snapshots; DROP TABLE http_answers;"
           " ALTER TABLE contacts DROP COLUMN handoff; PRAGMA user_version = 5;",
           msg, sizeof msg);
  CHECK_STR(msg, "", "the database is taken back to schema 5");
  st = open_or_note(path);
  if (!st) return;
  list[0] = 0;
  store_versions_each(store_reads(st), a, collect_version, list);
  CHECK_STR(list, "1,3",
            "after the migration a bot's versions keep the numbers they had");
  files = store_version_files(store_reads(st), b, 2);
  CHECK_STR(files, "{\"bot.lua\":\"-- b1\"}",
            "... and a number noted before reaches the same files");
  free(files);
  store_script_version_add(st, b, "b2", "{\"bot.lua\":\"-- b2\"}", T0, &number);
  CHECK_INT(number, 3, "a new version counts on from the bot's own highest number");
  store_script_version_add(st, a, "a3", "{\"bot.lua\":\"-- a3\"}", T0, &number);
  CHECK_INT(number, 4, "... for each bot");
  store_close(st);
  free(path);
}

/* Schema 6 knew two statuses; 7 adds not_opted_in. SQLite cannot change a
 * CHECK, so the migration rebuilds the contacts table: a database of
 * schema 6 keeps its contacts (ids, statuses, every column), the rows
 * that point at them, the table's uniqueness, and takes the new status. */
/* How many times the program of sql has the opcode op (EXPLAIN; on a
 * connection that may write: a read-only one leaves the CHECKs out). */
static int opcode_count(const char *path, const char *sql, const char *op) {
  sqlite3 *db;
  int n = -1;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK) {
    char *explain = NULL;
    sqlite3_stmt *s;
    if (asprintf(&explain, "EXPLAIN %s", sql) > 0 &&
        sqlite3_prepare_v2(db, explain, -1, &s, NULL) == SQLITE_OK) {
      n = 0;
      while (sqlite3_step(s) == SQLITE_ROW)
        n += sqlite3_column_text(s, 1) && strcmp((const char *)sqlite3_column_text(s, 1), op) == 0;
      sqlite3_finalize(s);
    }
    free(explain);
  }
  sqlite3_close(db);
  return n;
}

/* Schema 8: writing a status builds no temporary table (an IN list of
 * three values in the CHECK did, each time). */
static void test_status_check_is_cheap(void) {
  char *path = fresh_db_path("status-check.db");
  store *st = open_or_note(path);
  if (!st) return;
  store_close(st);
  CHECK_INT(opcode_count(path, "UPDATE contacts SET status = ?1 WHERE id = ?2", "OpenEphemeral"),
            0, "writing a contact's status builds no temporary table");
  CHECK_INT(opcode_count(path,
                         "INSERT INTO contacts(id, bot_id, number, status, first_seen, last_seen)"
                         " VALUES(?1, 1, ?2, ?3, 0, 0)",
                         "OpenEphemeral"),
            0, "nor does adding a contact");
  free(path);
}

static void test_contacts_migrate_to_three_statuses(void) {
  char *path = fresh_db_path("statuses.db");
  char *fresh = fresh_db_path("statuses-fresh.db");
  store *st = open_or_note(fresh);
  if (!st) return;
  store_close(st);
  st = open_or_note(path);
  if (!st) return;
  int64_t bot = store_bot_ensure(st, "fan", 0);
  store_contact_insert(st, 7, bot, "+15550007", T0);
  store_contact_insert(st, 9, bot, "+15550009", T0 + 1);
  store_contact_update(st, 9, "opted_out", "{\"city\":\"Austin\"}", "[\"vip\"]", "Europe/Paris");
  store_consent_add(st, bot, 9, "+15550009", "optout", "keyword", "STOP", T0);
  add_message(st, bot, 9, "+15550009", "in", "STOP", NULL);
  store_close(st);

  /* the contacts table as schema 6 had it */
  char msg[512] = "";
  sql_exec(path,
           "CREATE TABLE old_contacts("
           "  id INTEGER PRIMARY KEY,"
           "  bot_id INTEGER NOT NULL REFERENCES bots(id),"
           "  number TEXT NOT NULL,"
           "  status TEXT NOT NULL DEFAULT 'subscribed'"
           "    CHECK(status IN ('subscribed','opted_out')),"
           "  fields TEXT NOT NULL DEFAULT '{}',"
           "  tags TEXT NOT NULL DEFAULT '[]',"
           "  timezone TEXT,"
           "  first_seen INTEGER NOT NULL,"
           "  last_seen INTEGER NOT NULL,"
           "  joined INTEGER NOT NULL DEFAULT 0,"
           "  UNIQUE(bot_id, number));"
           "ALTER TABLE old_contacts ADD COLUMN undeliverable TEXT;"
           "ALTER TABLE contacts DROP COLUMN handoff;"
           "ALTER TABLE contacts DROP COLUMN last_in;"
           "INSERT INTO old_contacts SELECT * FROM contacts;"
           "DROP TABLE contacts;"
           "ALTER TABLE old_contacts RENAME TO contacts;"
           "UPDATE contacts SET joined = 1, undeliverable = 'invalid' WHERE id = 9;"
           "ALTER TABLE broadcasts DROP COLUMN not_opted_in;"
           "ALTER TABLE broadcasts DROP COLUMN content;"
           "ALTER TABLE messages DROP COLUMN broadcast_id;"
           "ALTER TABLE messages DROP COLUMN reply_to;"
           "DROP TABLE console_sessions; DROP TABLE inbox_reads; DROP TABLE operator_actions;"
           "DROP TABLE links; DROP TABLE clicks; DROP TABLE snapshots; DROP TABLE http_answers;"
           "PRAGMA user_version = 6;",
           msg, sizeof msg);
  CHECK_STR(msg, "", "the database is taken back to schema 6");
  CHECK(sql_exec(path, "UPDATE contacts SET status = 'not_opted_in' WHERE id = 7", msg,
                 sizeof msg) != SQLITE_OK,
        "schema 6 refuses the status not_opted_in");

  st = open_or_note(path);
  if (!st) return;
  CHECK_INT(sql_int(path, "PRAGMA user_version"), sql_int(fresh, "PRAGMA user_version"),
            "the migrated database is at the current schema version");
  contact_row r = {0};
  CHECK(store_contact_get(store_reads(st), bot, "+15550009", &r) == 1 && r.id == 9 &&
            strcmp(r.status, "opted_out") == 0 &&
            strcmp(r.fields, "{\"city\":\"Austin\"}") == 0 &&
            strcmp(r.tags, "[\"vip\"]") == 0 && r.timezone &&
            strcmp(r.timezone, "Europe/Paris") == 0 && r.joined && r.undeliverable &&
            r.first_seen == T0 + 1,
        "a contact keeps its id, status and every column");
  contact_row_free(&r);
  transcript t = {""};
  store_consent_each(store_reads(st), 9, on_consent, &t);
  CHECK_STR(t.text, "optout:keyword:STOP", "its ledger entries still point at it");
  t.text[0] = 0;
  store_messages_each(store_reads(st), 9, on_message, &t);
  CHECK_STR(t.text, "in:STOP:done", "and its messages");
  CHECK(store_contact_update(st, 7, "not_opted_in", NULL, NULL, NULL) == 0,
        "the migrated table takes the status not_opted_in");
  CHECK(store_contact_get(store_reads(st), bot, "+15550007", &r) == 1 && r.id == 7 &&
            strcmp(r.status, "not_opted_in") == 0,
        "... and reads it back");
  contact_row_free(&r);
  CHECK(store_contact_insert(st, 10, bot, "+15550007", T0) < 0,
        "a number is still unique per bot");
  store_close(st);
  CHECK(sql_exec(path, "UPDATE contacts SET status = 'gone' WHERE id = 7", msg, sizeof msg) !=
            SQLITE_OK,
        "a status outside the three is still refused");
  char *want = sql_text(fresh, "SELECT group_concat(sql, ';') FROM (SELECT sql FROM sqlite_schema"
                               " WHERE sql IS NOT NULL ORDER BY name)");
  char *got = sql_text(path, "SELECT group_concat(sql, ';') FROM (SELECT sql FROM sqlite_schema"
                             " WHERE sql IS NOT NULL ORDER BY name)");
  CHECK(want && got && strcmp(want, got) == 0,
        "the migrated schema is a new database's (tables, indexes, references)");
  if (want && got && strcmp(want, got)) test_note("new:      %s\nmigrated: %s", want, got);
  free(want);
  free(got);
  CHECK_INT(sql_int(path, "SELECT count(*) FROM pragma_foreign_key_check"), 0,
            "no row points at a contact that is not there");
  char *ok = sql_text(path, "PRAGMA integrity_check");
  CHECK_STR(ok ? ok : "", "ok", "the migrated database passes integrity_check");
  free(ok);
  free(path);
  free(fresh);
}

/* The suppression hash of number as the schema defines it (HMAC-SHA256 under
 * the database's key, in hex), computed here on its own. */
static void expected_hash(const char *path, const char *number, char out[65]) {
  out[0] = 0;
  char *hex = sql_text(path, "SELECT value FROM meta WHERE key = 'suppression_key'");
  if (!hex || strlen(hex) != 64) {
    free(hex);
    return;
  }
  unsigned char key[32], mac[32];
  unsigned len = 0;
  for (int i = 0; i < 32; i++) {
    unsigned v;
    sscanf(hex + i * 2, "%2x", &v);
    key[i] = (unsigned char)v;
  }
  free(hex);
  HMAC(EVP_sha256(), key, sizeof key, (const unsigned char *)number, strlen(number),
       mac, &len);
  for (int i = 0; i < 32; i++) sprintf(out + i * 2, "%02x", mac[i]);
}

/* A number erased while opted out stays suppressed for its bot: on the
 * connection that erased it, on another one (that had looked it up before),
 * and after a reopen; each hash is the HMAC the schema names, however many
 * the connection has computed. */
static void test_suppression_outlives_erase(void) {
  char *path = fresh_db_path("suppress.db");
  store *st = open_or_note(path), *reader = open_or_note(path);
  if (!st || !reader) return;
  int64_t bot = store_bot_ensure(st, "alpha", T0),
          other = store_bot_ensure(st, "beta", T0);
  const char *numbers[] = {"+15550001", "+15550002", "+447700900123"};
  CHECK_INT(store_is_suppressed(store_reads(reader), bot, numbers[0]), 0,
            "a number never erased is not");
  store_begin(st);
  for (int i = 0; i < 3; i++) {
    int64_t c = store_contact_insert(st, 0, bot, numbers[i], T0);
    CHECK_INT(store_contact_erase(st, bot, c, numbers[i], i != 1, T0), 0,
              "%s is erased", numbers[i]);
  }
  store_commit(st);
  CHECK_INT(store_is_suppressed(store_reads(st), bot, numbers[0]), 1,
            "an opted-out number erased is suppressed");
  CHECK_INT(store_is_suppressed(store_reads(st), bot, numbers[2]), 1,
            "... each of them");
  CHECK_INT(store_is_suppressed(store_reads(st), bot, numbers[1]), 0,
            "a number erased without suppression is not");
  CHECK_INT(store_is_suppressed(store_reads(st), other, numbers[0]), 0,
            "another bot's number is not");
  CHECK_INT(store_is_suppressed(store_reads(st), bot, "+15550009"), 0,
            "an unknown number is not");
  CHECK_INT(store_is_suppressed(store_reads(reader), bot, numbers[0]), 1,
            "another connection sees the suppression once committed");
  store_close(reader);
  store_close(st);
  st = open_or_note(path);
  if (!st) return;
  CHECK_INT(store_is_suppressed(store_reads(st), bot, numbers[2]), 1,
            "... and so does a reopened store");
  store_close(st);
  char want[65], sql[256];
  for (int i = 0; i < 3; i += 2) {
    expected_hash(path, numbers[i], want);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM suppressions WHERE number_hash = '%s'", want);
    CHECK_INT(sql_int(path, sql), 1, "%s is stored as HMAC-SHA256(key, number)",
              numbers[i]);
  }
  CHECK_INT(sql_int(path, "SELECT count(*) FROM suppressions"), 2,
            "two suppressions in all");
  free(path);
}

struct brief_lock {
  const char *path;
  _Atomic int held;
};

/* Takes the write lock on another connection, holds it 50 ms, lets go. */
static void test_lookups_on_sqlite(void) {
  char *path = fresh_db_path("lookups.db");
  store *st = open_or_note(path);
  if (st) {
    store_ensure_keys(st);
    test_lookups_many(st, "SQLite");
    store_close(st);
  }
  free(path);
}

static void test_conversations_on_sqlite(void) {
  char *path = fresh_db_path("conversations.db");
  store *st = open_or_note(path);
  if (st) {
    test_conversations_saved_together(st, "SQLite");
    test_contacts_added_together(st, "SQLite");
    store_close(st);
  }
  free(path);
}

static void *hold_write_lock_briefly(void *arg) {
  struct brief_lock *l = arg;
  sqlite3 *db;
  sqlite3_open(l->path, &db);
  sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
  l->held = 1;
  struct timespec ts = {0, 50 * 1000000L};
  nanosleep(&ts, NULL);
  sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
  sqlite3_close(db);
  return NULL;
}

/* A lock another connection holds for a moment is waited for (the store's
 * busy handler tries again after short sleeps), not reported. */
static void test_brief_lock_is_waited_for(void) {
  char *path = fresh_db_path("brief.db");
  store *st = open_or_note(path);
  if (!st) return;
  int64_t bot = store_bot_ensure(st, "alpha", T0);
  struct brief_lock l = {.path = path};
  pthread_t t;
  pthread_create(&t, NULL, hold_write_lock_briefly, &l);
  while (!l.held) sched_yield();
  int failed = store_begin(st) || add_message(st, bot, 1, "+15550800", "in", "hi", NULL) <= 0 ||
               store_commit(st);
  pthread_join(t, NULL);
  CHECK(!failed, "a commit waits for a write lock held 50 ms elsewhere (%s)",
        failed ? store_error(store_reads(st)) : "");
  CHECK_INT(sql_int(path, "SELECT count(*) FROM messages"), 1, "and its message is stored");
  store_close(st);
  free(path);
}

/* ---------------------------------------------------------------- the WAL */

struct busy_readers {
  store_reader *rd[2];
  _Atomic int stop;
  long reads;
};

/* Read transactions on two connections, each begun before the other's ends,
 * as several engine workers make them: there is always a reader somewhere
 * in the WAL. */
static void *read_until_stopped(void *arg) {
  struct busy_readers *r = arg;
  int64_t c, m, t;
  int open = store_read_begin(r->rd[0]) == 0 ? 0 : -1;
  for (int next = 1; !r->stop && open >= 0; next = 1 - next) {
    if (store_read_begin(r->rd[next]) != 0) break;
    store_max_ids(r->rd[next], &c, &m, &t);
    store_read_end(r->rd[open]);
    open = next;
    r->reads++;
  }
  if (open >= 0) store_read_end(r->rd[open]);
  return NULL;
}

/* Readers that never all stop at once keep a passive checkpoint from ever
 * catching up with the writer, so the WAL never starts over and grows with
 * every commit (it reached 600 MB in the HTTP bench's 200,000 webhooks).
 * store_checkpoint restarts it once it is long: the file stays bounded. */
static void test_wal_stays_bounded_under_readers(void) {
  char *path = fresh_db_path("wal.db");
  char err[512] = "";
  store *w = open_or_note(path);
  store *cp = open_or_note(path);
  store_reader *rd = w ? store_reader_open(path, err, sizeof err) : NULL;
  store_reader *rd2 = rd ? store_reader_open(path, err, sizeof err) : NULL;
  CHECK(w && cp && rd && rd2, "a writer, a checkpointer and two readers open (%s)", err);
  if (!w || !cp || !rd || !rd2) return;
  CHECK_INT(store_manual_checkpoints(w), 0, "the writer leaves checkpoints to the other");
  store_set_wal_restart(cp, 64);
  int64_t bot = store_bot_ensure(w, "walbot", T0);
  struct busy_readers r = {.rd = {rd, rd2}};
  pthread_t t;
  pthread_create(&t, NULL, read_until_stopped, &r);
  char text[3000];
  memset(text, 'x', sizeof text - 1);
  text[sizeof text - 1] = 0;
  int failed = 0;
  for (int i = 0; i < 1500 && !failed; i++) {
    failed = store_begin(w) || add_message(w, bot, 1, "+15550700", "in", text, NULL) <= 0 ||
             store_commit(w);
    if (i % 16 == 15) failed |= store_checkpoint(cp);
  }
  r.stop = 1;
  pthread_join(t, NULL);
  CHECK(!failed, "1,500 commits and their checkpoints while readers read (%s)",
        failed ? store_error(store_reads(w)) : "");
  CHECK(r.reads > 0, "the readers read meanwhile (%ld read transactions)", r.reads);
  char *wal = test_path(tmp, "wal.db-wal");
  struct stat sb;
  long long bytes = stat(wal, &sb) == 0 ? (long long)sb.st_size : -1;
  /* 1,500 commits of a page or more each are over 6 MB of frames */
  CHECK(bytes >= 0 && bytes < 1024 * 1024,
        "the WAL stayed bounded: %lld bytes after 1,500 commits", bytes);
  store_reader_close(rd2);
  store_reader_close(rd);
  store_close(cp);
  store_close(w);
  free(wal);
  free(path);
}

static void test_console_on_sqlite(void) {
  char *path = fresh_db_path("console.db");
  store *st = open_or_note(path);
  if (st) {
    test_console_sessions(st, "SQLite");
    test_console_inbox(st, "SQLite");
    test_console_stats(st, "SQLite", 97400, 1772445600000);
    store_close(st);
  }
  free(path);
}

/* What the channels store survives a reopen: a broadcast's template
 * (schema 16) and when a WhatsApp contact last wrote (schema 15, which
 * opens Meta's 24-hour window). */
static void test_channels_keep_across_reopen(void) {
  char *path = fresh_db_path("channels.db");
  store *st = open_or_note(path);
  if (!st) return;
  store_begin(st);
  int64_t bot = store_bot_ensure(st, "shop", T0);
  int64_t c = store_contact_insert(st, 0, bot, "whatsapp:+15550001", T0);
  CHECK_INT(store_contact_seen(st, c, T0 + 5000), 0, "a WhatsApp contact's message is recorded");
  static const char content[] =
      "{\"template\":{\"name\":\"flash_sale\",\"language\":\"en_US\",\"params\":[\"x\"]}}";
  broadcast_row b = {.id = 7, .bot_id = bot, .segment = "{}", .text = "Sale!", .rate = 5,
                     .next_at = T0, .content = (char *)content};
  store_broadcast_add(st, &b, T0);
  CHECK_INT(store_commit(st), 0, "they commit");
  store_close(st);

  st = open_or_note(path);
  if (!st) return;
  contact_row r = {0};
  CHECK(store_contact_get(store_reads(st), bot, "whatsapp:+15550001", &r) == 1 &&
            r.last_in == T0 + 5000,
        "after a reopen the contact keeps when it last wrote");
  contact_row_free(&r);
  broadcast_row got = {0};
  CHECK(store_broadcast_get(store_reads(st), bot, 7, &got) == 1 && got.content &&
            strcmp(got.content, content) == 0 && strcmp(got.text, "Sale!") == 0,
        "after a reopen the broadcast keeps its template");
  broadcast_row_free(&got);
  store_close(st);
  free(path);
}

int main(void) {
  tmp = test_tmpdir();
  test_new_file_gets_schema_in_wal_mode();
  test_reopen_keeps_data();
  test_contacts_are_per_bot();
  test_inbound_provider_id_dedup();
  test_consent_ledger_is_append_only();
  test_not_a_database_is_left_alone();
  test_newer_schema_is_refused();
  test_locked_database_is_reported();
  test_brief_lock_is_waited_for();
  test_rollback_discards_changes();
  test_messages_add_matches_one_by_one();
  test_messages_add_duplicate_provider_id();
  test_suppression_outlives_erase();
  test_lookups_on_sqlite();
  test_conversations_on_sqlite();
  test_contact_update_null_leaves_fields();
  test_version_numbers_per_bot();
  test_contacts_migrate_to_three_statuses();
  test_status_check_is_cheap();
  test_wal_stays_bounded_under_readers();
  test_console_on_sqlite();
  test_channels_keep_across_reopen();
  test_rmtree(tmp);
  free(tmp);
  return test_done();
}
