/* store_console: the console's sessions and read marks, and its inbox's
 * read of the conversations (store_console.h), on the schema store.c owns
 * (version 14: console_sessions, inbox_reads). */
#include "store_console.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"
#include "util.h"

enum {
  K_SESSION_ADD,
  K_SESSIONS_EXPIRE,
  K_SESSION_GET,
  K_SESSION_END,
  K_INBOX_READ,
  K_NEWEST,
  K_HANDOFF,
  K_ACTION_ADD,
  K_ACTIONS,
  K_ERRORS,
  K_ID_AT,
  K_STATS_MESSAGES,
  K_STATS_CONSENT,
  K_STATS_ERRORS,
  K_REPLY_WAITS,
  K_INBOX,
  K_COUNT
};
_Static_assert((int)K_COUNT <= (int)STORE_CONSOLE_QUERIES,
               "store_internal.h: raise STORE_CONSOLE_QUERIES");

/* The inbox: ?1 bot, ?2 the search as a LIKE pattern (NULL: all), ?3 a
 * tag (NULL: all), ?4 the cursor (the last message id of the previous
 * page's last row; 0: the top), ?5 the limit, ?6 1: only the conversations
 * a person has or is asked to take, ?7 ?8 a field and its value as text
 * (NULL: any). A conversation is a contact
 * with a message, the latest first by its last message (an index seek a
 * contact: messages_contact holds the id after the contact); its unread
 * messages are the inbound ones since its read mark. SQLite's LIKE ignores
 * the case of ASCII letters, as PostgreSQL's ILIKE does (and of others too
 * where the database's locale knows them). */
#define INBOX_QUERY(NAME, LIKE, HAS_TAG, FIELD)                                             \
  "SELECT c.id, c.number, c.status, " NAME ", c.tags, m.id, m.direction, m.text,"         \
  " m.status, m.created_at, (SELECT count(*) FROM messages u WHERE u.contact_id = c.id"    \
  " AND u.direction = 'in' AND u.created_at > coalesce(r.read_at, 0)), c.handoff"         \
  " FROM contacts c JOIN messages m ON m.id = (SELECT max(id) FROM messages"               \
  " WHERE contact_id = c.id) LEFT JOIN inbox_reads r ON r.contact_id = c.id"               \
  " WHERE c.bot_id = ?1 AND (CAST(?2 AS TEXT) IS NULL OR c.number " LIKE " ?2 ESCAPE '\\'" \
  " OR " NAME " " LIKE " ?2 ESCAPE '\\' OR EXISTS (SELECT 1 FROM messages t"               \
  " WHERE t.contact_id = c.id AND t.text " LIKE " ?2 ESCAPE '\\'))"                        \
  " AND (CAST(?3 AS TEXT) IS NULL OR " HAS_TAG ")"                                         \
  " AND (CAST(?4 AS BIGINT) = 0 OR m.id < ?4)"                                             \
  " AND (CAST(?6 AS BIGINT) = 0 OR c.handoff IS NOT NULL)"                                 \
  " AND (CAST(?7 AS TEXT) IS NULL OR " FIELD " = ?8)"
#define INBOX_ORDER " ORDER BY m.id DESC LIMIT ?5"

static const char *const queries[K_COUNT] = {
    [K_SESSION_ADD] = "INSERT INTO console_sessions(id, who, bots, csrf, created_at, expires_at)"
                      " VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
    [K_SESSIONS_EXPIRE] = "DELETE FROM console_sessions WHERE expires_at <= ?1",
    [K_SESSION_GET] = "SELECT id, who, bots, csrf, created_at, expires_at FROM console_sessions"
                      " WHERE id = ?1 AND expires_at > ?2",
    [K_SESSION_END] = "DELETE FROM console_sessions WHERE id = ?1",
    [K_INBOX_READ] = "INSERT INTO inbox_reads(contact_id, read_at) VALUES(?1, ?2)"
                     " ON CONFLICT(contact_id) DO UPDATE SET read_at = excluded.read_at"
                     " WHERE excluded.read_at > inbox_reads.read_at",
    [K_NEWEST] = "SELECT coalesce(max(created_at), 0) FROM messages WHERE contact_id = ?1",
    [K_HANDOFF] = "UPDATE contacts SET handoff = ?2 WHERE id = ?1",
    [K_ACTION_ADD] = "INSERT INTO operator_actions(bot_id, contact_id, who, action, text, at)"
                     " VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
    [K_ACTIONS] = "SELECT who, action, text, at FROM operator_actions WHERE contact_id = ?1"
                  " ORDER BY id",
    [K_ERRORS] = "SELECT kind, text, at FROM errors WHERE contact_id = ?1 ORDER BY id",
    /* the first message from an id on: its id and time (the primary key) */
    [K_ID_AT] = "SELECT id, created_at FROM messages WHERE id >= ?1 ORDER BY id LIMIT 1",
    /* ?1 bot, ?2 the first id, ?3 since, ?4 bucket, ?5 offset */
    [K_STATS_MESSAGES] =
        "SELECT (created_at + ?5) / ?4, CASE WHEN direction = 'in' THEN 'in' ELSE 'out' END,"
        " count(*), sum(CASE WHEN direction = 'out' AND status = 'delivered' THEN 1 ELSE 0 END),"
        " sum(CASE WHEN direction = 'out' AND status = 'undelivered' THEN 1 ELSE 0 END),"
        " sum(CASE WHEN direction = 'out' AND status = 'failed' THEN 1 ELSE 0 END)"
        " FROM messages WHERE id >= ?2 AND bot_id = ?1 AND created_at >= ?3"
        " GROUP BY 1, 2",
    [K_STATS_CONSENT] = "SELECT (at + ?4) / ?3, action, count(*) FROM consent"
                        " WHERE bot_id = ?1 AND at >= ?2 GROUP BY 1, 2",
    [K_STATS_ERRORS] = "SELECT (at + ?4) / ?3, 'error', count(*) FROM errors"
                       " WHERE bot_id = ?1 AND at >= ?2 GROUP BY 1",
    [K_REPLY_WAITS] =
        "SELECT (SELECT min(o.created_at) FROM messages o WHERE o.contact_id = i.contact_id"
        " AND o.id > i.id AND o.direction = 'out' AND o.broadcast_id IS NULL) - i.created_at"
        " FROM messages i WHERE i.id >= ?2 AND i.bot_id = ?1 AND i.direction = 'in'"
        " AND i.created_at >= ?3 ORDER BY i.id DESC LIMIT ?4",
    [K_INBOX] = INBOX_QUERY("json_extract(c.fields, '$.name')", "LIKE",
                            "EXISTS (SELECT 1 FROM json_each(c.tags) WHERE value = ?3)",
                            "CAST(json_extract(c.fields, '$.\"' || ?7 || '\"') AS TEXT)")
        INBOX_ORDER,
};

static const char *query_text(sql_kind kind, int q) {
  if (kind == SQL_POSTGRES && q == K_INBOX)
    return INBOX_QUERY("(c.fields::jsonb ->> 'name')", "ILIKE",
                       "c.tags::jsonb @> jsonb_build_array(CAST(?3 AS TEXT))",
                       "(c.fields::jsonb ->> CAST(?7 AS TEXT))") INBOX_ORDER;
  return queries[q];
}

size_t store_console_statements(sql_kind kind, const char **out, size_t cap) {
  size_t n = 0;
  for (int q = 0; q < K_COUNT; q++)
    if (n < cap) out[n++] = query_text(kind, q);
  return n;
}

static sql_stmt *query(store *st, int q) {
  return store_cached(st, &st->console[q], query_text(sql_kind_of(st->sql), q));
}

void console_session_free(console_session *s) {
  free(s->id);
  free(s->who);
  free(s->bots);
  free(s->csrf);
  *s = (console_session){0};
}

int store_session_add(store *st, const console_session *s, int64_t now) {
  if (STORE_RUN(st, query(st, K_SESSIONS_EXPIRE), "cannot forget the expired sessions",
                SQL_INT(now)))
    return -1;
  return STORE_RUN(st, query(st, K_SESSION_ADD), "cannot record a session", SQL_TEXT(s->id),
                   SQL_TEXT(s->who), SQL_TEXT(s->bots), SQL_TEXT(s->csrf),
                   SQL_INT(s->created_at), SQL_INT(s->expires_at));
}

int store_session_get(store_reader *rd, const char *id, int64_t now, console_session *out) {
  store *st = reader_store(rd);
  *out = (console_session){0};
  sql_stmt *s = query(st, K_SESSION_GET);
  if (!s) return -1;
  STORE_BIND(s, SQL_TEXT(id), SQL_INT(now));
  int rc = sql_step(s);
  if (rc == SQL_ROW)
    STORE_COLUMNS(s, SQL_OUT(&out->id), SQL_OUT(&out->who), SQL_OUT(&out->bots),
                  SQL_OUT(&out->csrf), SQL_OUT(&out->created_at), SQL_OUT(&out->expires_at));
  return store_step_end(st, s, rc, "cannot read a session");
}

int store_session_end(store *st, const char *id) {
  return STORE_RUN(st, query(st, K_SESSION_END), "cannot end a session", SQL_TEXT(id));
}

int store_inbox_read(store *st, int64_t contact_id, int64_t at) {
  return STORE_RUN(st, query(st, K_INBOX_READ), "cannot record what was read",
                   SQL_INT(contact_id), SQL_INT(at));
}

int64_t store_newest_message_at(store_reader *rd, int64_t contact_id) {
  store *st = reader_store(rd);
  sql_stmt *s = query(st, K_NEWEST);
  if (!s) return -1;
  sql_bind_int(s, 1, contact_id);
  int rc = sql_step(s);
  int64_t at = rc == SQL_ROW ? sql_column_int(s, 0) : 0;
  return store_step_end(st, s, rc, "cannot read a conversation") < 0 ? -1 : at;
}

int store_handoff_set(store *st, int64_t contact_id, const char *handoff) {
  return STORE_RUN(st, query(st, K_HANDOFF), "cannot record who has a conversation",
                   SQL_INT(contact_id), SQL_TEXT(handoff));
}

int store_operator_action_add(store *st, const operator_action *a) {
  return STORE_RUN(st, query(st, K_ACTION_ADD), "cannot record what a person did",
                   SQL_INT(a->bot_id), SQL_INT(a->contact_id), SQL_TEXT(a->who),
                   SQL_TEXT(a->action), SQL_TEXT(a->text ? a->text : ""), SQL_INT(a->at));
}

int store_operator_actions_each(store_reader *rd, int64_t contact_id, operator_action_fn fn,
                                void *ud) {
  store *st = reader_store(rd);
  sql_stmt *s = query(st, K_ACTIONS);
  if (!s) return -1;
  sql_bind_int(s, 1, contact_id);
  int rc;
  while ((rc = sql_step(s)) == SQL_ROW)
    fn(ud, &(operator_action){.contact_id = contact_id, .who = sql_column_text(s, 0),
                              .action = sql_column_text(s, 1), .text = sql_column_text(s, 2),
                              .at = sql_column_int(s, 3)});
  return store_step_end(st, s, rc, "cannot read what people did") < 0 ? -1 : 0;
}

int store_contact_errors_each(store_reader *rd, int64_t contact_id, contact_error_fn fn,
                              void *ud) {
  store *st = reader_store(rd);
  sql_stmt *s = query(st, K_ERRORS);
  if (!s) return -1;
  sql_bind_int(s, 1, contact_id);
  int rc;
  while ((rc = sql_step(s)) == SQL_ROW)
    fn(ud, sql_column_text(s, 0), sql_column_text(s, 1), sql_column_int(s, 2));
  return store_step_end(st, s, rc, "cannot read a contact's errors") < 0 ? -1 : 0;
}

/* On PostgreSQL each node takes its messages' ids in blocks (8192 at a
 * time, engine/group_shared.c): a node's block may still be in use while
 * another's later one fills, so the window starts this many ids earlier
 * (16 nodes' blocks; the rows before since are left out by their time). */
enum { STATS_ID_MARGIN = 16 * 8192 };

/* The id of the first message at or after since (ms): messages' ids grow
 * with their time, so a binary search over ids finds it in a few look-ups
 * by the primary key. 0 if every message is older. */
static int64_t first_id_since(store *st, int64_t since, int *failed) {
  int64_t lo = 1, hi = INT64_MAX / 2, found = 0;
  for (int steps = 0; lo <= hi && steps < 80; steps++) {
    int64_t mid = lo + (hi - lo) / 2;
    sql_stmt *s = query(st, K_ID_AT);
    if (!s) {
      *failed = 1;
      return 0;
    }
    sql_bind_int(s, 1, mid);
    int rc = sql_step(s);
    int64_t id = rc == SQL_ROW ? sql_column_int(s, 0) : 0, at = rc == SQL_ROW ? sql_column_int(s, 1) : 0;
    if (store_step_end(st, s, rc, "cannot read the messages") < 0) {
      *failed = 1;
      return 0;
    }
    if (rc != SQL_ROW) { /* no message from mid on */
      hi = mid - 1;
    } else if (at >= since) {
      found = id;
      hi = mid - 1;
    } else {
      lo = id + 1;
    }
  }
  if (found && !st->db) found = found > STATS_ID_MARGIN ? found - STATS_ID_MARGIN : 1;
  return found;
}

/* One bucket and kind a row; the messages' rows have their statuses' counts
 * after (statuses). */
static int stats_rows(store *st, sql_stmt *s, stats_fn fn, void *ud, int64_t bucket_ms,
                      int64_t offset_ms, int statuses) {
  int rc;
  while ((rc = sql_step(s)) == SQL_ROW) {
    int64_t start = sql_column_int(s, 0) * bucket_ms - offset_ms;
    fn(ud, start, sql_column_text(s, 1), sql_column_int(s, 2));
    static const char *const names[] = {"delivered", "undelivered", "failed"};
    for (int k = 0; statuses && k < 3; k++)
      if (sql_column_int(s, 3 + k)) fn(ud, start, names[k], sql_column_int(s, 3 + k));
  }
  return store_step_end(st, s, rc, "cannot count what happened") < 0 ? -1 : 0;
}

int store_bot_stats(store_reader *rd, int64_t bot_id, int64_t since, int64_t bucket_ms,
                    int64_t offset_ms, stats_fn fn, void *ud) {
  store *st = reader_store(rd);
  int failed = 0;
  int64_t first = first_id_since(st, since, &failed);
  if (failed) return -1;
  sql_stmt *s;
  if (first) {
    if (!(s = query(st, K_STATS_MESSAGES))) return -1;
    STORE_BIND(s, SQL_INT(bot_id), SQL_INT(first), SQL_INT(since), SQL_INT(bucket_ms),
               SQL_INT(offset_ms));
    if (stats_rows(st, s, fn, ud, bucket_ms, offset_ms, 1)) return -1;
  }
  for (int q = K_STATS_CONSENT; q <= K_STATS_ERRORS; q++) {
    if (!(s = query(st, q))) return -1;
    STORE_BIND(s, SQL_INT(bot_id), SQL_INT(since), SQL_INT(bucket_ms), SQL_INT(offset_ms));
    if (stats_rows(st, s, fn, ud, bucket_ms, offset_ms, 0)) return -1;
  }
  return 0;
}

int store_reply_waits(store_reader *rd, int64_t bot_id, int64_t since, long limit,
                      void (*fn)(void *ud, int64_t wait_ms), void *ud) {
  store *st = reader_store(rd);
  int failed = 0;
  int64_t first = first_id_since(st, since, &failed);
  if (failed) return -1;
  if (!first) return 0;
  sql_stmt *s = query(st, K_REPLY_WAITS);
  if (!s) return -1;
  STORE_BIND(s, SQL_INT(bot_id), SQL_INT(first), SQL_INT(since), SQL_INT(limit));
  int rc;
  while ((rc = sql_step(s)) == SQL_ROW)
    if (!sql_column_is_null(s, 0)) fn(ud, sql_column_int(s, 0));
  return store_step_end(st, s, rc, "cannot read how long fans waited") < 0 ? -1 : 0;
}

/* search as a LIKE pattern that finds it anywhere: %, _ and \ escaped */
static char *like_pattern(const char *search) {
  buf b = {0};
  buf_add(&b, "%", 1);
  for (const char *p = search; *p; p++) {
    if (*p == '%' || *p == '_' || *p == '\\') buf_add(&b, "\\", 1);
    buf_add(&b, p, 1);
  }
  buf_add(&b, "%", 1);
  return b.data;
}

int store_inbox_each(store_reader *rd, int64_t bot_id, const inbox_query *q, inbox_fn fn,
                     void *ud) {
  store *st = reader_store(rd);
  int pg = sql_kind_of(st->sql) == SQL_POSTGRES;
  json_t *seg = q->segment ? json_loads(q->segment, 0, NULL) : NULL;
  sql_stmt *s, *own = NULL; /* a segment's statement is made for it */
  if (seg) {
    if (store_read_wanted(st)) return -1;
    const char *text = query_text(sql_kind_of(st->sql), K_INBOX);
    buf sql = {0};
    buf_add(&sql, text, strlen(text) - strlen(INBOX_ORDER));
    store_segment_where(&sql, seg, pg, 9);
    buf_puts(&sql, INBOX_ORDER);
    s = own = sql_prepare(st->sql, sql.data);
    buf_free(&sql);
    if (!s) {
      json_decref(seg);
      return store_fail(st, "cannot read the inbox");
    }
  } else if (!(s = query(st, K_INBOX))) {
    return -1;
  }
  char *pattern = q->search && *q->search ? like_pattern(q->search) : NULL;
  STORE_BIND(s, SQL_INT(bot_id), SQL_TEXT(pattern), SQL_TEXT(q->tag && *q->tag ? q->tag : NULL),
             SQL_INT(q->before), SQL_INT(q->limit), SQL_INT(q->needs_person),
             SQL_TEXT(q->field && *q->field ? q->field : NULL), SQL_TEXT(q->value ? q->value : ""));
  if (seg) store_segment_bind(s, seg, pg, 9);
  int rc;
  while ((rc = sql_step(s)) == SQL_ROW) {
    inbox_row r = {
        .contact_id = sql_column_int(s, 0),
        .number = sql_column_text(s, 1),
        .status = sql_column_text(s, 2),
        .name = sql_column_text(s, 3),
        .tags = sql_column_text(s, 4),
        .message_id = sql_column_int(s, 5),
        .direction = sql_column_text(s, 6),
        .text = sql_column_text(s, 7),
        .message_status = sql_column_text(s, 8),
        .at = sql_column_int(s, 9),
        .unread = sql_column_int(s, 10),
        .handoff = sql_column_text(s, 11),
    };
    fn(ud, &r);
  }
  free(pattern);
  json_decref(seg);
  if (own) {
    sql_finalize(own);
    return rc == SQL_DONE ? 0 : store_fail(st, "cannot read the inbox");
  }
  return store_step_end(st, s, rc, "cannot read the inbox") < 0 ? -1 : 0;
}
