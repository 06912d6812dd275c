/* The store's schema on a real PostgreSQL server (runtime/store/
 * store_schema_pg.c; issue 14's store, in progress): made once, kept on a
 * second open, refused when newer; parley_partition gives partition.h's
 * answers; the consent ledger stays append-only; and every statement the
 * store prepares from fixed text prepares on it. (The store itself does
 * not open on PostgreSQL yet: the multi-row message inserts, the segment
 * queries and the ids are still SQLite's.)
 *
 *   make build/test_store_pg && ./build/test_store_pg */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partition.h"
#include "sql_db.h"
#include "store_internal.h"
#include "store_schema_pg.h"
#include "test.h"
#include "test_pg.h"

static int64_t one_int(sql_db *db, const char *sql) {
  sql_stmt *s = sql_prepare(db, sql);
  int64_t v = s && sql_step(s) == SQL_ROW ? sql_column_int(s, 0) : -1;
  sql_finalize(s);
  return v;
}

static void test_schema(sql_db *db) {
  char err[1024] = "";
  CHECK_INT(store_schema_version(), PG_SCHEMA_BASELINE,
            "the PostgreSQL schema is at the version SQLite's migrations make");
  CHECK(store_schema_pg(db, store_schema_version(), err, sizeof err) == 0,
        "the schema is made on an empty database (%s)", err);
  CHECK_INT(one_int(db, "SELECT count(*) FROM information_schema.tables"
                        " WHERE table_schema = 'public'"),
            12, "twelve tables, parley_schema among them");
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
  const char *texts[128];
  size_t n = store_statements(SQL_POSTGRES, texts, 128);
  n += store_outbox_statements(texts + n, 128 - n);
  CHECK(n > 60 && n < 128, "the store lists its statements (%zu)", n);
  size_t ok = 0;
  for (size_t i = 0; i < n; i++) {
    sql_stmt *s = sql_prepare(db, texts[i]);
    if (s) ok++;
    else test_note("does not prepare: %.160s -- %s", texts[i], sql_error(db));
    sql_finalize(s);
  }
  CHECK(ok == n, "%zu of the %zu statements prepare on PostgreSQL", ok, n);
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
  test_pg_stop(&pg);
  return test_done();
}
