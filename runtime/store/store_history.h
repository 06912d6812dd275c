/* store_history: what a conversation's past needs to be played again
 * (store_history.c, on the schema store.c owns, version 18: snapshots,
 * http_answers): the contact as it was before an inbound message (written
 * when it changed since the last one written), and the answers its
 * handlers' http.get/post requests got. `parley pull` writes a transcript
 * from them; a reload replays real messages with them. */
#ifndef PARLEY_STORE_HISTORY_H
#define PARLEY_STORE_HISTORY_H

#include <stdint.h>

#include "store.h"

/* The contact before inbound message message_id: status, fields, tags (JSON),
 * state (JSON, NULL: none), expect and timezone (NULL: none), joined. */
typedef struct snapshot_row {
  int64_t message_id, contact_id;
  char *status, *fields, *tags, *state, *expect, *timezone;
  int joined;
} snapshot_row;
void snapshot_row_free(snapshot_row *r);

/* An answer a handler's request got: status 0 with error for no response;
 * body NULL and truncated 1 when it was not kept (larger than
 * HTTP_ANSWER_KEPT, or not UTF-8 text). message_id: the inbound message
 * whose handler made it (0: a timer's, an event's...). */
enum { HTTP_ANSWER_KEPT = 65536 };
typedef struct http_answer_row {
  int64_t id, bot_id, contact_id, message_id, at;
  const char *method, *url, *error, *body;
  long status;
  int truncated;
} http_answer_row;

int store_snapshot_add(store *st, const snapshot_row *s);
/* n snapshots in as few statements as it can (INSERTs of many rows). */
int store_snapshots_add(store *st, const snapshot_row *const *rows, size_t n);
int store_http_answer_add(store *st, const http_answer_row *a);

/* The snapshot in force before message_id: the latest written at or before
 * it. 1 with *out, 0 none (the store has none that old), -1. */
int store_snapshot_before(store_reader *rd, int64_t contact_id, int64_t message_id,
                          snapshot_row *out);

/* A contact's messages, both directions, the last `last` of them (0: all)
 * in order (oldest first). */
typedef struct history_message {
  int64_t id, at, broadcast_id;
  int64_t send_at;  /* held by quiet hours: when it went, or goes */
  int64_t reply_to; /* the inbound message it answers (0: none) */
  const char *direction, *text, *status, *error;
} history_message;
typedef void (*history_message_fn)(void *ud, const history_message *m);
int store_history_messages(store_reader *rd, int64_t contact_id, long last,
                           history_message_fn fn, void *ud);

/* The answers the contact's handlers got from from_ms on, in order. */
typedef void (*http_answer_fn)(void *ud, const http_answer_row *a);
int store_http_answers_each(store_reader *rd, int64_t contact_id, int64_t from_ms,
                            http_answer_fn fn, void *ud);

/* The bot's last `limit` inbound messages, the newest first: id, contact,
 * its address, the text, when. 0 or -1. */
typedef void (*inbound_fn)(void *ud, int64_t id, int64_t contact_id, const char *number,
                           const char *text, int64_t at);
int store_history_inbound(store_reader *rd, int64_t bot_id, long limit, inbound_fn fn,
                          void *ud);

/* The contact's handler errors from from_ms on, in order: the message the
 * failed handler ran for (an inbound message's id for its handler; 0 or
 * another id for the others), the error, when. */
typedef void (*history_error_fn)(void *ud, int64_t message_id, const char *text, int64_t at);
int store_history_errors(store_reader *rd, int64_t contact_id, int64_t from_ms,
                         history_error_fn fn, void *ud);

#endif
