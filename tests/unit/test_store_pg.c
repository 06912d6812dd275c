/* The store on a real PostgreSQL server: the schema (store_schema_pg.c)
 * made once, kept on a second open, refused when newer; parley_partition
 * gives partition.h's answers; the consent ledger stays append-only; every
 * statement the store prepares from fixed text prepares on it; the store's
 * API; two engines at once, each with its own id blocks; the cluster's
 * nodes, leases and fencing (store_cluster.h); segments as SQLite's.
 *
 *   make build/test_store_pg && ./build/test_store_pg */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine.h"
#include "partition.h"
#include "sql_db.h"
#include "store.h"
#include "store_cluster.h"
#include "store_internal.h"
#include "store_schema_pg.h"
#include "test.h"
#include "test_contact_adds.h"
#include "test_console_store.h"
#include "test_conversations.h"
#include "test_lookups.h"
#include "test_pg.h"

static int64_t one_int(sql_db *db, const char *sql) {
  sql_stmt *s = sql_prepare(db, sql);
  int64_t v = s && sql_step(s) == SQL_ROW ? sql_column_int(s, 0) : -1;
  sql_finalize(s);
  return v;
}

static void test_schema(sql_db *db) {
  char err[1024] = "";
  CHECK_INT(store_schema_version(), pg_schema_latest(),
            "the PostgreSQL schema reaches the version SQLite's migrations make");
  /* a database made at the baseline, as the first parley on PostgreSQL
   * made it, then migrated */
  CHECK(store_schema_pg(db, PG_SCHEMA_BASELINE, err, sizeof err) == 0,
        "the baseline is made on an empty database (%s)", err);
  const char *hot_keys = "SELECT count(*) FROM information_schema.table_constraints"
                         " WHERE constraint_type = 'FOREIGN KEY' AND table_name IN"
                         " ('contacts', 'messages', 'conversations', 'timers')";
  CHECK_INT(one_int(db, hot_keys), 6, "the baseline has the foreign keys SQLite declares");
  CHECK(store_schema_pg(db, store_schema_version(), err, sizeof err) == 0,
        "the baseline is migrated to the latest version (%s)", err);
  CHECK_INT(one_int(db, hot_keys), 0,
            "9: the tables every message writes have no foreign keys (SQLite's are not enforced)");
  CHECK_INT(one_int(db, "SELECT count(*) FROM information_schema.table_constraints"
                        " WHERE constraint_type = 'FOREIGN KEY' AND table_name = 'consent'"),
            1, "the consent ledger keeps its bot's");
  CHECK_INT(one_int(db, "SELECT count(*) FROM pg_indexes WHERE indexname = 'parley_inbox_open'"
                        " AND indexdef LIKE '%(id) WHERE%'"),
            1, "9: the inbox's open items are indexed in id order");
  CHECK_INT(one_int(db, "SELECT count(*) FROM information_schema.columns"
                        " WHERE table_name = 'parley_inbox' AND column_name = 'reply_ids'"),
            1, "10: a done inbox item keeps its replies' message ids");
  CHECK_INT(one_int(db, "SELECT count(*) FROM parley_cluster WHERE length(secret) = 64"), 1,
            "11: one secret of 64 characters for the nodes' relays");
  CHECK_INT(one_int(db, "SELECT count(*) FROM information_schema.columns"
                        " WHERE table_name = 'messages' AND column_name = 'broadcast_id'"),
            1, "12: a message keeps its broadcast's id");
  CHECK_INT(one_int(db, "SELECT count(*) FROM pg_trigger WHERE tgname LIKE '%_fill_id'"
                        " AND pg_get_triggerdef(oid) LIKE '%WHEN ((new.id IS NULL))%'"),
            4, "12: the triggers that fill an id fire for a row without one only");
  CHECK_INT(one_int(db, "SELECT max(version) FROM parley_schema"), store_schema_version(),
            "and the version is the latest");
  sql_exec(db, "DROP SCHEMA public CASCADE; CREATE SCHEMA public");
  CHECK(store_schema_pg(db, store_schema_version(), err, sizeof err) == 0,
        "the schema is made on an empty database (%s)", err);
  CHECK_INT(one_int(db, hot_keys), 0, "and made fresh it has the same foreign keys");
  CHECK_INT(one_int(db, "SELECT count(*) FROM information_schema.tables"
                        " WHERE table_schema = 'public'"),
            24, "twenty-four tables: parley_schema, the cluster's five, the console's three, "
            "the links' two and the history's two among them");
  CHECK(store_schema_pg(db, store_schema_version(), err, sizeof err) == 0,
        "a second open finds it made (%s)", err);
  CHECK_INT(one_int(db, "SELECT count(*) FROM parley_schema"), 1,
            "and records its version once");
  CHECK(store_schema_pg(db, store_schema_version() + 1, err, sizeof err) == -1,
        "a version it has no migration to is refused");
  CHECK_HAS(err, "migration", "and the refusal says a migration is missing (%s)", err);

  sql_exec(db, "UPDATE parley_schema SET version = version + 1");
  CHECK(store_schema_pg(db, store_schema_version(), err, sizeof err) == -1,
        "a schema written by a newer parley is refused");
  CHECK_HAS(err, "newer parley", "and the refusal says so (%s)", err);
  sql_exec(db, "UPDATE parley_schema SET version = version - 1");
}

static void test_partition_function(sql_db *db) {
  static const char *const numbers[] = {"",          "+15550001", "+447700900123",
                                        "Zürich 🎸", "whatsapp:+15550002"};
  static const int64_t bots[] = {1, 2, 255, 4096, -5, 9007199254740993LL};
  sql_stmt *s = sql_prepare(db, "SELECT parley_partition(?, ?)");
  int same = s != NULL, tried = 0;
  for (size_t b = 0; s && b < sizeof bots / sizeof *bots; b++)
    for (size_t n = 0; n < sizeof numbers / sizeof *numbers; n++) {
      sql_reset(s);
      sql_bind_int(s, 1, bots[b]);
      sql_bind_text(s, 2, numbers[n]);
      int got = sql_step(s) == SQL_ROW ? (int)sql_column_int(s, 0) : -1;
      tried++;
      if (got != partition_of(bots[b], numbers[n])) {
        same = 0;
        test_note("bot %lld, '%s': SQL %d, C %d", (long long)bots[b], numbers[n], got,
                  partition_of(bots[b], numbers[n]));
      }
    }
  sql_finalize(s);
  CHECK(same, "parley_partition agrees with partition_of on %d (bot, number) pairs", tried);
}

static void test_consent_append_only(sql_db *db) {
  CHECK(sql_exec(db, "INSERT INTO bots(name, created_at) VALUES('ledger', 0);"
                     " INSERT INTO consent(bot_id, number, action, source, at)"
                     " SELECT id, '+15550003', 'optout', 'keyword', 1 FROM bots"
                     " WHERE name = 'ledger'") == 0,
        "a consent record is written (%s)", sql_error(db));
  CHECK(sql_exec(db, "UPDATE consent SET action = 'optin'") == -1,
        "it cannot be changed");
  CHECK_HAS(sql_error(db), "append-only", "the refusal says why (%s)", sql_error(db));
  CHECK(sql_exec(db, "DELETE FROM consent") == -1, "nor deleted");
  CHECK_INT(one_int(db, "SELECT count(*) FROM consent WHERE action = 'optout'"), 1,
            "the record is as it was written");
}

/* Every statement the store prepares from fixed text prepares on
 * PostgreSQL, as written for both or in its PostgreSQL form. */
static void test_store_statements(sql_db *db) {
  const char *texts[192];
  size_t n = store_statements(SQL_POSTGRES, texts, 192);
  n += store_outbox_statements(texts + n, 192 - n);
  n += store_cluster_statements(texts + n, 192 - n);
  n += store_console_statements(SQL_POSTGRES, texts + n, 192 - n);
  n += store_link_statements(texts + n, 192 - n);
  n += store_history_statements(texts + n, 192 - n);
  CHECK(n > 60 && n < 192, "the store lists its statements (%zu)", n);
  size_t ok = 0;
  for (size_t i = 0; i < n; i++) {
    sql_stmt *s = sql_prepare(db, texts[i]);
    if (s) ok++;
    else test_note("does not prepare: %.160s -- %s", texts[i], sql_error(db));
    sql_finalize(s);
  }
  CHECK(ok == n, "%zu of the %zu statements prepare on PostgreSQL", ok, n);
}

static int count_consent(void *ud, const char *action, const char *source, const char *text,
                          int64_t at) {
  (void)action, (void)source, (void)text, (void)at;
  return ++*(int *)ud;
}
static void consent_seen(void *ud, const char *action, const char *source, const char *text,
                         int64_t at) {
  count_consent(ud, action, source, text, at);
}

/* The store's own API on PostgreSQL: a bot, a contact and its
 * conversation, messages one by one and in a multi-row insert (a retried
 * provider id told apart), a timer due, the outbox's claim, the consent
 * ledger, a suppression; all of it seen again by a second connection and
 * after the store is closed and opened again. */
static void test_store_api(const char *url) {
  char err[1024] = "";
  store *st = store_open(url, err, sizeof err);
  CHECK(st != NULL, "the store opens on PostgreSQL (%s)", err);
  if (!st) return;
  CHECK(store_ensure_keys(st) == 0, "its keys are made (%s)", store_error(store_reads(st)));
  int64_t bot = store_bot_ensure(st, "pgbot", 1000);
  CHECK(bot > 0 && store_bot_ensure(st, "pgbot", 2000) == bot,
        "a bot is added once, its id coming back (%lld)", (long long)bot);
  CHECK(store_begin(st) == 0, "a write transaction begins (%s)", store_error(store_reads(st)));
  CHECK_INT(store_contact_insert(st, 41, bot, "+15550041", 1000), 41,
            "a contact with the engine's id");
  int64_t picked = store_contact_insert(st, 0, bot, "+15550042", 1000);
  CHECK(picked > 0 && picked != 41, "a contact whose id the database picks (%lld)",
        (long long)picked);
  CHECK_INT(store_conversation_save(st, 41, "{\"n\":1}", NULL, 1000), 0, "a conversation saved");
  CHECK_INT(store_conversation_save(st, 41, "{\"n\":2}", "city", 1001), 0,
            "and saved again (the upsert)");
  message_row in = {.id = 500, .bot_id = bot, .contact_id = 41, .direction = "in",
                    .number = "+15550041", .text = "hi", .status = "done",
                    .provider_id = "SM500", .at = 1000};
  CHECK_INT(store_message_add(st, &in), 500, "an inbound message");
  in.id = 501;
  CHECK_INT(store_message_add(st, &in), 0, "the same provider id again is a retry (0)");
  message_row rows[3];
  for (int i = 0; i < 3; i++)
    rows[i] = (message_row){.id = 510 + i, .bot_id = bot, .contact_id = 41,
                            .direction = i ? "out" : "in", .number = "+15550041",
                            .text = "batch", .status = i == 2 ? "queued" : "done",
                            .provider_id = i ? NULL : "SM510", .at = 1002};
  CHECK_INT(store_messages_add(st, rows, 3), 0, "three messages in the multi-row inserts (%s)",
            store_error(store_reads(st)));
  timer_row t = {.id = 70, .bot_id = bot, .contact_id = 41, .number = "+15550041",
                 .due_at = 5000, .handler = "remind", .args = "[1]", .kind = "timer"};
  CHECK_INT(store_timer_add(st, &t, 1000), 0, "a timer (%s)", store_error(store_reads(st)));
  CHECK_INT(store_consent_add(st, bot, 41, "+15550041", "optout", "keyword", "STOP", 1003), 0,
            "a consent record");
  CHECK_INT(store_commit(st), 0, "and it commits (%s)", store_error(store_reads(st)));

  store_reader *rd = store_reader_open(url, err, sizeof err);
  CHECK(rd != NULL, "a reading connection opens (%s)", err);
  if (rd) {
    contact_row c = {0};
    CHECK_INT(store_contact_get(rd, bot, "+15550041", &c), 1, "it finds the contact");
    CHECK_STR(c.state, "{\"n\":2}", "with its conversation's state");
    CHECK_STR(c.expect, "city", "and what it expects");
    contact_row_free(&c);
    CHECK_INT(store_inbound_exists(rd, bot, "SM510"), 1, "a batch's provider id is seen");
    int64_t mc, mm, mt;
    CHECK(store_max_ids(rd, &mc, &mm, &mt) == 0 && mm == 512 && mt == 70,
          "the highest ids (messages %lld, timers %lld)", (long long)mm, (long long)mt);
    timer_row *due = NULL;
    size_t n = 0;
    CHECK(store_timers_due(rd, bot, 6000, NULL, 10, &due, &n) == 0 && n == 1 &&
              due[0].id == 70,
          "the timer is due by 6000 (%zu, %s)", n, store_error(rd));
    for (size_t i = 0; i < n; i++) timer_row_free(&due[i]);
    free(due);
    CHECK_INT(store_outbox_depth(rd), 1, "one message queued");
    int seen = 0;
    CHECK(store_consent_each(rd, 41, consent_seen, &seen) == 0 && seen == 1,
          "the consent record is read back");
    store_reader_close(rd);
  }
  CHECK_INT(store_outbox_claim(st, 512, 2000), 1, "the sender claims the queued message");
  CHECK_INT(store_outbox_claim(st, 512, 2000), 0, "once");
  CHECK_INT(store_contact_erase(st, bot, picked, "+15550042", 1, 3000), 0,
            "a contact is erased and its number suppressed (%s)", store_error(store_reads(st)));
  CHECK_INT(store_is_suppressed(store_reads(st), bot, "+15550042"), 1,
            "the erased number is suppressed");
  store_close(st);

  st = store_open(url, err, sizeof err);
  CHECK(st != NULL, "opened again (%s)", err);
  if (st) {
    CHECK_INT(store_contact_count(store_reads(st), bot), 1,
              "one contact left after the erasure, kept over the reopen");
    CHECK_INT(store_is_suppressed(store_reads(st), bot, "+15550042"), 1,
              "the suppression outlives the reopen (the same key)");
    test_lookups_many(st, "PostgreSQL");
    test_conversations_saved_together(st, "PostgreSQL");
    test_contacts_added_together(st, "PostgreSQL");
    test_console_sessions(st, "PostgreSQL");
    test_console_inbox(st, "PostgreSQL");
    /* its messages the newest, with the highest ids; the engine's next ids after them */
    sql_db *db = sql_open(url, err, sizeof err);
    int64_t top = db ? one_int(db, "SELECT coalesce(max(id), 0) + 1 FROM messages") : 1;
    test_console_stats(st, "PostgreSQL", top, 1893456000000);
    if (db)
      sql_exec(db, "UPDATE parley_ids SET next = greatest(next, (SELECT max(id) + 1 FROM"
                   " messages)) WHERE name = 'messages'");
    sql_close(db);
    store_close(st);
  }
}

/* A bot folder NAME under tmp whose bot.lua is script: its path. */
static char *bot_folder(const char *tmp, const char *name, const char *script) {
  char *dir = test_path(tmp, name);
  char *lua = test_path(dir, "bot.lua");
  mkdir(dir, 0755);
  test_write_file(lua, script, strlen(script));
  free(lua);
  return dir;
}

static const char echo_script[] =
    "bot.fallback(function(c, msg) return 'echo ' .. msg.text end)\n";

/* Two engines on one database at once (two nodes), each with its own
 * conversations: the ids each takes are its own blocks, so their writes
 * never collide, and after a reopen the next ids are above all of them. */
static void test_two_engines(const char *url) {
  char err[1024] = "";
  sql_db *db = sql_open(url, err, sizeof err);
  /* above the ids the other tests insert of their own choosing */
  sql_exec(db, "UPDATE parley_ids SET next = 10000000");
  char *tmp = test_tmpdir();
  char *dir = bot_folder(tmp, "echo", echo_script);
  engine_options opt = {.db_path = url};
  engine *e[2] = {engine_open(&opt, err, sizeof err), NULL};
  CHECK(e[0] != NULL, "an engine opens on PostgreSQL (%s)", e[0] ? "" : err);
  e[1] = e[0] ? engine_open(&opt, err, sizeof err) : NULL;
  CHECK(e[1] != NULL, "and a second one on the same database (%s)", e[1] ? "" : err);
  if (!e[0] || !e[1]) goto done;
  bot *b[2] = {engine_load_bot(e[0], dir, err, sizeof err), NULL};
  b[1] = b[0] ? engine_load_bot(e[1], dir, err, sizeof err) : NULL;
  CHECK(b[0] && b[1], "both load the bot (%s)", err);
  if (!b[0] || !b[1]) goto done;
  int failed = 0;
  for (int round = 0; round < 3; round++)
    for (int k = 0; k < 2; k++) {
      inbound in[20];
      char from[20][32];
      for (int i = 0; i < 20; i++) {
        snprintf(from[i], sizeof from[i], "+1555%d%06d", k, round * 20 + i);
        in[i] = (inbound){.from = from[i], .text = "hi", .len = 2};
      }
      if (engine_handle(e[k], b[k], in, 20, err, sizeof err)) {
        test_note("engine %d, round %d: %s", k, round, err);
        failed++;
      }
    }
  CHECK_INT(failed, 0, "both engines handle their conversations, taking turns, no id twice");
  CHECK_INT(one_int(db, "SELECT count(DISTINCT id) FROM contacts WHERE number LIKE '+1555_______'"),
            120, "120 contacts, 120 ids");
  CHECK_INT(one_int(db, "SELECT count(*) FROM messages m JOIN contacts c ON c.id = m.contact_id"
                        " WHERE c.number LIKE '+1555_______'"),
            240, "each with its message and its reply");
  int64_t highest = one_int(db, "SELECT max(id) FROM messages");
  engine_close(e[1]);
  e[1] = engine_open(&opt, err, sizeof err);
  b[1] = e[1] ? engine_load_bot(e[1], dir, err, sizeof err) : NULL;
  inbound late = {.from = "+15552000000", .text = "hi", .len = 2};
  CHECK(b[1] && engine_handle(e[1], b[1], &late, 1, err, sizeof err) == 0,
        "a reopened engine goes on (%s)", err);
  CHECK(one_int(db, "SELECT min(m.id) FROM messages m JOIN contacts c ON c.id = m.contact_id"
                    " WHERE c.number = '+15552000000'") > highest,
        "with ids above every one taken before");
  /* a node whose writes fail (here: fenced, its row gone) stops running
   * the partitions it gives back all the same: what failed was not
   * written, and another node is about to run them */
  store_fence gone = {.node_id = "no-such-node", .idle_ms = 0};
  atomic_store(&gone.fence, 1);
  CHECK_INT(engine_set_fence(e[1], &gone, err, sizeof err), 0, "engine 1's writes are fenced");
  inbound doomed = {.from = "+15552000001", .text = "hi", .len = 2};
  engine_submit(e[1], b[1], &doomed, 1, err, sizeof err);
  unsigned char none[PARTITIONS] = {0};
  CHECK_INT(engine_set_partitions(e[1], none, err, sizeof err), -1,
            "giving its partitions back, its last batch fails (%s)", err);
  CHECK_INT(engine_holds(e[1], bot_id(b[1]), "+15552000001"), 0,
            "and it runs none of them all the same");
  engine_set_fence(e[1], NULL, err, sizeof err);
done:
  engine_close(e[0]);
  engine_close(e[1]);
  sql_close(db);
  test_rmtree(tmp);
  free(dir);
  free(tmp);
}

/* bot.store on two engines (two nodes): a write over a version another
 * node has written since fails the batch, which then goes through on what
 * the store holds: no update is lost. */
static void test_bot_store_two_engines(const char *url) {
  char err[1024] = "";
  char *tmp = test_tmpdir();
  char *dir = bot_folder(tmp, "tally",
                         "bot.fallback(function(c, msg)\n"
                         "  bot.store.n = (bot.store.n or 0) + 1\n"
                         "  return 'n=' .. bot.store.n\n"
                         "end)\n");
  engine_options opt = {.db_path = url};
  engine *e[2] = {engine_open(&opt, err, sizeof err), NULL};
  e[1] = e[0] ? engine_open(&opt, err, sizeof err) : NULL;
  bot *b[2] = {e[0] ? engine_load_bot(e[0], dir, err, sizeof err) : NULL, NULL};
  b[1] = e[1] ? engine_load_bot(e[1], dir, err, sizeof err) : NULL;
  CHECK(b[0] && b[1], "two engines load a bot that counts in bot.store (%s)", err);
  if (b[0] && b[1]) {
    int conflicts = 0, handled = 0;
    for (int round = 0; round < 6; round++) {
      int k = round % 2;
      char from[32];
      snprintf(from, sizeof from, "+1555700%04d", round);
      inbound in = {.from = from, .text = "hi", .len = 2};
      for (int tries = 0; tries < 3; tries++) {
        if (engine_handle(e[k], b[k], &in, 1, err, sizeof err) == 0) {
          handled++;
          break;
        }
        conflicts += strstr(err, "bot_store_changed_by_another_node") != NULL;
      }
    }
    CHECK_INT(handled, 6, "each message is handled in the end");
    CHECK(conflicts >= 1, "a write over what the other engine wrote failed (%d times)",
          conflicts);
    char *json = store_bot_store_get(engine_store(e[0]), bot_id(b[0]), NULL);
    CHECK_STR(json, "{\"n\":6}", "bot.store counted all six: no update was lost");
    free(json);
  }
  engine_close(e[0]);
  engine_close(e[1]);
  test_rmtree(tmp);
  free(dir);
  free(tmp);
}

/* 1 once a session running a statement that starts with query_start
 * waits for a lock (another connection's uncommitted row), 0 if none did
 * within 5 s of looking. */
static int waits_for_lock(const char *url, const char *query_start) {
  char err[256], sql[256];
  snprintf(sql, sizeof sql,
           "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
           " AND starts_with(query, '%s')",
           query_start);
  sql_db *look = sql_open(url, err, sizeof err);
  int waits = 0;
  for (int i = 0; look && !waits && i < 500; i++) {
    waits = one_int(look, sql) > 0;
    if (!waits) usleep(10000);
  }
  sql_close(look);
  return waits;
}

/* Two nodes adding the same bot at once (both started on a fresh
 * database): the second waits for the first's row and takes it. */
typedef struct racer {
  store *st;
  int64_t id;
} racer;

static void *add_raced_bot(void *arg) {
  racer *r = arg;
  r->id = store_bot_ensure(r->st, "raced", 1000);
  return NULL;
}

static void test_bot_added_by_two_at_once(const char *url) {
  char err[1024] = "";
  store *a = store_open(url, err, sizeof err), *b = store_open(url, err, sizeof err);
  CHECK(a && b, "two connections (%s)", err);
  if (a && b) {
    /* a's row is written, not committed: b's add of the same name waits
     * for it (the unique index), whenever b gets there */
    CHECK(store_begin(a) == 0, "a begins");
    int64_t first = store_bot_ensure(a, "raced", 1000);
    racer r = {b, 0};
    pthread_t t;
    int started = pthread_create(&t, NULL, add_raced_bot, &r) == 0;
    CHECK(started && waits_for_lock(url, "INSERT INTO bots"),
          "b's add waits for a's uncommitted row");
    CHECK(store_commit(a) == 0, "a commits its bot");
    if (started) pthread_join(t, NULL);
    CHECK(first > 0 && r.id == first, "b gets a's bot, not an error (%lld, %lld: %s)",
          (long long)first, (long long)r.id, store_error(store_reads(b)));
  }
  store_close(a);
  store_close(b);
}

/* ---------------------------------------------------------------- inbox */

typedef struct inbox_seen {
  int n;
  int64_t ids[8];
  int waited[8];
  char tickets[256], states[256], replies[256], reply_ids[256];
} inbox_seen;

static void inbox_opened(void *ud, const inbox_item *it) {
  inbox_seen *s = ud;
  if (s->n < 8) s->ids[s->n] = it->id, s->waited[s->n] = it->waited;
  s->n++;
  size_t len = strlen(s->tickets);
  snprintf(s->tickets + len, sizeof s->tickets - len, "%s%s", len ? "," : "", it->item);
}

static void inbox_resulted(void *ud, const char *ticket, const char *state, const char *replies,
                           const char *reply_ids) {
  inbox_seen *s = ud;
  s->n++;
  size_t len = strlen(s->states);
  snprintf(s->states + len, sizeof s->states - len, "%s%s=%s", len ? "," : "", ticket, state);
  if (replies) snprintf(s->replies, sizeof s->replies, "%s", replies);
  if (reply_ids) snprintf(s->reply_ids, sizeof s->reply_ids, "%s", reply_ids);
}

/* An item's way through the inbox: added (once per ticket), taken by the
 * holder of its partition in id order, done with its inline replies (read
 * by the taker, in one query for many tickets, then removed), or abandoned
 * by its taker first (its replies queued when the holder's commit comes). */
static void test_inbox(const char *url) {
  char err[1024] = "";
  store *st = store_open(url, err, sizeof err);
  CHECK(st != NULL, "the store opens (%s)", err);
  if (!st) return;
  int64_t bot = store_bot_ensure(st, "inboxbot", 1000);
  store_begin(st);
  CHECK_INT(store_inbox_add(st, "t1", 5, bot, "one", 60000, 1), 0, "an item a webhook waits for");
  CHECK_INT(store_inbox_add(st, "t2", 5, bot, "two", 0, 0), 0, "one nobody waits for");
  CHECK_INT(store_inbox_add(st, "t3", 6, bot, "three", 60000, 1), 0, "another partition's");
  CHECK_INT(store_inbox_add(st, "t1", 5, bot, "one again", 60000, 1), 0,
            "a ticket added twice (a batch retried)");
  message_row m = {.id = 900, .bot_id = bot, .contact_id = 1, .direction = "out",
                   .number = "+15550900", .text = "late reply", .status = "sent", .at = 1000};
  store_message_add(st, &m);
  CHECK_INT(store_commit(st), 0, "committed (%s)", store_error(store_reads(st)));

  char mask[PARTITIONS + 1];
  memset(mask, '0', PARTITIONS);
  mask[PARTITIONS] = 0;
  mask[5] = '1';
  inbox_seen open = {0};
  CHECK_INT(store_inbox_open(store_reads(st), mask, 10, inbox_opened, &open), 2,
            "partition 5's holder finds its two open items");
  CHECK_STR(open.tickets, "one,two", "in the order they came, the ticket added once");
  CHECK(open.waited[0] == 1 && open.waited[1] == 0,
        "the first added for a webhook that waits, the second not");
  int64_t id1 = open.ids[0], id2 = open.ids[1];
  mask[5] = '0', mask[6] = '1';
  inbox_seen other = {0};
  store_inbox_open(store_reads(st), mask, 10, inbox_opened, &other);
  int64_t id3 = other.ids[0];

  const char *tickets[] = {"t1", "t2", "t3", "nope", "t1"};
  inbox_seen res = {0};
  CHECK_INT(store_inbox_results(st, tickets, 5, inbox_resulted, &res), 0,
            "many tickets' items read at once (%s)", store_error(store_reads(st)));
  CHECK(res.n == 3 && strstr(res.states, "t1=waiting") && strstr(res.states, "t2=new") &&
            strstr(res.states, "t3=waiting"),
        "each existing item once, with its state (%s)", res.states);

  CHECK_INT(store_inbox_abandon(st, "t3"), 1, "t3's webhook gives up waiting");
  store_begin(st);
  CHECK_INT(store_inbox_done(st, id1, 1, "[\"hi\"]", "[901]"), 0, "the holder handles t1");
  CHECK_INT(store_inbox_done(st, id2, 0, "[]", "[]"), 0, "and t2");
  CHECK_INT(store_inbox_done(st, id3, 1, "[\"late reply\"]", "[900]"), 0, "and t3, given up");
  CHECK_INT(store_commit(st), 0, "in one commit (%s)", store_error(store_reads(st)));
  CHECK_INT(store_inbox_abandon(st, "t1"), 0, "t1 is done: too late to give it up");

  res = (inbox_seen){0};
  store_inbox_results(st, tickets, 5, inbox_resulted, &res);
  CHECK(res.n == 2 && strstr(res.states, "t1=done") && strstr(res.states, "t3=done"),
        "the items added for a webhook are left, done, the other is gone (%s)", res.states);
  CHECK_STR(res.replies, "[\"hi\"]", "t1 with its inline replies, t3 (given up) without");
  CHECK_STR(res.reply_ids, "[901]", "and their message ids (queued if its answer fails)");
  CHECK_INT(one_int(st->sql, "SELECT count(*) FROM messages WHERE id = 900 AND status = 'queued'"),
            1, "the given-up item's reply is queued for the provider instead");
  CHECK_INT(store_inbox_forget_many(st, tickets, 5), 0, "the taker removes what it read (%s)",
            store_error(store_reads(st)));
  CHECK_INT(one_int(st->sql, "SELECT count(*) FROM parley_inbox"), 0, "the inbox is empty");
  memset(mask, '1', PARTITIONS);
  open = (inbox_seen){0};
  CHECK_INT(store_inbox_open(store_reads(st), mask, 10, inbox_opened, &open), 0,
            "and nothing is open");
  store_close(st);
}

/* The id of the inbox item with this ticket (added by the caller). */
static int64_t inbox_item_id(store *st, const char *ticket) {
  char sql[160];
  snprintf(sql, sizeof sql, "SELECT id FROM parley_inbox WHERE ticket = '%s'", ticket);
  return one_int(st->sql, sql);
}

/* A message whose holder committed it, with its inline replies, and died
 * before its answer reached the node that took the webhook: that node hands
 * it over through the inbox, and the next holder finds it handled (a
 * provider's retry). The replies that answer carried reached nobody: they
 * go back inline in the item's answer while the webhook may still take
 * them, else through the outbox; a plain retry (not from the inbox) sends
 * nothing again. With one engine worker and with two. */
static void test_inline_replies_of_a_retry_from_the_inbox(const char *url, int workers) {
  char err[1024] = "";
  store *st = store_open(url, err, sizeof err);
  char *tmp = test_tmpdir();
  char *dir = bot_folder(tmp, "again", echo_script);
  engine_options opt = {.db_path = url, .outbox = 1, .engine_threads = workers};
  engine *e = st ? engine_open(&opt, err, sizeof err) : NULL;
  bot *b = e ? engine_load_bot(e, dir, err, sizeof err) : NULL;
  CHECK(b != NULL, "%d worker(s): an engine with an outbox and its bot (%s)", workers, err);
  if (!b) goto done;
  char fan[2][16], sid[2][32], ticket[2][32];
  for (int k = 0; k < 2; k++) {
    snprintf(fan[k], sizeof fan[k], "+1555730%d%d00", workers, k);
    snprintf(sid[k], sizeof sid[k], "SM-lost-%d-%d", workers, k);
    snprintf(ticket[k], sizeof ticket[k], "lost-%d-%d", workers, k);
    inbound m = {.from = fan[k], .to = "+15550100", .text = "hi", .len = 2,
                 .provider_id = sid[k], .inline_reply = 1};
    CHECK_INT(engine_handle(e, b, &m, 1, err, sizeof err), 0,
              "%d worker(s): a message handled, its reply inline (%s)", workers, err);
  }
  char sql[512];
  snprintf(sql, sizeof sql,
           "SELECT count(*) FROM messages o JOIN messages i ON i.id = o.reply_to"
           " WHERE o.direction = 'out' AND o.status = 'sent' AND i.provider_id = '%s'",
           sid[0]);
  CHECK_INT(one_int(st->sql, sql), 1, "%d worker(s): the reply says which message it answers",
            workers);
  /* the retry of a provider: acknowledged, nothing sent again */
  inbound retry = {.from = fan[0], .to = "+15550100", .text = "hi", .len = 2,
                   .provider_id = sid[0], .inline_reply = 1};
  CHECK_INT(engine_handle(e, b, &retry, 1, err, sizeof err), 0, "%d worker(s): a plain retry",
            workers);
  snprintf(sql, sizeof sql,
           "SELECT count(*) FROM messages WHERE number = '%s' AND direction = 'out'"
           " AND status = 'sent'", fan[0]);
  CHECK_INT(one_int(st->sql, sql), 1, "%d worker(s): leaves the one reply as it was", workers);
  /* both again through the inbox, for webhooks that wait: the first while
   * its answer may still carry replies, the second after */
  store_begin(st);
  for (int k = 0; k < 2; k++)
    store_inbox_add(st, ticket[k], partition_of(bot_id(b), fan[k]), bot_id(b), "{}", 60000, 1);
  CHECK_INT(store_commit(st), 0, "%d worker(s): two items in the inbox (%s)", workers,
            store_error(store_reads(st)));
  inbound again[2];
  for (int k = 0; k < 2; k++)
    again[k] = (inbound){.from = fan[k], .to = "+15550100", .text = "hi", .len = 2,
                         .provider_id = sid[k], .inline_reply = k == 0 ? 1 : 0,
                         .inbox_id = inbox_item_id(st, ticket[k]), .inbox_waited = 1};
  CHECK_INT(engine_handle(e, b, again, 2, err, sizeof err), 0,
            "%d worker(s): both taken from the inbox (%s)", workers, err);
  const char *tickets[] = {ticket[0], ticket[1]};
  inbox_seen res = {0};
  store_inbox_results(st, tickets, 1, inbox_resulted, &res);
  snprintf(sql, sizeof sql, "%s=done", ticket[0]);
  CHECK_STR(res.states, sql, "%d worker(s): the first item is done", workers);
  CHECK_STR(res.replies, "[\"echo hi\"]", "%d worker(s): with the reply its webhook never got",
            workers);
  snprintf(sql, sizeof sql,
           "SELECT count(*) FROM messages WHERE number = '%s' AND direction = 'out'"
           " AND status = 'sent' AND attempts = 0", fan[0]);
  CHECK_INT(one_int(st->sql, sql), 1, "%d worker(s): still sent, once (inline)", workers);
  res = (inbox_seen){0};
  store_inbox_results(st, tickets + 1, 1, inbox_resulted, &res);
  CHECK_STR(res.replies, "[]", "%d worker(s): the second item's answer carries no reply",
            workers);
  snprintf(sql, sizeof sql,
           "SELECT count(*) FROM messages WHERE number = '%s' AND direction = 'out'"
           " AND status = 'queued'", fan[1]);
  CHECK_INT(one_int(st->sql, sql), 1, "%d worker(s): its reply is queued for the provider",
            workers);
  snprintf(sql, sizeof sql,
           "SELECT count(*) FROM messages WHERE number IN ('%s', '%s')", fan[0], fan[1]);
  CHECK_INT(one_int(st->sql, sql), 4, "%d worker(s): no message was added (two in, two out)",
            workers);
  /* the first message's provider id from another number, through the
   * inbox, where its answer cannot carry replies: not a retry of it */
  char other[16], other_ticket[32];
  snprintf(other, sizeof other, "+1555731%d900", workers);
  snprintf(other_ticket, sizeof other_ticket, "other-%d", workers);
  store_begin(st);
  store_inbox_add(st, other_ticket, partition_of(bot_id(b), other), bot_id(b), "{}", 60000, 1);
  store_commit(st);
  inbound spoof = {.from = other, .to = "+15550100", .text = "hi", .len = 2,
                   .provider_id = sid[0], .inbox_id = inbox_item_id(st, other_ticket),
                   .inbox_waited = 1};
  CHECK_INT(engine_handle(e, b, &spoof, 1, err, sizeof err), 0,
            "%d worker(s): another number's message with that provider id (%s)", workers, err);
  snprintf(sql, sizeof sql,
           "SELECT count(*) FROM messages WHERE number = '%s' AND direction = 'out'"
           " AND status = 'sent' AND attempts = 0", fan[0]);
  CHECK_INT(one_int(st->sql, sql), 1,
            "%d worker(s): leaves the first number's reply as it was (not queued again)",
            workers);
  const char *more[] = {ticket[0], ticket[1], other_ticket};
  res = (inbox_seen){0};
  store_inbox_results(st, more + 2, 1, inbox_resulted, &res);
  CHECK_STR(res.replies, "[]", "%d worker(s): and its answer carries no reply", workers);
  store_inbox_forget_many(st, more, 3);
done:
  engine_close(e);
  store_close(st);
  test_rmtree(tmp);
  free(dir);
  free(tmp);
}

/* The holder recording an item done while its taker gives it up: the
 * taker's abandon is written first, not committed, and the holder's done
 * waits for the row, then goes on with what the abandon made of it. Of
 * the two outcomes exactly one holds: the replies kept for a taker that
 * waits, or queued for the provider; never neither (then the item would
 * stay open and be handled again). */
typedef struct done_racer {
  store *st;
  int64_t id;
  int rc;
} done_racer;

static void *mark_done(void *arg) {
  done_racer *r = arg;
  r->rc = store_begin(r->st) || store_inbox_done(r->st, r->id, 1, "[\"raced\"]", "[950]") ||
          store_commit(r->st);
  return NULL;
}

static void test_inbox_abandon_races_done(const char *url) {
  char err[1024] = "";
  store *taker = store_open(url, err, sizeof err), *holder = store_open(url, err, sizeof err);
  CHECK(taker && holder, "two connections (%s)", err);
  if (!taker || !holder) goto done;
  int64_t bot = store_bot_ensure(taker, "racebot", 1000);
  store_begin(taker);
  store_inbox_add(taker, "race-1", 9, bot, "one", 60000, 1);
  message_row m = {.id = 950, .bot_id = bot, .contact_id = 1, .direction = "out",
                   .number = "+15550950", .text = "raced", .status = "sent", .at = 1000};
  store_message_add(taker, &m);
  CHECK_INT(store_commit(taker), 0, "an item a webhook waits for, and its holder's reply");
  int64_t id = one_int(taker->sql, "SELECT id FROM parley_inbox WHERE ticket = 'race-1'");
  CHECK(sql_exec(taker->sql, "BEGIN; UPDATE parley_inbox SET state = 'abandoned'"
                             " WHERE ticket = 'race-1' AND state = 'waiting'") == 0,
        "the taker gives it up (not committed yet)");
  done_racer r = {holder, id, -1};
  pthread_t t;
  int started = pthread_create(&t, NULL, mark_done, &r) == 0;
  CHECK(started && waits_for_lock(url, "WITH m AS (UPDATE parley_inbox"),
        "the holder's done waits for the taker's uncommitted abandon");
  CHECK(sql_exec(taker->sql, "COMMIT") == 0, "the abandon commits");
  if (started) pthread_join(t, NULL);
  CHECK_INT(r.rc, 0, "the holder's done commits (%s)", store_error(store_reads(holder)));
  CHECK_INT(one_int(taker->sql, "SELECT count(*) FROM parley_inbox WHERE ticket = 'race-1'"
                                " AND state = 'done' AND replies IS NULL"),
            1, "the item is done, its replies not kept for the taker who gave up");
  CHECK_INT(one_int(taker->sql, "SELECT count(*) FROM messages WHERE id = 950"
                                " AND status = 'queued'"),
            1, "they are queued for the provider instead");
  char mask[PARTITIONS + 1];
  memset(mask, '1', PARTITIONS);
  mask[PARTITIONS] = 0;
  inbox_seen open = {0};
  CHECK_INT(store_inbox_open(store_reads(holder), mask, 10, inbox_opened, &open), 0,
            "and it is not open: nobody handles it again");
done:
  store_close(taker);
  store_close(holder);
}

/* Ends what a stalled test would wait for forever: after about 30 s, the
 * sessions waiting for a lock and those idle in a transaction are ended
 * (pg_terminate_backend, which needs no timer of the server's). */
typedef struct watchdog {
  const char *url;
  atomic_int done;
} watchdog;

static void *watch(void *arg) {
  watchdog *w = arg;
  for (int i = 0; i < 300 && !atomic_load(&w->done); i++) usleep(100000);
  if (atomic_load(&w->done)) return NULL;
  char err[256];
  sql_db *db = sql_open(w->url, err, sizeof err);
  if (db)
    sql_exec(db, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <>"
                 " pg_backend_pid() AND (wait_event_type = 'Lock'"
                 " OR state = 'idle in transaction')");
  sql_close(db);
  return NULL;
}

/* A node stalled inside a write transaction (its process stopped, its
 * machine frozen) holds the share lock on its row: the server ends that
 * transaction once it has been idle for the node's lease, so another node
 * can remove it and take its partitions (rather than wait for the stalled
 * one to go on, however long that takes). The server's timeouts do not
 * fire under libfaketime with the clock moved ahead (FAKETIME set): left
 * out there. a and b are two nodes' connections, w the writer's. */
static void stalled_node(const char *url, store *a, store *b, store *w) {
  if (getenv("FAKETIME")) {
    test_skip("a node stalled inside a write transaction is ended after its lease",
              "the wall clock is moved (libfaketime): PostgreSQL's timeouts do not fire");
    return;
  }
  int64_t fp = 0;
  CHECK_INT(store_node_join(a, "node-p", "", 300, &fp), 0, "node p joins, its lease 300 ms");
  store_fence stalled = {.node_id = "node-p", .idle_ms = 300};
  atomic_store(&stalled.fence, fp);
  CHECK_INT(store_set_fence(w, &stalled), 0, "its writes check its fence");
  CHECK_INT(store_begin(w), 0, "node p begins a write transaction, then stalls");
  watchdog dog = {url, 0};
  pthread_t t;
  int watching = pthread_create(&t, NULL, watch, &dog) == 0;
  int removed = 0;
  for (int i = 0; i < 200 && removed == 0; i++) {
    removed = store_nodes_expire(b);
    if (!removed) usleep(50000);
  }
  atomic_store(&dog.done, 1);
  if (watching) pthread_join(t, NULL);
  CHECK_INT(removed, 1, "once its lease ran out, b removes it without waiting for it (%s)",
            store_error(store_reads(b)));
  CHECK_INT(store_commit(w), -1, "node p going on commits nothing");
  store_rollback(w);
  CHECK_INT(store_begin(w), -1, "and finds itself fenced (%s)", store_error(store_reads(w)));
  store_set_fence(w, NULL);
}

/* The nodes' rows, leases and fencing (store_cluster.h). */
static void test_cluster_store(const char *url) {
  char err[1024] = "";
  store *a = store_open(url, err, sizeof err), *b = store_open(url, err, sizeof err),
        *w = store_open(url, err, sizeof err);
  CHECK(a && b && w, "three connections (%s)", err);
  if (!a || !b || !w) goto done;
  int64_t fa = 0, fb = 0, again = 0;
  CHECK_INT(store_node_join(a, "node-a", "127.0.0.1:1", 60000, &fa), 0, "node a joins");
  CHECK_INT(store_node_join(b, "node-b", "127.0.0.1:2", 60000, &fb), 0, "node b joins");
  CHECK(fa > 0 && fb > fa, "each run has its own fencing number (%lld, %lld)", (long long)fa,
        (long long)fb);
  CHECK_INT(store_node_join(b, "node-a", "", 60000, &again), 1,
            "node a's id is refused while its run lives");
  CHECK_INT(store_nodes_live(a), 2, "two live nodes");
  unsigned char got[PARTITIONS], held[PARTITIONS];
  CHECK_INT(store_partitions_claim(a, "node-a", fa, 128, got), 128, "a takes 128 partitions");
  CHECK_INT(store_partitions_claim(b, "node-b", fb, 200, got), 128,
            "b takes the 128 left, not more");
  CHECK_INT(store_partitions_claim(b, "node-b", fb, 10, got), 0, "none is free then");
  store_partitions_held(a, "node-a", fa, held);
  int n = 0, lowest = 1;
  for (int p = 0; p < PARTITIONS; p++) n += held[p], lowest &= held[p] == (p < 128);
  CHECK(n == 128 && lowest, "a holds the lowest 128 (%d)", n);
  unsigned char release[PARTITIONS] = {0};
  release[3] = release[4] = 1;
  CHECK_INT(store_partitions_release(a, "node-a", fa, release), 0, "a frees two");
  CHECK_INT(store_partitions_claim(b, "node-b", fb, 10, got), 2, "b takes them");
  CHECK(got[3] && got[4], "those two");

  /* a's writes check its fence; b removing a (its lease over) waits for
   * a's transaction, and a commits nothing after */
  store_fence fence = {.node_id = "node-a", .idle_ms = 60000};
  atomic_store(&fence.fence, fa);
  store_set_fence(w, &fence);
  CHECK_INT(store_node_renew(a, "node-a", fa, -1000), 0, "a's lease set to have run out");
  CHECK_INT(store_begin(w), 0, "a write transaction checks a's fence (its lease is over, "
            "but nobody took its partitions yet)");
  /* what the removal's DELETE needs, asked without waiting (a timeout
   * would depend on the clock) */
  CHECK(sql_exec(b->sql, "BEGIN; SELECT 1 FROM parley_nodes WHERE node_id = 'node-a'"
                         " FOR UPDATE NOWAIT") != 0,
        "b cannot remove a while a's transaction is open");
  CHECK_HAS(sql_error(b->sql), "lock", "a's transaction holds the row (%s)", sql_error(b->sql));
  sql_exec(b->sql, "ROLLBACK");
  CHECK_INT(store_commit(w), 0, "a's transaction commits");
  CHECK_INT(store_nodes_expire(b), 1, "then b removes node a");
  CHECK_INT(store_node_renew(a, "node-a", fa, 60000), 1, "a finds itself fenced on renewal");
  err[0] = 0;
  CHECK_INT(store_begin(w), -1, "a's next write transaction fails");
  CHECK_HAS(store_error(store_reads(w)), "no longer holds its partitions", "saying why (%s)",
            store_error(store_reads(w)));
  CHECK_INT(store_partitions_claim(b, "node-b", fb, 300, got), 126,
            "b takes a's partitions");
  CHECK_INT(store_node_join(a, "node-a", "", 60000, &again), 0, "a joins again");
  CHECK(again > fb, "with a new fencing number (%lld)", (long long)again);
  atomic_store(&fence.fence, again);
  CHECK_INT(store_begin(w), 0, "its writes go through again");
  store_commit(w);
  CHECK_INT(store_partitions_claim(a, "node-a", again, 10, got), 0,
            "but it holds nothing until some are free");
  CHECK_INT(store_node_leave(b, "node-b", fb), 0, "b leaves");
  CHECK_INT(store_partitions_claim(a, "node-a", again, 300, got), 256,
            "and a takes every partition at once");
  int64_t first = 0, next = 0;
  CHECK(store_claim_ids(a, "messages", 100, &first) == 0 &&
            store_claim_ids(b, "messages", 100, &next) == 0 && next == first + 100,
        "id blocks follow each other (%lld, %lld)", (long long)first, (long long)next);
  CHECK_INT(store_claim_ids(a, "nothing", 1, &first), -1, "an unknown kind of id fails");
  store_node_leave(a, "node-a", again);

  stalled_node(url, a, b, w);
done:
  store_close(a);
  store_close(b);
  store_close(w);
}

/* store_set_progress's stop: at once while stop_now is set */
static int stop_now;
static int stop_at_once(void *ud) {
  (void)ud;
  return stop_now;
}

/* ids of a segment's contacts, "1,4," */
static void add_id(void *ud, const contact_row *r) {
  char *out = ud;
  snprintf(out + strlen(out), 256 - strlen(out), "%lld,", (long long)r->id);
}

/* The same contacts in a SQLite file and on PostgreSQL; every segment
 * selects the same ones from both (SQLite's json functions there, jsonb
 * here), and the ones it should. */
/* The reader's connections in a transaction, as another connection sees them. */
static int64_t readers_in_transaction(sql_db *db) {
  return one_int(db, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                     " AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'");
}

/* A read transaction begins at its first read: a batch whose contacts are
 * all in memory reads nothing and costs no BEGIN and ROLLBACK (two round
 * trips). Once begun, its reads share one snapshot. */
static void test_read_transaction_starts_at_first_read(const char *url) {
  char err[512];
  store *st = store_open(url, err, sizeof err);
  store_reader *rd = st ? store_reader_open(url, err, sizeof err) : NULL;
  sql_db *watcher = rd ? sql_open(url, err, sizeof err) : NULL;
  CHECK(st && rd && watcher, "a writer, a reader and a watcher connect (%s)", err);
  if (!st || !rd || !watcher) goto out;
  int64_t bot = store_bot_ensure(st, "lazyread", 1000);
  CHECK_INT(store_read_begin(rd), 0, "a read transaction is asked for");
  CHECK_INT(readers_in_transaction(watcher), 0, "nothing is sent before its first read");
  CHECK(store_begin(st) == 0 && store_contact_insert(st, 9101, bot, "+15559101", 1000) > 0 &&
            store_commit(st) == 0,
        "a contact is committed after the read transaction was asked for (%s)",
        store_error(store_reads(st)));
  contact_row c = {0};
  CHECK_INT(store_contact_get(rd, bot, "+15559101", &c), 1,
            "the first read sees what was committed before it");
  contact_row_free(&c);
  CHECK_INT(readers_in_transaction(watcher), 1, "the transaction began with that read");
  CHECK(store_begin(st) == 0 && store_contact_insert(st, 9102, bot, "+15559102", 1000) > 0 &&
            store_commit(st) == 0,
        "another contact is committed (%s)", store_error(store_reads(st)));
  CHECK_INT(store_contact_get(rd, bot, "+15559102", &c), 0,
            "the reads after the first share its snapshot");
  CHECK_INT(store_read_end(rd), 0, "the read transaction ends");
  CHECK_INT(readers_in_transaction(watcher), 0, "and nothing is left open");
  CHECK_INT(store_contact_get(rd, bot, "+15559102", &c), 1, "a read after it sees the new one");
  contact_row_free(&c);
  CHECK_INT(store_read_begin(rd), 0, "a read transaction with no read in it");
  CHECK_INT(store_read_end(rd), 0, "ends");
  CHECK_INT(readers_in_transaction(watcher), 0, "having sent nothing");
out:
  sql_close(watcher);
  store_reader_close(rd);
  store_close(st);
}

static void test_segments_agree(const char *url, const char *sqlite_path) {
  static const struct {
    const char *fields, *tags, *status;
    int64_t first_seen;
  } people[] = {
      {"{\"city\":\"Lisbon\",\"age\":25,\"birthday\":\"2001-05-03\",\"score\":1.5}",
       "[\"vip\",\"la\"]", "subscribed", 1000},
      {"{\"city\":\"Lisbon\",\"age\":\"25\",\"birthday\":\"2008-12-05T09:00\"}", "[\"vip\"]",
       "opted_out", 3000},
      {"{\"city\":\"Zürich\",\"age\":17.5,\"birthday\":\"1999-12-31\"}", "[]", "subscribed",
       2500},
      {"{\"age\":30,\"birthday\":\"2008-12-05 10:00\"}", "[\"la\"]", "subscribed", 2000},
      {"{\"city\":\"Porto\",\"age\":31,\"birthday\":20010101}", "[\"vip\"]", "subscribed", 1500},
      {"{}", "[]", "not_opted_in", 4000},
  };
  static const struct {
    const char *segment, *want;
  } segments[] = {
      {"{}", "1,2,3,4,5,6,"},
      {"{\"tags\":\"vip\"}", "1,2,5,"},
      {"{\"tags\":[\"vip\",\"la\"]}", "1,"},
      {"{\"status\":\"opted_out\"}", "2,"},
      {"{\"joined_after\":2000}", "2,3,4,6,"},
      {"{\"joined_before\":2000}", "1,5,"},
      {"{\"seen_after\":2000}", "2,3,4,6,"}, /* last seen as first here */
      {"{\"seen_before\":2000}", "1,5,"},
      {"{\"city\":\"Lisbon\"}", "1,2,"},
      {"{\"city\":\"Zürich\"}", "3,"},
      {"{\"age\":25}", "1,"},
      {"{\"score\":1.5}", "1,"},
      {"{\"missing\":\"x\"}", ""},
      {"{\"age\":{\"min\":18,\"max\":30}}", "1,4,"},
      {"{\"age\":{\"min\":17.5}}", "1,3,4,5,"},
      {"{\"birthday\":{\"after\":\"2000-01-01\",\"before\":\"2008-12-05 10:00\"}}", "1,2,"},
      {"{\"age\":{\"min\":18},\"tags\":\"la\"}", "1,4,"},
  };
  char err[1024] = "";
  store *both[2] = {store_open(sqlite_path, err, sizeof err), store_open(url, err, sizeof err)};
  CHECK(both[0] && both[1], "a SQLite store and a PostgreSQL one (%s)", err);
  if (!both[0] || !both[1]) {
    store_close(both[0]);
    store_close(both[1]);
    return;
  }
  int64_t bot[2];
  for (int k = 0; k < 2; k++) {
    bot[k] = store_bot_ensure(both[k], "segbot", 1);
    for (size_t i = 0; i < sizeof people / sizeof *people; i++) {
      char number[32];
      snprintf(number, sizeof number, "+1555010%zu", i + 1);
      int64_t id = 9000 + (int64_t)i + 1;
      store_contact_insert(both[k], id, bot[k], number, people[i].first_seen);
      store_contact_update(both[k], id, people[i].status, people[i].fields, people[i].tags,
                           NULL);
    }
  }
  for (size_t i = 0; i < sizeof segments / sizeof *segments; i++) {
    char got[2][256] = {"", ""};
    int rc[2];
    for (int k = 0; k < 2; k++)
      rc[k] = store_contacts_match(store_reads(both[k]), bot[k], segments[i].segment, 0, 100,
                                   add_id, got[k]);
    /* the ids are 9001..9006: shown as 1..6 */
    char want[256] = "";
    for (const char *p = segments[i].want; *p; p++)
      if (*p >= '1' && *p <= '9') snprintf(want + strlen(want), 8, "900%c,", *p);
    CHECK(rc[0] == 0 && rc[1] == 0 && strcmp(got[0], want) == 0 && strcmp(got[1], want) == 0,
          "segment %s: SQLite %s, PostgreSQL %s (want %s; %s)", segments[i].segment, got[0],
          got[1], want, rc[1] ? store_error(store_reads(both[1])) : "");
    int64_t count[2] = {-1, -1}, many = 0;
    for (const char *p = segments[i].want; *p; p++) many += *p != ',';
    for (int k = 0; k < 2; k++)
      rc[k] = store_segment_count(store_reads(both[k]), bot[k], segments[i].segment, 0,
                                  &count[k]);
    CHECK(rc[0] == 0 && rc[1] == 0 && count[0] == many && count[1] == many,
          "segment %s counted: SQLite %lld, PostgreSQL %lld (want %lld)", segments[i].segment,
          (long long)count[0], (long long)count[1], (long long)many);
  }
  /* a segment stopped inside a read transaction (over 50,000 contacts of
   * another bot, long enough to be stopped): the reads after it work */
  static const char *const names[] = {"SQLite", "PostgreSQL"};
  static const char *const many[] = {
      "INSERT INTO contacts(id, bot_id, number, fields, first_seen, last_seen)"
      " WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50000)"
      " SELECT 100000 + i, ?1, 'n' || i, '{\"k\":' || i || '}', 0, 0 FROM n",
      "INSERT INTO contacts(id, bot_id, number, fields, first_seen, last_seen)"
      " SELECT 100000 + i, ?1, 'n' || i, '{\"k\":' || i || '}', 0, 0"
      " FROM generate_series(1, 50000) i"};
  for (int k = 0; k < 2; k++) {
    int64_t big = store_bot_ensure(both[k], "bigbot", 1);
    sql_stmt *fill = sql_prepare(both[k]->sql, many[k]);
    if (fill) sql_bind_int(fill, 1, big);
    CHECK(fill && sql_step(fill) == SQL_DONE && sql_changes(fill) == 50000,
          "%s: 50,000 contacts of another bot", names[k]);
    sql_finalize(fill);
    store_reader *rd = store_reads(both[k]);
    int began = store_read_begin(rd) == 0;
    stop_now = 1;
    store_set_progress(rd, stop_at_once, NULL);
    int stopped = store_contacts_match(rd, big, "{\"k\":{\"min\":49999}}", 0, 100, add_id,
                                       (char[256]){""}) == -1;
    store_set_progress(rd, NULL, NULL);
    contact_row c = {0};
    int found = store_contact_get(rd, bot[k], "+15550101", &c);
    contact_row_free(&c);
    char got[256] = "";
    int again = store_contacts_match(rd, bot[k], "{\"tags\":\"vip\"}", 0, 100, add_id, got);
    store_read_end(rd);
    CHECK(began && stopped, "%s: a segment stopped by the script's limits fails", names[k]);
    CHECK(found == 1 && again == 0 && strcmp(got, "9001,9002,9005,") == 0,
          "%s: and the same read transaction goes on (contact %d, segment again: %s; %s)",
          names[k], found, got, store_error(rd));
  }
  /* PostgreSQL: a quick statement answers before the cancel request has
   * reached the server; stopped is stopped all the same, and the cancel
   * arriving late does not stop the statements after it */
  store_reader *rd = store_reads(both[1]);
  int fails = 0, after = 0;
  for (int i = 0; i < 20; i++) {
    stop_now = 1;
    store_set_progress(rd, stop_at_once, NULL);
    fails += store_contacts_match(rd, bot[1], "{\"tags\":\"vip\"}", 0, 100, add_id,
                                  (char[256]){""}) == -1;
    store_set_progress(rd, NULL, NULL);
    char got[256] = "";
    after += store_contacts_match(rd, bot[1], "{\"tags\":\"vip\"}", 0, 100, add_id, got) == 0 &&
             strcmp(got, "9001,9002,9005,") == 0;
  }
  CHECK(fails == 20 && after == 20,
        "PostgreSQL: a quick statement stopped at once fails every time (%d of 20), and the "
        "next one runs (%d of 20)",
        fails, after);
  store_close(both[0]);
  store_close(both[1]);
}

int main(void) {
  char err[1024];
  test_pg pg;
  CHECK(test_pg_start(&pg, err, sizeof err) == 0, "a PostgreSQL server to test against (%s)",
        err);
  sql_db *db = pg.url[0] ? sql_open(pg.url, err, sizeof err) : NULL;
  CHECK(db != NULL, "it connects (%s)", db ? "" : err);
  if (db) {
    test_schema(db);
    test_partition_function(db);
    test_consent_append_only(db);
    test_store_statements(db);
  }
  sql_close(db);
  if (db) test_store_api(pg.url);
  if (db) test_read_transaction_starts_at_first_read(pg.url);
  if (db) test_two_engines(pg.url);
  if (db) test_bot_store_two_engines(pg.url);
  if (db) test_cluster_store(pg.url);
  if (db) test_inbox(pg.url);
  if (db) test_inline_replies_of_a_retry_from_the_inbox(pg.url, 1);
  if (db) test_inline_replies_of_a_retry_from_the_inbox(pg.url, 2);
  if (db) test_inbox_abandon_races_done(pg.url);
  if (db) test_bot_added_by_two_at_once(pg.url);
  if (db) {
    char *tmp = test_tmpdir();
    char *path = test_path(tmp, "segments.db");
    test_segments_agree(pg.url, path);
    free(path);
    test_rmtree(tmp);
    free(tmp);
  }
  test_pg_stop(&pg);
  return test_done();
}
