/* sql_db: one SQL connection, SQLite or PostgreSQL, behind one small API
 * of prepared statements, so that the store's queries can run on either.
 * A target that starts with postgresql:// or postgres:// is a PostgreSQL
 * connection string (libpq); anything else is a SQLite file (or :memory:).
 *
 * Statements are written once, with ? for each parameter, or ?1, ?2...
 * where one is used twice (PostgreSQL's $1, $2... are made from them; a ?
 * inside a quoted literal or identifier stays). A statement's parameters stay bound across sql_reset, as in
 * SQLite. Not thread-safe: a connection is used by one thread at a time.
 *
 * This is the first piece of the PostgreSQL store (issue 14): the store
 * (store.c) still talks to SQLite directly. */
#ifndef PARLEY_SQL_DB_H
#define PARLEY_SQL_DB_H

#include <stddef.h>
#include <stdint.h>

typedef struct sql_db sql_db;
typedef struct sql_stmt sql_stmt;

typedef enum { SQL_SQLITE, SQL_POSTGRES } sql_kind;

/* sql_step's answers */
enum { SQL_FAIL = -1, SQL_DONE = 0, SQL_ROW = 1 };

/* 1 if target names a PostgreSQL database (postgresql:// or postgres://). */
int sql_is_postgres_target(const char *target);
/* target as it may be shown: a URL's password replaced by ***. */
void sql_shown_target(const char *target, char *out, size_t outlen);
/* A connection to target, or NULL with the reason in err (the target named,
 * a password in it never). */
sql_db *sql_open(const char *target, char *err, size_t errlen);
void sql_close(sql_db *db);
sql_kind sql_kind_of(const sql_db *db);
/* The last failure's message, in the database's own words, on one line. */
const char *sql_error(const sql_db *db);
/* 1 if the last failure broke a unique key (or primary key). */
int sql_failed_unique(const sql_db *db);
/* A SQLite connection's handle, for what only SQLite has (pragmas,
 * checkpoints, functions, busy handlers); NULL on PostgreSQL. */
struct sqlite3 *sql_sqlite(sql_db *db);

/* 1 inside a transaction (begun and not yet committed or rolled back). */
int sql_in_transaction(sql_db *db);
/* Runs one or more statements without parameters or rows; 0, or -1. */
int sql_exec(sql_db *db, const char *sql);

/* PostgreSQL: between sql_pipeline(db, 1) and sql_pipeline(db, 0), the
 * statements marked deferrable are sent without waiting for their answers
 * (libpq's pipeline mode): their sql_step gives SQL_DONE at once (and
 * sql_changes 0), and should one fail, the next statement that waits
 * fails with its error (a transaction's COMMIT at the latest). Every other
 * statement waits as outside, for its own answer and theirs: a
 * transaction of many writes costs one round trip per statement that
 * waits instead of one per statement. No-op on SQLite. 0, or -1. */
int sql_pipeline(sql_db *db, int on);
/* Marks s as one whose answer its callers do not read but for a failure. */
void sql_set_deferrable(sql_stmt *s);

/* PostgreSQL: an empty database `name` (letters, digits, _) on the server
 * `server` names, dropped first if it is there (drop = 1: only dropped);
 * its URL in url (if not NULL). 0, or -1 with err. */
int sql_fresh_database(const char *server, const char *name, int drop, char *url, size_t n,
                       char *err, size_t errlen);
/* PostgreSQL, on a connection that ran LISTEN: waits up to timeout_ms
 * for notifications, fn(ud, channel, payload) for each (if fn is not
 * NULL); how many came (0: none), or -1 if the connection failed. SQLite:
 * 0 at once. */
typedef void (*sql_notify_fn)(void *ud, const char *channel, const char *payload);
int sql_wait_notify(sql_db *db, int timeout_ms, sql_notify_fn fn, void *ud);

/* A prepared statement, or NULL (sql_error says why). */
sql_stmt *sql_prepare(sql_db *db, const char *sql);
void sql_finalize(sql_stmt *s);
/* Parameters are numbered from 1. A NULL text binds NULL. sql_bind_text's
 * text must live until the statement is reset (SQLite reads it when the
 * statement runs); sql_bind_text_copy's is copied. */
void sql_bind_int(sql_stmt *s, int i, int64_t v);
void sql_bind_double(sql_stmt *s, int i, double v);
void sql_bind_text(sql_stmt *s, int i, const char *v);
void sql_bind_text_copy(sql_stmt *s, int i, const char *v);
void sql_bind_null(sql_stmt *s, int i);
/* Every parameter NULL again. */
void sql_clear_bindings(sql_stmt *s);
/* While set, stop(ud) is called as a statement runs (SQLite: every 1,000
 * steps of its work; PostgreSQL: every millisecond of waiting for the
 * server's answer); when it returns nonzero the statement is interrupted
 * (SQLite) or cancelled (PostgreSQL) and fails. NULL clears it. */
void sql_set_interrupt(sql_db *db, int (*stop)(void *ud), void *ud);
/* Runs the statement (the first call) and moves to its next row: SQL_ROW,
 * SQL_DONE when there is none left, or SQL_FAIL (sql_error). */
int sql_step(sql_stmt *s);
/* Ready to run again, with the same parameters unless bound anew. */
void sql_reset(sql_stmt *s);
/* The rows the last run inserted, updated or deleted. */
int64_t sql_changes(sql_stmt *s);
/* The current row's columns, numbered from 0. A NULL is 0, 0.0 or a NULL
 * pointer; PostgreSQL's booleans are 1 and 0. A text lives until the next
 * step, reset or finalize. */
int sql_column_is_null(sql_stmt *s, int col);
int64_t sql_column_int(sql_stmt *s, int col);
double sql_column_double(sql_stmt *s, int col);
const char *sql_column_text(sql_stmt *s, int col);

#endif
