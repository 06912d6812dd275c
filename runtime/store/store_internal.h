/* store_internal: what store.c and store_outbox.c share (nothing else
 * includes it). store.c owns the schema and the connection; store_outbox.c
 * the outbox's and delivery status's queries, prepared on first use into
 * st->extra. */
#ifndef PARLEY_STORE_INTERNAL_H
#define PARLEY_STORE_INTERNAL_H

#include <openssl/types.h>
#include <sqlite3.h>

#include "sql_db.h"
#include "store.h"
#include "util.h"

enum {
  STORE_QUERIES = 64,
  STORE_EXTRA_QUERIES = 16,
  STORE_CLUSTER_QUERIES = 24,
  STORE_CONSOLE_QUERIES = 20,
  STORE_LINK_QUERIES = 8,
  STORE_HISTORY_QUERIES = 8
};
/* store_messages_add's INSERTs of 1, 2, 4 ... 64 rows (and
 * store_conversations_save's) */
enum { STORE_MESSAGE_INSERTS = 7 };

struct store {
  sql_db *sql;
  sqlite3 *db; /* sql's SQLite handle: pragmas, checkpoints, functions */
  char *path;
  sql_stmt *q[STORE_QUERIES];
  sql_stmt *extra[STORE_EXTRA_QUERIES];
  sql_stmt *cluster[STORE_CLUSTER_QUERIES]; /* store_cluster.c's */
  sql_stmt *console[STORE_CONSOLE_QUERIES]; /* store_console.c's */
  sql_stmt *links[STORE_LINK_QUERIES];      /* store_links.c's */
  sql_stmt *history[STORE_HISTORY_QUERIES]; /* store_history.c's */
  int inbox_session; /* store_inbox_open set its connection up */
  sql_stmt *message_inserts[STORE_MESSAGE_INSERTS]; /* prepared on first use */
  sql_stmt *conversation_saves[2][STORE_MESSAGE_INSERTS]; /* without, with the state */
  sql_stmt *contact_inserts[STORE_MESSAGE_INSERTS];
  sql_stmt *snapshot_inserts[STORE_MESSAGE_INSERTS]; /* store_history.c's */
  char err[512];
  unsigned char suppression_key[32]; /* read once (store.c) */
  int has_suppression_key;
  int wal_restart_frames; /* store_checkpoint: a WAL this long is restarted */
  int busy_ms;            /* how long busy_wait (store.c) waits for a lock */
  int64_t busy_since_ns;  /* when the wait for the lock now wanted began */
  EVP_MAC_CTX *suppression_mac; /* HMAC-SHA256 keyed with it, made once */
  const char *partitions; /* the due queries' partitions (store_set_partitions) */
  const struct store_fence *fence; /* checked by every write transaction */
  sql_stmt *fence_check;
  int read_wanted; /* store_read_begin: the read transaction starts at the next statement */
};

/* A statement of many rows, prepared once into *cached (pipelined on
 * PostgreSQL: nothing waits for its answer); NULL with the error. */
sql_stmt *prepare_many_rows(store *st, sql_stmt **cached, const char *sql);
/* Writes rows [0, n) with statements of many rows: 2^k rows each, the
 * largest first, so one statement of each size is prepared and n rows
 * take at most STORE_MESSAGE_INSERTS of them. run(st, ud, at, k) binds
 * rows [at, at + 2^k) and runs them: 0, or -1 with its failure recorded,
 * which stops the rest. */
typedef int (*rows_run)(store *st, const void *ud, size_t at, int k);
int run_many_rows(store *st, size_t n, rows_run run, const void *ud);

/* The text of the statements store.c, and store_outbox.c, prepare from
 * fixed text on a database of that kind (at most cap in out); their count.
 * The tests check that each prepares on PostgreSQL. */
size_t store_statements(sql_kind kind, const char **out, size_t cap);
size_t store_outbox_statements(const char **out, size_t cap);
size_t store_cluster_statements(const char **out, size_t cap);
size_t store_console_statements(sql_kind kind, const char **out, size_t cap);
size_t store_link_statements(const char **out, size_t cap);
size_t store_history_statements(const char **out, size_t cap);
/* The schema version store.c's migrations make. */
int store_schema_version(void);

/* The connection behind a reader (a store_reader is a store seen through
 * its reads only). */
static inline store *reader_store(store_reader *rd) {
  return (store *)rd;
}

/* Begins the read transaction store_read_begin asked for, if it has not
 * begun: every statement of a read runs after it. 0 or -1. */
int store_read_wanted(store *st);
/* A statement prepared once from text into *slot (a file's cache of its
 * own statements), reset with its bindings cleared; NULL with the store's
 * error set. Begins store_read_begin's read first, if it waits. */
sql_stmt *store_cached(store *st, sql_stmt **slot, const char *text);
/* Records "path: what: sqlite's message" as the store's error; -1. */
int store_fail(store *st, const char *what);
/* Binds a string, or NULL for a NULL pointer. */
void store_bind_text(sql_stmt *s, int i, const char *v);

/* A value for a statement's parameter: SQL_INT(v), SQL_TEXT(v) (a NULL
 * pointer binds NULL; the string must live until the statement is reset),
 * SQL_REAL(v). */
typedef struct sql_value {
  enum { SQL_INTEGER, SQL_STRING, SQL_DOUBLE } type;
  int64_t i;
  double r;
  const char *t;
} sql_value;
#define SQL_INT(v) ((sql_value){.type = SQL_INTEGER, .i = (v)})
#define SQL_TEXT(v) ((sql_value){.type = SQL_STRING, .t = (v)})
#define SQL_REAL(v) ((sql_value){.type = SQL_DOUBLE, .r = (v)})
/* The values as an array and its length. */
#define SQL_VALUES(...)             \
  (const sql_value[]){__VA_ARGS__}, \
      sizeof((const sql_value[]){__VA_ARGS__}) / sizeof(sql_value)

/* Binds v[0], v[1]... to ?1, ?2... of s. */
void store_bind_values(sql_stmt *s, const sql_value *v, size_t n);
/* Binds the values to s and steps it, a statement that returns no rows: 0,
 * or -1 with the error naming what (also when s is NULL: it did not
 * prepare). */
int store_run_values(store *st, sql_stmt *s, const char *what, const sql_value *v,
                     size_t n);
#define STORE_BIND(s, ...) store_bind_values(s, SQL_VALUES(__VA_ARGS__))
#define STORE_RUN(st, s, what, ...) \
  store_run_values(st, s, what, SQL_VALUES(__VA_ARGS__))
/* Steps a statement that returns no rows: 0, or -1 with the error. */
int store_exec_done(store *st, sql_stmt *s, const char *what);
/* Where a row's column goes: SQL_OUT(&v) for an int64_t, int, double or
 * char * (a copy, NULL for NULL: the caller frees it). */
typedef struct sql_out {
  enum { SQL_OUT_INT64, SQL_OUT_INT, SQL_OUT_DOUBLE, SQL_OUT_TEXT } type;
  void *p;
} sql_out;
#define SQL_OUT(ptr) \
  _Generic((ptr),                                         \
      int64_t *: (sql_out){.type = SQL_OUT_INT64, .p = (ptr)}, \
      int *: (sql_out){.type = SQL_OUT_INT, .p = (ptr)},       \
      double *: (sql_out){.type = SQL_OUT_DOUBLE, .p = (ptr)}, \
      char **: (sql_out){.type = SQL_OUT_TEXT, .p = (ptr)})
/* Reads the row's columns 0, 1... into o[0], o[1]... */
void store_columns(sql_stmt *s, const sql_out *o, size_t n);
#define STORE_COLUMNS(s, ...)                      \
  store_columns(s, (const sql_out[]){__VA_ARGS__}, \
                sizeof((const sql_out[]){__VA_ARGS__}) / sizeof(sql_out))

/* Resets s, whose last step gave rc: 1 it gave a row, 0 it was done, -1
 * with the error naming what. */
int store_step_end(store *st, sql_stmt *s, int rc, const char *what);
/* A copy of a text column, NULL for NULL. */
char *store_col_dup(sql_stmt *s, int i);

/* A segment (as store_contacts_match takes it, parsed) as conditions on
 * the contact c appended to sql, their parameters numbered from first;
 * and their values bound to s. Each returns the next free parameter. */
struct json_t;
int store_segment_where(buf *sql, struct json_t *seg, int pg, int first);
int store_segment_bind(sql_stmt *s, struct json_t *seg, int pg, int first);

/* texts[0..n) as one JSON array (a statement's one parameter, a list of
 * numbers or tickets), or NULL; the caller frees it. */
char *store_json_list(const char *const *texts, size_t n);

#endif
