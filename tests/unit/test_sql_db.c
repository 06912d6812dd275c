/* Unit tests for runtime/store/sql_db.h: the same statements, with ? for
 * their parameters, give the same answers on SQLite and on a real
 * PostgreSQL server (a throwaway one from tests/pg_server.sh).
 *
 *   make build/test_sql_db && ./build/test_sql_db */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sql_db.h"
#include "test.h"
#include "test_pg.h"

/* sql_set_interrupt's stop: says stop from its nth call on; counts calls */
typedef struct stopper {
  int calls, from;
} stopper;
static int stop_after(void *ud) {
  stopper *s = ud;
  return ++s->calls >= s->from;
}

/* A long statement is stopped when the interrupt says so, the connection
 * stays usable, and an interrupt that never says stop changes nothing. */
static void interrupts(sql_db *db, const char *name) {
  const char *slow = sql_kind_of(db) == SQL_POSTGRES
                         ? "SELECT pg_sleep(30)"
                         : "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
                           " WHERE i < 1000000000) SELECT count(*) FROM n";
  stopper st = {.from = 5};
  sql_set_interrupt(db, stop_after, &st);
  sql_stmt *s = sql_prepare(db, slow);
  CHECK(s && sql_step(s) == SQL_FAIL, "%s: a long statement is stopped (%s)", name,
        sql_error(db));
  CHECK(strstr(sql_error(db), "interrupt") || strstr(sql_error(db), "cancel"),
        "%s: and the error says it was interrupted (%s)", name, sql_error(db));
  CHECK(st.calls >= 5, "%s: the interrupt was asked %d times", name, st.calls);
  sql_finalize(s);

  stopper never = {.from = 1 << 30};
  sql_set_interrupt(db, stop_after, &never);
  s = sql_prepare(db, "SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3");
  int rows = 0, sum = 0;
  while (s && sql_step(s) == SQL_ROW) {
    rows++;
    sum += (int)sql_column_int(s, 0);
  }
  CHECK(rows == 3 && sum == 6, "%s: with an interrupt that never stops, rows come as before",
        name);
  sql_finalize(s);
  sql_set_interrupt(db, NULL, NULL);
  s = sql_prepare(db, "SELECT 42");
  CHECK(s && sql_step(s) == SQL_ROW && sql_column_int(s, 0) == 42,
        "%s: the connection works after the interrupt is cleared", name);
  sql_finalize(s);
}

/* Every check, on one connection; name says which. */
static void same_answers(sql_db *db, const char *name) {
  CHECK(sql_exec(db, "DROP TABLE IF EXISTS fans; "
                     "CREATE TABLE fans(id BIGINT PRIMARY KEY, number TEXT NOT NULL UNIQUE,"
                     " city TEXT, score DOUBLE PRECISION)") == 0,
        "%s: a table is made by two statements in one call (%s)", name, sql_error(db));

  sql_stmt *ins = sql_prepare(db, "INSERT INTO fans(id, number, city, score) VALUES(?, ?, ?, ?)");
  CHECK(ins != NULL, "%s: an insert with four ? is prepared (%s)", name, sql_error(db));
  if (!ins) return;
  const char *cities[] = {"Lisbon", NULL, "Zürich 🎸"};
  int steps_ok = 1;
  char number[32]; /* bound without a copy: it lives until the reset after the loop */
  for (int i = 0; i < 3; i++) {
    snprintf(number, sizeof number, "+1555000%d", i);
    sql_bind_int(ins, 1, 100 + i);
    sql_bind_text(ins, 2, number);
    sql_bind_text(ins, 3, cities[i]);
    if (i == 1) sql_bind_null(ins, 4);
    else sql_bind_double(ins, 4, 0.1 + i);
    steps_ok &= sql_step(ins) == SQL_DONE && sql_changes(ins) == 1;
    sql_reset(ins);
  }
  CHECK(steps_ok, "%s: the statement runs three times, reset between, one row each (%s)",
        name, sql_error(db));
  /* the parameters stay bound across a reset: the same number again */
  CHECK_INT(sql_step(ins), SQL_FAIL, "%s: the same row twice breaks a unique key", name);
  CHECK(sql_failed_unique(db), "%s: and is told apart from other failures", name);
  CHECK((strstr(sql_error(db), "UNIQUE") || strstr(sql_error(db), "unique")) &&
            !strchr(sql_error(db), '\n'),
        "%s: and the error says so, on one line (%s)", name, sql_error(db));
  sql_finalize(ins);

  sql_stmt *q = sql_prepare(db, "SELECT id, number, city, score, city = 'it''s ?' FROM fans"
                                " WHERE id >= ? AND number <> '?' ORDER BY id");
  CHECK(q != NULL, "%s: a ? inside quotes is not a parameter (%s)", name, sql_error(db));
  if (!q) return;
  sql_bind_int(q, 1, 101);
  int rc = sql_step(q);
  CHECK(rc == SQL_ROW && sql_column_int(q, 0) == 101, "%s: the first row is 101", name);
  CHECK(sql_column_is_null(q, 2) && sql_column_text(q, 2) == NULL && sql_column_is_null(q, 3),
        "%s: NULLs read as NULL", name);
  rc = sql_step(q);
  CHECK(rc == SQL_ROW && sql_column_int(q, 0) == 102, "%s: then 102", name);
  CHECK_STR(sql_column_text(q, 2), "Zürich 🎸", "%s: UTF-8 text comes back as it went in", name);
  CHECK(sql_column_double(q, 3) > 2.0999 && sql_column_double(q, 3) < 2.1001,
        "%s: a double comes back (%g)", name, sql_column_double(q, 3));
  CHECK_INT(sql_column_int(q, 4), 0, "%s: a comparison reads as 0 (a boolean on PostgreSQL)",
            name);
  CHECK_INT(sql_step(q), SQL_DONE, "%s: then no more rows", name);
  CHECK_INT(sql_step(q), SQL_DONE, "%s: and stepping again stays done", name);
  sql_reset(q);
  sql_bind_int(q, 1, 0);
  int rows = 0;
  while (sql_step(q) == SQL_ROW) rows++;
  CHECK_INT(rows, 3, "%s: reset and bound anew, it runs again", name);
  sql_finalize(q);

  sql_stmt *num = sql_prepare(db, "SELECT count(*) FROM fans WHERE id >= ?2 AND id <= ?2 + ?1");
  CHECK(num != NULL, "%s: numbered parameters, one used twice (%s)", name, sql_error(db));
  if (num) {
    sql_bind_int(num, 1, 1);
    sql_bind_int(num, 2, 100);
    CHECK(sql_step(num) == SQL_ROW && sql_column_int(num, 0) == 2,
          "%s: ?2 and ?2 + ?1 take their values (ids 100 and 101)", name);
    sql_finalize(num);
  }

  sql_stmt *up = sql_prepare(db, "UPDATE fans SET score = ? WHERE city IS NOT NULL");
  CHECK(up && sql_step(up) == SQL_DONE && sql_changes(up) == 2,
        "%s: an update with its parameter never bound sets NULL, and counts 2 rows", name);
  sql_finalize(up);

  /* a failed statement inside a transaction: PostgreSQL ends the
   * transaction, and its COMMIT must not pass for one */
  CHECK(sql_exec(db, "BEGIN") == 0, "%s: a transaction begins", name);
  CHECK(sql_exec(db, "INSERT INTO fans(id, number) VALUES(100, '+0')") == -1,
        "%s: a statement in it fails", name);
  sql_stmt *commit = sql_prepare(db, "COMMIT");
  int committed = commit ? sql_step(commit) : SQL_FAIL;
  sql_finalize(commit);
  if (sql_kind_of(db) == SQL_POSTGRES)
    CHECK(committed == SQL_FAIL && strstr(sql_error(db), "rolled back"),
          "%s: its COMMIT fails, saying it was rolled back (%s)", name, sql_error(db));
  else
    CHECK(committed == SQL_DONE, "%s: SQLite keeps the transaction and commits it", name);
  CHECK(!sql_in_transaction(db), "%s: no transaction is left open", name);

  CHECK(sql_exec(db, "BEGIN") == 0, "%s: a transaction begins", name);
  CHECK(sql_in_transaction(db), "%s: and is open", name);
  sql_stmt *del = sql_prepare(db, "DELETE FROM fans");
  CHECK(del && sql_step(del) == SQL_DONE && sql_changes(del) == 3, "%s: three rows deleted",
        name);
  sql_finalize(del);
  CHECK(sql_exec(db, "ROLLBACK") == 0, "%s: and rolled back", name);
  sql_stmt *count = sql_prepare(db, "SELECT count(*) FROM fans");
  CHECK(count && sql_step(count) == SQL_ROW && sql_column_int(count, 0) == 3,
        "%s: the three rows are still there", name);
  sql_finalize(count);

  sql_stmt *ret = sql_prepare(db, "INSERT INTO fans(id, number) VALUES(?, ?) RETURNING id * 2");
  sql_bind_int(ret, 1, 4000000000LL);
  sql_bind_text(ret, 2, "+15559999");
  CHECK(ret && sql_step(ret) == SQL_ROW && sql_column_int(ret, 0) == 8000000000LL,
        "%s: RETURNING gives a row, 64-bit ints intact", name);
  sql_finalize(ret);

  CHECK(sql_prepare(db, "SELEKT 1") == NULL, "%s: a statement that does not parse is refused",
        name);
  CHECK_HAS(sql_error(db), "SELEKT", "%s: the error names what failed (%s)", name,
            sql_error(db));
  CHECK(sql_exec(db, "INSERT INTO nowhere VALUES(1)") == -1 && strstr(sql_error(db), "nowhere") &&
            !sql_failed_unique(db),
        "%s: a failed exec names what was wrong (%s)", name, sql_error(db));
  sql_exec(db, "DROP TABLE fans");
}

/* Steps s once from the start: its result. */
static int run_once(sql_stmt *s) {
  sql_reset(s);
  return sql_step(s);
}

/* PostgreSQL's pipeline: deferred writes answer at once, the next
 * statement that waits sees them (and their failure: a COMMIT after a
 * failed deferred insert fails, and nothing of the transaction stays). */
static void pipelines(sql_db *db) {
  CHECK_INT(sql_exec(db, "CREATE TABLE pipe(k INTEGER PRIMARY KEY, v TEXT)"), 0, "a table");
  sql_stmt *ins = sql_prepare(db, "INSERT INTO pipe(k, v) VALUES(?1, ?2)");
  sql_stmt *begin = sql_prepare(db, "BEGIN"), *commit = sql_prepare(db, "COMMIT"),
           *rollback = sql_prepare(db, "ROLLBACK"),
           *count = sql_prepare(db, "SELECT count(*) FROM pipe");
  if (!ins || !begin || !commit || !rollback || !count) {
    CHECK(0, "the statements prepare (%s)", sql_error(db));
    return;
  }
  sql_set_deferrable(ins);
  CHECK_INT(sql_pipeline(db, 1), 0, "a pipeline starts");
  CHECK_INT(run_once(begin), SQL_DONE, "BEGIN in it");
  int done = 0;
  for (int k = 1; k <= 100; k++) {
    sql_reset(ins);
    sql_bind_int(ins, 1, k);
    sql_bind_text(ins, 2, "v");
    done += sql_step(ins) == SQL_DONE;
  }
  CHECK_INT(done, 100, "100 deferred inserts answer at once");
  CHECK(run_once(count) == SQL_ROW && sql_column_int(count, 0) == 100,
        "a statement that waits sees them (%s)", sql_error(db));
  CHECK_INT(run_once(commit), SQL_DONE, "COMMIT");
  CHECK_INT(sql_pipeline(db, 0), 0, "the pipeline ends");
  CHECK(run_once(count) == SQL_ROW && sql_column_int(count, 0) == 100, "100 rows stay");
  CHECK_INT(sql_pipeline(db, 1), 0, "another pipeline");
  run_once(begin);
  sql_reset(ins);
  sql_bind_int(ins, 1, 7); /* taken */
  sql_bind_text(ins, 2, "again");
  CHECK_INT(sql_step(ins), SQL_DONE, "a deferred insert that will fail answers at once too");
  sql_reset(ins);
  sql_bind_int(ins, 1, 500);
  CHECK_INT(sql_step(ins), SQL_DONE, "and one after it");
  CHECK_INT(run_once(commit), SQL_FAIL, "the COMMIT fails");
  CHECK_HAS(sql_error(db), "duplicate", "with the failed insert's error (%s)", sql_error(db));
  run_once(rollback);
  CHECK_INT(sql_pipeline(db, 0), 0, "the pipeline ends");
  CHECK(run_once(count) == SQL_ROW && sql_column_int(count, 0) == 100,
        "nothing of that transaction stayed");
  sql_finalize(ins);
  sql_finalize(begin);
  sql_finalize(commit);
  sql_finalize(rollback);
  sql_finalize(count);
  sql_exec(db, "DROP TABLE pipe");
}

/* The first value of sql's first row as text ("" for none). */
static const char *value_of(sql_db *db, const char *sql) {
  static char out[128];
  sql_stmt *s = sql_prepare(db, sql);
  out[0] = 0;
  if (s && sql_step(s) == SQL_ROW && sql_column_text(s, 0))
    snprintf(out, sizeof out, "%s", sql_column_text(s, 0));
  sql_finalize(s);
  return out;
}

/* The server restarts under a connection: the statement that finds it gone
 * fails, the next ones run on a new connection with the session's SETs and
 * the statements prepared before; a transaction open across the restart
 * is gone, and says so until its ROLLBACK. */
static void reconnects(test_pg *server, sql_db *db) {
  CHECK_INT(sql_exec(db, "SET application_name = 'parley-test'"), 0, "a session setting");
  sql_stmt *s = sql_prepare(db, "SELECT ?1 + 1");
  CHECK(s != NULL, "a statement prepared before the restart");
  CHECK_INT(test_pg_restart(server), 0, "the server restarts");
  int first = sql_exec(db, "SELECT 1");
  test_note("the first statement after the restart: %s", first ? sql_error(db) : "ran");
  CHECK_STR(value_of(db, "SELECT current_setting('application_name')"), "parley-test",
            "the next ones run on a new connection, with the session's setting");
  sql_reset(s);
  sql_bind_int(s, 1, 41);
  CHECK(s && sql_step(s) == SQL_ROW && sql_column_int(s, 0) == 42,
        "the statement prepared before runs (prepared again) (%s)", sql_error(db));
  sql_finalize(s);
  CHECK_INT(sql_exec(db, "BEGIN"), 0, "a transaction begins");
  CHECK_INT(test_pg_restart(server), 0, "the server restarts again");
  sql_exec(db, "SELECT 1"); /* finds the connection gone */
  CHECK_INT(sql_exec(db, "SELECT 1"), -1, "inside the lost transaction, statements fail");
  CHECK_HAS(sql_error(db), "transaction", "saying the transaction is gone (%s)", sql_error(db));
  CHECK_INT(sql_in_transaction(db), 1, "the caller is still in its transaction");
  CHECK_INT(sql_exec(db, "ROLLBACK"), 0, "its ROLLBACK succeeds");
  CHECK_INT(sql_in_transaction(db), 0, "and ends it");
  CHECK_STR(value_of(db, "SELECT 6 * 7"), "42", "then statements run again");
  /* a caller whose ROLLBACK is first prepared after the loss (a writer that
   * never rolled back before): it must get there, or every statement after
   * fails for good */
  CHECK_INT(sql_exec(db, "BEGIN"), 0, "a transaction begins once more");
  CHECK_INT(test_pg_restart(server), 0, "the server restarts a third time");
  sql_exec(db, "SELECT 1"); /* finds the connection gone */
  sql_stmt *rollback = sql_prepare(db, "ROLLBACK");
  CHECK(rollback != NULL, "a ROLLBACK first prepared inside the lost transaction is made (%s)",
        sql_error(db));
  CHECK(rollback && sql_step(rollback) == SQL_DONE, "and runs (%s)", sql_error(db));
  sql_finalize(rollback);
  CHECK_INT(sql_in_transaction(db), 0, "which ends the lost transaction");
  CHECK_STR(value_of(db, "SELECT 6 * 7"), "42", "and statements run again");
}

int main(void) {
  char *tmp = test_tmpdir();
  char err[1024];

  char *path = test_path(tmp, "sql.db");
  CHECK(!sql_is_postgres_target(path), "a file path is SQLite");
  sql_db *lite = sql_open(path, err, sizeof err);
  CHECK(lite != NULL && sql_kind_of(lite) == SQL_SQLITE, "a SQLite file opens (%s)", err);
  if (lite) same_answers(lite, "SQLite");
  if (lite) interrupts(lite, "SQLite");
  sql_close(lite);
  free(path);

  CHECK(sql_is_postgres_target("postgresql://u@h/d") && sql_is_postgres_target("postgres://h/d"),
        "postgresql:// and postgres:// are PostgreSQL");
  static const char *const shown[][2] = {
      {"postgresql://parley:secret@127.0.0.1:5432/parley", "postgresql://parley:***@127.0.0.1:5432/parley"},
      {"postgresql://parley@db/parley?password=secret&sslmode=require",
       "postgresql://parley@db/parley?password=***&sslmode=require"},
      {"postgres://u:p%40ss@h/d?application_name=x&password=secret",
       "postgres://u:***@h/d?application_name=x&password=***"},
      {"postgresql://h/d?sslmode=disable", "postgresql://h/d?sslmode=disable"},
      {"var/parley.db", "var/parley.db"},
  };
  for (size_t i = 0; i < sizeof shown / sizeof *shown; i++) {
    char out[256];
    sql_shown_target(shown[i][0], out, sizeof out);
    CHECK_STR(out, shown[i][1], "shown without its password: %s", shown[i][0]);
  }
  sql_db *none = sql_open("postgresql://parley:secret@127.0.0.1:1/parley", err, sizeof err);
  CHECK(none == NULL, "a server that is not there is reported");
  CHECK_HAS(err, "127.0.0.1:1", "the report names the target (%s)", err);
  CHECK(strstr(err, "secret") == NULL, "but never its password (%s)", err);

  test_pg server;
  CHECK(test_pg_start(&server, err, sizeof err) == 0,
        "a PostgreSQL server to test against (%s)", err);
  sql_db *pg = server.url[0] ? sql_open(server.url, err, sizeof err) : NULL;
  CHECK(pg != NULL && sql_kind_of(pg) == SQL_POSTGRES, "PostgreSQL connects (%s)",
        pg ? "" : err);
  if (pg) same_answers(pg, "PostgreSQL");
  if (pg) interrupts(pg, "PostgreSQL");
  if (pg) pipelines(pg);
  if (pg) reconnects(&server, pg);
  sql_close(pg);
  test_pg_stop(&server);

  test_rmtree(tmp);
  free(tmp);
  return test_done();
}
