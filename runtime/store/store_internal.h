/* store_internal: what store.c and store_outbox.c share (nothing else
 * includes it). store.c owns the schema and the connection; store_outbox.c
 * the outbox's and delivery status's queries, prepared on first use into
 * st->extra. */
#ifndef PARLEY_STORE_INTERNAL_H
#define PARLEY_STORE_INTERNAL_H

#include <openssl/types.h>
#include <sqlite3.h>

#include "store.h"

enum { STORE_QUERIES = 64, STORE_EXTRA_QUERIES = 16 };
/* store_messages_add's INSERTs of 1, 2, 4 ... 64 rows */
enum { STORE_MESSAGE_INSERTS = 7 };

struct store {
  sqlite3 *db;
  char *path;
  sqlite3_stmt *q[STORE_QUERIES];
  sqlite3_stmt *extra[STORE_EXTRA_QUERIES];
  sqlite3_stmt *message_inserts[STORE_MESSAGE_INSERTS]; /* prepared on first use */
  char err[512];
  unsigned char suppression_key[32]; /* read once (store.c) */
  int has_suppression_key;
  EVP_MAC_CTX *suppression_mac; /* HMAC-SHA256 keyed with it, made once */
  int part_workers, part_index; /* the due queries' partitions (store_set_partitions) */
};

/* The connection behind a reader (a store_reader is a store seen through
 * its reads only). */
static inline store *reader_store(store_reader *rd) {
  return (store *)rd;
}

/* Records "path: what: sqlite's message" as the store's error; -1. */
int store_fail(store *st, const char *what);
/* Binds a string, or NULL for a NULL pointer. */
void store_bind_text(sqlite3_stmt *s, int i, const char *v);
/* Steps a statement that returns no rows: 0, or -1 with the error. */
int store_exec_done(store *st, sqlite3_stmt *s, const char *what);
/* A copy of a text column, NULL for NULL. */
char *store_col_dup(sqlite3_stmt *s, int i);

#endif
