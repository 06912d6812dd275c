/* store_outbox: the outbox's queries (see store.h) on the schema store.c
 * owns. The sender runs them on a connection of its own; delivery reports
 * run on the engine's writer. Every status change is a compare-and-set on
 * the status read, so the two never move a message backwards. */
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"
#include "util.h"

enum {
  O_NEXT_SENDER,
  O_DUE,
  O_NEXT_RETRY,
  O_CLAIM,
  O_BROADCAST_SUPPRESSED,
  O_SET_STATUS,
  O_RECOVER,
  O_DEPTH,
  O_UNDELIVERABLE,
  O_GET_BY_ID,
  O_GET_BY_PROVIDER,
  O_BOT_NAME,
  O_CLEAR_EXPECT,
  O_UNCOUNT,
  O_COUNT
};
_Static_assert((int)O_COUNT <= (int)STORE_EXTRA_QUERIES, "store_internal.h: raise STORE_EXTRA_QUERIES");

static const char *const queries[O_COUNT] = {
    /* ?3: the partitions whose numbers this sender sends from (a '1'
     * each), NULL: all */
    [O_NEXT_SENDER] = "SELECT bot_id, sender FROM messages WHERE status = 'queued'"
                      " AND (bot_id, sender) > (?1, ?2) AND (CAST(?3 AS TEXT) IS NULL"
                      " OR substr(?3, parley_partition(bot_id, sender) + 1, 1) = '1')"
                      " ORDER BY bot_id, sender LIMIT 1",
    [O_DUE] = "SELECT id, bot_id, contact_id, number, sender, text, transactional,"
              " priority, coalesce(segments, 1), attempts, media FROM messages"
              " WHERE status = 'queued' AND bot_id = ?1 AND sender = ?2"
              " AND next_attempt_at <= ?3 ORDER BY priority, id LIMIT ?4",
    [O_NEXT_RETRY] = "SELECT min(next_attempt_at) FROM messages WHERE status = 'queued'"
                     " AND next_attempt_at > ?1",
    /* a message that is not transactional, to a contact that opted out
     * since it was queued (on another node, or before its turn came), is
     * suppressed instead */
    [O_CLAIM] = "UPDATE messages SET status = CASE WHEN transactional = 0 AND EXISTS"
                " (SELECT 1 FROM contacts c WHERE c.id = messages.contact_id"
                " AND c.status = 'opted_out') THEN 'suppressed' ELSE 'sending' END,"
                " attempts = attempts + 1, updated_at = ?2 WHERE id = ?1 AND status = 'queued'"
                " RETURNING CASE WHEN status = 'sending' THEN 1 ELSE 0 END,"
                " coalesce(broadcast_id, 0)",
    /* a broadcast's message suppressed when its turn came (O_CLAIM) */
    [O_BROADCAST_SUPPRESSED] = "UPDATE broadcasts SET sent = sent - 1,"
                               " suppressed = suppressed + 1 WHERE id = ?1",
    /* ?2 new status, ?3 the status it must still have, ?4 error (NULL keeps
     * it), ?5 provider id (NULL keeps it), ?6 next attempt (NULL keeps it) */
    [O_SET_STATUS] = "UPDATE messages SET status = ?2, error = coalesce(?4, error),"
                     " provider_id = coalesce(provider_id, ?5),"
                     " next_attempt_at = coalesce(?6, next_attempt_at), updated_at = ?7"
                     " WHERE id = ?1 AND status = ?3",
    /* ?1: claimed before then (0: whenever); ?2 as O_NEXT_SENDER's ?3 */
    [O_RECOVER] = "UPDATE messages SET status = 'queued' WHERE status = 'sending'"
                  /* a time in ms: PostgreSQL takes ?1 = 0 for an integer */
                  " AND (CAST(?1 AS BIGINT) = 0 OR updated_at < CAST(?1 AS BIGINT))"
                  " AND (CAST(?2 AS TEXT) IS NULL"
                  " OR substr(?2, parley_partition(bot_id, sender) + 1, 1) = '1')",
    [O_DEPTH] = "SELECT (SELECT count(*) FROM messages WHERE status = 'queued')"
                " + (SELECT count(*) FROM messages WHERE status = 'sending')",
    [O_UNDELIVERABLE] = "UPDATE contacts SET undeliverable = ?2 WHERE id = ?1",
    [O_GET_BY_ID] = "SELECT id, bot_id, contact_id, number, status, provider_id, text, error"
                    " FROM messages WHERE id = ?1 AND (CAST(?2 AS BIGINT) = 0 OR bot_id = ?2) AND direction = 'out'",
    [O_GET_BY_PROVIDER] =
        "SELECT id, bot_id, contact_id, number, status, provider_id, text, error"
        " FROM messages WHERE bot_id = ?2 AND provider_id = ?1 AND direction = 'out'",
    [O_BOT_NAME] = "SELECT name FROM bots WHERE id = ?1",
    [O_CLEAR_EXPECT] = "UPDATE conversations SET expect = NULL WHERE contact_id = ?1",
    [O_UNCOUNT] = "UPDATE messages SET attempts = CASE WHEN attempts > 0 THEN attempts - 1"
                  " ELSE 0 END WHERE id = ?1",
};

size_t store_outbox_statements(const char **out, size_t cap) {
  size_t n = 0;
  for (int q = 0; q < O_COUNT; q++)
    if (n < cap) out[n++] = queries[q];
  return n;
}

static sql_stmt *query(store *st, int q) {
  if (!st->extra[q] && !(st->extra[q] = sql_prepare(st->sql, queries[q]))) {
    store_fail(st, "cannot prepare a query");
    return NULL;
  }
  sql_reset(st->extra[q]);
  sql_clear_bindings(st->extra[q]);
  return st->extra[q];
}

int store_status_rank(const char *status) {
  static const struct {
    const char *name;
    int rank;
  } ranks[] = {{"queued", 1},  {"sending", 2},     {"sent", 3},   {"delivered", 4},
               {"undelivered", 4}, {"failed", 4}, {"read", 5}};
  for (size_t i = 0; i < sizeof ranks / sizeof *ranks; i++)
    if (strcmp(ranks[i].name, status) == 0) return ranks[i].rank;
  return 0;
}

void outbox_row_free(outbox_row *r) {
  free(r->number);
  free(r->sender);
  free(r->text);
  free(r->media);
}

int store_outbox_next_sender(store_reader *rd, int64_t *bot, char **sender) {
  store *st = reader_store(rd);
  sql_stmt *s = query(st, O_NEXT_SENDER);
  if (!s) return -1;
  sql_bind_int(s, 1, *bot);
  sql_bind_text_copy(s, 2, *sender ? *sender : "");
  store_bind_text(s, 3, st->partitions);
  int rc = sql_step(s);
  if (rc == SQL_ROW) {
    *bot = sql_column_int(s, 0);
    free(*sender);
    *sender = store_col_dup(s, 1);
  }
  return store_step_end(st, s, rc, "cannot read the outbox");
}

int store_outbox_due(store_reader *rd, int64_t bot_id, const char *sender, int64_t now,
                     long limit, outbox_row **out, size_t *n) {
  store *st = reader_store(rd);
  *out = NULL;
  *n = 0;
  sql_stmt *s = query(st, O_DUE);
  if (!s) return -1;
  STORE_BIND(s, SQL_INT(bot_id), SQL_TEXT(sender ? sender : ""), SQL_INT(now),
             SQL_INT(limit));
  int rc;
  size_t cap = 0;
  while ((rc = sql_step(s)) == SQL_ROW) {
    if (*n == cap) {
      cap = cap ? cap * 2 : 16;
      *out = xrealloc(*out, cap * sizeof **out);
    }
    outbox_row *r = &(*out)[(*n)++];
    STORE_COLUMNS(s, SQL_OUT(&r->id), SQL_OUT(&r->bot_id), SQL_OUT(&r->contact_id),
                  SQL_OUT(&r->number), SQL_OUT(&r->sender), SQL_OUT(&r->text),
                  SQL_OUT(&r->transactional), SQL_OUT(&r->priority),
                  SQL_OUT(&r->segments), SQL_OUT(&r->attempts), SQL_OUT(&r->media));
  }
  return store_step_end(st, s, rc, "cannot read the outbox");
}

int64_t store_outbox_next_retry_after(store_reader *rd, int64_t after) {
  store *st = reader_store(rd);
  sql_stmt *s = query(st, O_NEXT_RETRY);
  if (!s) return -1;
  sql_bind_int(s, 1, after);
  int64_t at = sql_step(s) == SQL_ROW ? sql_column_int(s, 0) : 0;
  sql_reset(s);
  return at;
}

int store_outbox_claim(store *st, int64_t id, int64_t now) {
  sql_stmt *s = query(st, O_CLAIM);
  if (!s) return -1;
  STORE_BIND(s, SQL_INT(id), SQL_INT(now));
  int rc = sql_step(s);
  int claimed = rc == SQL_ROW && sql_column_int(s, 0);
  int64_t broadcast = rc == SQL_ROW && !claimed ? sql_column_int(s, 1) : 0;
  if (store_step_end(st, s, rc, "cannot claim a message to send") < 0) return -1;
  if (broadcast && STORE_RUN(st, query(st, O_BROADCAST_SUPPRESSED),
                             "cannot count a suppressed message", SQL_INT(broadcast)))
    return -1;
  return claimed;
}

/* Compare-and-set: to `status` if the message is still `from`. 1 changed,
 * 0 not, -1 error. next_at < 0 keeps the retry time. */
static int set_status(store *st, int64_t id, const char *from, const char *status,
                      const char *error, const char *provider_id, int64_t next_at,
                      int64_t now) {
  sql_stmt *s = query(st, O_SET_STATUS);
  if (!s) return -1;
  STORE_BIND(s, SQL_INT(id), SQL_TEXT(status), SQL_TEXT(from), SQL_TEXT(error),
             SQL_TEXT(provider_id));
  if (next_at >= 0) sql_bind_int(s, 6, next_at);
  sql_bind_int(s, 7, now);
  if (store_exec_done(st, s, "cannot record a message's status")) return -1;
  return sql_changes(s) > 0;
}

int store_outbox_sent(store *st, int64_t id, const char *provider_id, int64_t now) {
  int rc = set_status(st, id, "sending", "sent", NULL, provider_id, -1, now);
  if (rc == 0 && provider_id) {
    /* a delivery report came first: keep its status, add the id */
    outbound_row r;
    int found = store_outbound_get(store_reads(st), 0, id, NULL, &r);
    if (found > 0) {
      rc = set_status(st, id, r.status, r.status, NULL, provider_id, -1, now);
      outbound_row_free(&r);
    }
  }
  return rc < 0 ? -1 : 0;
}

int store_outbox_retry(store *st, int64_t id, int64_t next_at, const char *error,
                       int64_t now) {
  return set_status(st, id, "sending", "queued", error, NULL, next_at, now) < 0 ? -1 : 0;
}

int store_outbox_wait(store *st, int64_t id, int64_t next_at, const char *error, int64_t now) {
  int rc = set_status(st, id, "sending", "queued", error, NULL, next_at, now);
  if (rc <= 0) return rc < 0 ? -1 : 0;
  return STORE_RUN(st, query(st, O_UNCOUNT), "cannot record a message's status",
                   SQL_INT(id));
}

int store_outbox_failed(store *st, int64_t id, const char *error, int64_t now) {
  return set_status(st, id, "sending", "failed", error, NULL, -1, now);
}

long store_outbox_recover(store *st, int64_t before, const char *partitions) {
  sql_stmt *s = query(st, O_RECOVER);
  if (!s) return -1;
  sql_bind_int(s, 1, before);
  store_bind_text(s, 2, partitions);
  if (store_exec_done(st, s, "cannot recover the outbox")) return -1;
  return (long)sql_changes(s);
}

long store_outbox_depth(store_reader *rd) {
  store *st = reader_store(rd);
  sql_stmt *s = query(st, O_DEPTH);
  if (!s) return -1;
  long n = sql_step(s) == SQL_ROW ? (long)sql_column_int(s, 0) : -1;
  sql_reset(s);
  return n;
}

int store_contact_undeliverable(store *st, int64_t contact_id, const char *why) {
  return STORE_RUN(st, query(st, O_UNDELIVERABLE), "cannot mark the contact",
                   SQL_INT(contact_id), SQL_TEXT(why));
}

void outbound_row_free(outbound_row *r) {
  free(r->number);
  free(r->status);
  free(r->provider_id);
  free(r->text);
  free(r->error);
}

int store_outbound_get(store_reader *rd, int64_t bot_id, int64_t id,
                       const char *provider_id, outbound_row *out) {
  store *st = reader_store(rd);
  memset(out, 0, sizeof *out);
  sql_stmt *s = query(st, id > 0 ? O_GET_BY_ID : O_GET_BY_PROVIDER);
  if (!s) return -1;
  if (id > 0) {
    sql_bind_int(s, 1, id);
  } else {
    if (!provider_id) return 0;
    store_bind_text(s, 1, provider_id);
  }
  sql_bind_int(s, 2, bot_id);
  int rc = sql_step(s);
  if (rc == SQL_ROW) {
    STORE_COLUMNS(s, SQL_OUT(&out->id), SQL_OUT(&out->bot_id),
                  SQL_OUT(&out->contact_id), SQL_OUT(&out->number),
                  SQL_OUT(&out->status), SQL_OUT(&out->provider_id),
                  SQL_OUT(&out->text), SQL_OUT(&out->error));
  }
  return store_step_end(st, s, rc, "cannot read a message");
}

int store_delivery_status(store *st, int64_t id, const char *status, const char *error,
                          int64_t now) {
  outbound_row r;
  int found = store_outbound_get(store_reads(st), 0, id, NULL, &r);
  if (found <= 0) return found;
  int rc = 0;
  if (store_status_rank(status) > store_status_rank(r.status))
    rc = set_status(st, id, r.status, status, error, NULL, -1, now);
  outbound_row_free(&r);
  return rc;
}

char *store_bot_name(store_reader *rd, int64_t id) {
  store *st = reader_store(rd);
  sql_stmt *s = query(st, O_BOT_NAME);
  if (!s) return NULL;
  sql_bind_int(s, 1, id);
  char *name = sql_step(s) == SQL_ROW ? store_col_dup(s, 0) : NULL;
  sql_reset(s);
  return name;
}

static int store_conversation_clear_expect(store *st, int64_t contact_id) {
  return STORE_RUN(st, query(st, O_CLEAR_EXPECT), "cannot clear the expect",
                   SQL_INT(contact_id));
}

int store_carrier_optout(store *st, int64_t bot_id, int64_t contact_id, const char *number,
                         const char *reason, int64_t at) {
  contact_row c;
  int found = store_contact_get(store_reads(st), bot_id, number, &c);
  if (found <= 0) return found; /* erased meanwhile */
  int already = strcmp(c.status, "opted_out") == 0;
  contact_row_free(&c);
  if (already) return 0;
  /* like an opt-out by keyword: a pending expect goes too (the engine's
   * cached copy follows when it hears of it) */
  return store_contact_update(st, contact_id, "opted_out", NULL, NULL, NULL) ||
                 store_conversation_clear_expect(st, contact_id) ||
                 store_consent_add(st, bot_id, contact_id, number, "optout", "carrier", reason,
                                   at) ||
                 store_timer_cancel_drips(st, contact_id, NULL)
             ? -1
             : 0;
}
