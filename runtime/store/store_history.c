/* store_history: snapshots and the answers handlers got (store_history.h),
 * on the schema store.c owns (version 18). */
#include "store_history.h"

#include <stdlib.h>

#include "store_internal.h"
#include "util.h"

enum {
  K_SNAPSHOT_ADD,
  K_HTTP_ANSWER_ADD,
  K_SNAPSHOT_BEFORE,
  K_MESSAGES,
  K_HTTP_ANSWERS,
  K_ERRORS,
  K_INBOUND,
  K_COUNT
};
_Static_assert((int)K_COUNT <= (int)STORE_HISTORY_QUERIES,
               "store_internal.h: raise STORE_HISTORY_QUERIES");

static const char *const queries[K_COUNT] = {
    [K_SNAPSHOT_ADD] = "INSERT INTO snapshots(message_id, contact_id, status, fields, tags,"
                       " state, expect, timezone, joined) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7,"
                       " ?8, ?9) ON CONFLICT(message_id) DO NOTHING",
    [K_HTTP_ANSWER_ADD] =
        "INSERT INTO http_answers(bot_id, contact_id, message_id, method, url, status, error,"
        " body, truncated, at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [K_SNAPSHOT_BEFORE] =
        "SELECT message_id, contact_id, status, fields, tags, state, expect, timezone, joined"
        " FROM snapshots WHERE contact_id = ?1 AND message_id <= ?2"
        " ORDER BY message_id DESC LIMIT 1",
    [K_MESSAGES] = "SELECT id, created_at, coalesce(broadcast_id, 0), direction, text, status,"
                   " error, coalesce(send_at, 0), coalesce(reply_to, 0) FROM messages"
                   " WHERE contact_id = ?1 ORDER BY id DESC LIMIT ?2",
    [K_HTTP_ANSWERS] = "SELECT id, message_id, at, method, url, status, error, body, truncated"
                       " FROM http_answers WHERE contact_id = ?1 AND at >= ?2 ORDER BY id",
    [K_ERRORS] = "SELECT coalesce(message_id, 0), text, at FROM errors WHERE contact_id = ?1"
                 " AND at >= ?2 ORDER BY id",
    [K_INBOUND] = "SELECT m.id, m.contact_id, c.number, m.text, m.created_at FROM messages m"
                  " JOIN contacts c ON c.id = m.contact_id WHERE m.bot_id = ?1"
                  " AND m.direction = 'in' ORDER BY m.id DESC LIMIT ?2",
};

size_t store_history_statements(const char **out, size_t cap) {
  size_t n = 0;
  for (int q = 0; q < K_COUNT; q++)
    if (n < cap) out[n++] = queries[q];
  return n;
}

static sql_stmt *query(store *st, int q) {
  return store_cached(st, &st->history[q], queries[q]);
}

void snapshot_row_free(snapshot_row *r) {
  free(r->status);
  free(r->fields);
  free(r->tags);
  free(r->state);
  free(r->expect);
  free(r->timezone);
  *r = (snapshot_row){0};
}

int store_snapshot_add(store *st, const snapshot_row *s) {
  return STORE_RUN(st, query(st, K_SNAPSHOT_ADD), "cannot record a conversation's past",
                   SQL_INT(s->message_id), SQL_INT(s->contact_id), SQL_TEXT(s->status),
                   SQL_TEXT(s->fields), SQL_TEXT(s->tags), SQL_TEXT(s->state),
                   SQL_TEXT(s->expect), SQL_TEXT(s->timezone), SQL_INT(s->joined));
}

/* store_snapshots_add: one INSERT of 2^k rows for each k, as messages are
 * stored (store.c run_many_rows) */
enum { SNAPSHOT_PARAMS = 9 };

static int insert_snapshots(store *st, const void *ud, size_t at, int k) {
  const snapshot_row *const *rows = (const snapshot_row *const *)ud + at;
  sql_stmt *s = st->snapshot_inserts[k];
  if (s) {
    sql_reset(s);
  } else {
    buf sql = {0};
    buf_puts(&sql, "INSERT INTO snapshots(message_id, contact_id, status, fields, tags, state,"
                   " expect, timezone, joined) VALUES");
    for (int r = 0; r < 1 << k; r++) {
      int p = r * SNAPSHOT_PARAMS;
      buf_printf(&sql, "%s(?%d,?%d,?%d,?%d,?%d,?%d,?%d,?%d,?%d)", r ? "," : "", p + 1, p + 2,
                 p + 3, p + 4, p + 5, p + 6, p + 7, p + 8, p + 9);
    }
    buf_puts(&sql, " ON CONFLICT(message_id) DO NOTHING");
    s = prepare_many_rows(st, &st->snapshot_inserts[k], sql.data);
    buf_free(&sql);
    if (!s) return -1;
  }
  for (int r = 0; r < 1 << k; r++) {
    const snapshot_row *w = rows[r];
    int p = r * SNAPSHOT_PARAMS;
    sql_bind_int(s, p + 1, w->message_id);
    sql_bind_int(s, p + 2, w->contact_id);
    store_bind_text(s, p + 3, w->status);
    store_bind_text(s, p + 4, w->fields);
    store_bind_text(s, p + 5, w->tags);
    store_bind_text(s, p + 6, w->state);
    store_bind_text(s, p + 7, w->expect);
    store_bind_text(s, p + 8, w->timezone);
    sql_bind_int(s, p + 9, w->joined);
  }
  return store_exec_done(st, s, "cannot record a conversation's past");
}

int store_snapshots_add(store *st, const snapshot_row *const *rows, size_t n) {
  return run_many_rows(st, n, insert_snapshots, rows);
}

int store_http_answer_add(store *st, const http_answer_row *a) {
  return STORE_RUN(st, query(st, K_HTTP_ANSWER_ADD), "cannot record a request's answer",
                   SQL_INT(a->bot_id), SQL_INT(a->contact_id), SQL_INT(a->message_id),
                   SQL_TEXT(a->method), SQL_TEXT(a->url), SQL_INT(a->status),
                   SQL_TEXT(a->error), SQL_TEXT(a->body), SQL_INT(a->truncated),
                   SQL_INT(a->at));
}

int store_snapshot_before(store_reader *rd, int64_t contact_id, int64_t message_id,
                          snapshot_row *out) {
  store *st = reader_store(rd);
  *out = (snapshot_row){0};
  sql_stmt *s = query(st, K_SNAPSHOT_BEFORE);
  if (!s) return -1;
  STORE_BIND(s, SQL_INT(contact_id), SQL_INT(message_id));
  int rc = sql_step(s);
  if (rc == SQL_ROW)
    STORE_COLUMNS(s, SQL_OUT(&out->message_id), SQL_OUT(&out->contact_id),
                  SQL_OUT(&out->status), SQL_OUT(&out->fields), SQL_OUT(&out->tags),
                  SQL_OUT(&out->state), SQL_OUT(&out->expect), SQL_OUT(&out->timezone),
                  SQL_OUT(&out->joined));
  return store_step_end(st, s, rc, "cannot read a conversation's past");
}

int store_history_messages(store_reader *rd, int64_t contact_id, long last,
                           history_message_fn fn, void *ud) {
  store *st = reader_store(rd);
  sql_stmt *s = query(st, K_MESSAGES);
  if (!s) return -1;
  STORE_BIND(s, SQL_INT(contact_id), SQL_INT(last > 0 ? last : INT64_MAX));
  history_message *v = NULL;
  char **texts = NULL;
  size_t n = 0, cap = 0;
  int rc;
  while ((rc = sql_step(s)) == SQL_ROW) { /* newest first: kept, then given oldest first */
    if (n == cap) {
      cap = cap ? cap * 2 : 64;
      v = xrealloc(v, cap * sizeof *v);
      texts = xrealloc(texts, cap * 4 * sizeof *texts);
    }
    texts[4 * n] = store_col_dup(s, 3);
    texts[4 * n + 1] = store_col_dup(s, 4);
    texts[4 * n + 2] = store_col_dup(s, 5);
    texts[4 * n + 3] = store_col_dup(s, 6);
    v[n] = (history_message){.id = sql_column_int(s, 0), .at = sql_column_int(s, 1),
                             .broadcast_id = sql_column_int(s, 2), .send_at = sql_column_int(s, 7),
                             .reply_to = sql_column_int(s, 8), .direction = texts[4 * n],
                             .text = texts[4 * n + 1], .status = texts[4 * n + 2],
                             .error = texts[4 * n + 3]};
    n++;
  }
  int failed = store_step_end(st, s, rc, "cannot read a conversation") < 0;
  for (size_t i = n; i-- > 0;)
    if (!failed) fn(ud, &v[i]);
  for (size_t i = 0; i < 4 * n; i++) free(texts[i]);
  free(texts);
  free(v);
  return failed ? -1 : 0;
}

int store_http_answers_each(store_reader *rd, int64_t contact_id, int64_t from_ms,
                            http_answer_fn fn, void *ud) {
  store *st = reader_store(rd);
  sql_stmt *s = query(st, K_HTTP_ANSWERS);
  if (!s) return -1;
  STORE_BIND(s, SQL_INT(contact_id), SQL_INT(from_ms));
  int rc;
  while ((rc = sql_step(s)) == SQL_ROW)
    fn(ud, &(http_answer_row){.id = sql_column_int(s, 0), .contact_id = contact_id,
                              .message_id = sql_column_int(s, 1), .at = sql_column_int(s, 2),
                              .method = sql_column_text(s, 3), .url = sql_column_text(s, 4),
                              .status = (long)sql_column_int(s, 5),
                              .error = sql_column_text(s, 6), .body = sql_column_text(s, 7),
                              .truncated = (int)sql_column_int(s, 8)});
  return store_step_end(st, s, rc, "cannot read the answers requests got") < 0 ? -1 : 0;
}

int store_history_errors(store_reader *rd, int64_t contact_id, int64_t from_ms,
                         history_error_fn fn, void *ud) {
  store *st = reader_store(rd);
  sql_stmt *s = query(st, K_ERRORS);
  if (!s) return -1;
  STORE_BIND(s, SQL_INT(contact_id), SQL_INT(from_ms));
  int rc;
  while ((rc = sql_step(s)) == SQL_ROW)
    fn(ud, sql_column_int(s, 0), sql_column_text(s, 1), sql_column_int(s, 2));
  return store_step_end(st, s, rc, "cannot read a contact's errors") < 0 ? -1 : 0;
}

int store_history_inbound(store_reader *rd, int64_t bot_id, long limit, inbound_fn fn,
                          void *ud) {
  store *st = reader_store(rd);
  sql_stmt *s = query(st, K_INBOUND);
  if (!s) return -1;
  STORE_BIND(s, SQL_INT(bot_id), SQL_INT(limit));
  int rc;
  while ((rc = sql_step(s)) == SQL_ROW)
    fn(ud, sql_column_int(s, 0), sql_column_int(s, 1), sql_column_text(s, 2),
       sql_column_text(s, 3), sql_column_int(s, 4));
  return store_step_end(st, s, rc, "cannot read the messages") < 0 ? -1 : 0;
}
