/* test_sql.h: reading and writing a test's database file on a connection
 * of its own, outside the store (what the store wrote, as SQLite has it). */
#ifndef PARLEY_TEST_SQL_H
#define PARLEY_TEST_SQL_H

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The first column of the first row of sql, as an integer; -1 if the
 * query fails. */
static inline long long sql_int(const char *path, const char *sql) {
  sqlite3 *db;
  long long v = -1;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK) {
      if (sqlite3_step(s) == SQLITE_ROW) v = sqlite3_column_int64(s, 0);
      sqlite3_finalize(s);
    }
  }
  sqlite3_close(db);
  return v;
}

/* Same, as text (caller frees); NULL if the query fails. */
static inline char *sql_text(const char *path, const char *sql) {
  sqlite3 *db;
  char *v = NULL;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK) {
      if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
        v = strdup((const char *)sqlite3_column_text(s, 0));
      sqlite3_finalize(s);
    }
  }
  sqlite3_close(db);
  return v;
}

#endif
