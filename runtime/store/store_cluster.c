/* store_cluster: the cluster's tables (see store_cluster.h), on the
 * schema store_schema_pg.c makes. Statements are prepared on first use
 * into st->cluster. */
#include "store_cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

enum {
  C_CLAIM_IDS,
  C_NODE_BUSY,
  C_NODE_JOIN,
  C_NODE_RENEW,
  C_NODE_LEAVE,
  C_NODES_EXPIRE,
  C_NODES_LIVE,
  C_HELD,
  C_CLAIM,
  C_RELEASE,
  C_INBOX_ADD,
  C_INBOX_DONE,
  C_INBOX_DROP,
  C_INBOX_OPEN,
  C_INBOX_RESULTS,
  C_INBOX_ABANDON,
  C_INBOX_FORGET,
  C_INBOX_SWEEP,
  C_INBOX_NOTIFY,
  C_CONTACTS_NOTIFY,
  C_SECRET,
  C_HOLDERS,
  C_COUNT
};
_Static_assert((int)C_COUNT <= (int)STORE_CLUSTER_QUERIES,
               "store_internal.h: raise STORE_CLUSTER_QUERIES");

/* ?N * interval '1 millisecond' after the server's clock now */
#define IN_MS(n) "clock_timestamp() + " n " * interval '1 millisecond'"

static const char *const queries[C_COUNT] = {
    [C_CLAIM_IDS] = "UPDATE parley_ids SET next = next + ?2 WHERE name = ?1"
                    " RETURNING next - ?2",
    /* a row of that id whose run is alive: its connection open, its lease running */
    [C_NODE_BUSY] = "SELECT 1 FROM parley_nodes n WHERE node_id = ?1"
                    " AND expires_at > clock_timestamp()"
                    " AND EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = n.backend_pid)",
    [C_NODE_JOIN] =
        "INSERT INTO parley_nodes(node_id, fence, expires_at, started_at, backend_pid, address)"
        " VALUES(?1, nextval('parley_fence'), " IN_MS("?2") ", clock_timestamp(),"
        " pg_backend_pid(), ?3) ON CONFLICT (node_id) DO UPDATE SET fence = excluded.fence,"
        " expires_at = excluded.expires_at, started_at = excluded.started_at,"
        " backend_pid = excluded.backend_pid, address = excluded.address RETURNING fence",
    [C_NODE_RENEW] = "UPDATE parley_nodes SET expires_at = " IN_MS("?3")
                     " WHERE node_id = ?1 AND fence = ?2",
    [C_NODE_LEAVE] = "DELETE FROM parley_nodes WHERE node_id = ?1 AND fence = ?2",
    [C_NODES_EXPIRE] = "DELETE FROM parley_nodes WHERE expires_at < clock_timestamp()",
    [C_NODES_LIVE] = "SELECT count(*) FROM parley_nodes WHERE expires_at >= clock_timestamp()",
    [C_HELD] = "SELECT partition FROM parley_partitions WHERE node_id = ?1 AND fence = ?2",
    /* free: no live row for the run it names; SKIP LOCKED: two nodes
     * claiming at once take different ones */
    [C_CLAIM] = "UPDATE parley_partitions SET node_id = ?1, fence = ?2, since = clock_timestamp()"
                " WHERE partition IN (SELECT p.partition FROM parley_partitions p"
                " WHERE NOT EXISTS (SELECT 1 FROM parley_nodes n"
                " WHERE n.node_id = p.node_id AND n.fence = p.fence)"
                " ORDER BY p.partition LIMIT ?3 FOR UPDATE SKIP LOCKED)"
                " AND EXISTS (SELECT 1 FROM parley_nodes WHERE node_id = ?1 AND fence = ?2)"
                " RETURNING partition",
    [C_RELEASE] = "UPDATE parley_partitions SET node_id = NULL, fence = NULL, since = NULL"
                  " WHERE node_id = ?1 AND fence = ?2 AND partition = ?3",
    [C_INBOX_ADD] = "INSERT INTO parley_inbox(ticket, partition, bot_id, item, reply_until,"
                    " inline_max, state) VALUES(?1, ?2, ?3, ?4, " IN_MS("CAST(?5 AS BIGINT)") ", ?6,"
                    " CASE WHEN CAST(?5 AS BIGINT) IS NULL THEN 'new' ELSE 'waiting' END)"
                    " ON CONFLICT (ticket) DO NOTHING",
    /* an item added for a waiting webhook, done, in one statement: it
     * keeps its replies for its taker, who is told (its ticket's prefix
     * names the run); if the taker gave up waiting, its inline replies are
     * queued for the provider instead, and the row (done, without
     * replies) goes with the sweep. The taker's abandon racing this:
     * PostgreSQL evaluates the UPDATE again on the row's new version, so
     * one of the two outcomes holds, never neither */
    [C_INBOX_DONE] = "WITH m AS (UPDATE parley_inbox SET state = 'done',"
                     " replies = CASE state WHEN 'waiting' THEN CAST(?2 AS TEXT) END,"
                     " reply_ids = CASE state WHEN 'waiting' THEN CAST(?3 AS TEXT) END,"
                     " done_at = clock_timestamp() WHERE id = ?1"
                     " RETURNING replies IS NOT NULL AS waited, ticket),"
                     " q AS (UPDATE messages SET status = 'queued' WHERE status = 'sent'"
                     " AND id = ANY(ARRAY(SELECT CAST(value AS BIGINT) FROM"
                     " json_array_elements_text(CAST(CAST(?3 AS TEXT) AS JSON))))"
                     " AND EXISTS (SELECT 1 FROM m WHERE NOT waited))"
                     " SELECT pg_notify('parley_inbox_done', split_part(ticket, '-', 1))"
                     " FROM m WHERE waited",
    /* one nobody waited for (it cannot come to be waited for) */
    [C_INBOX_DROP] = "DELETE FROM parley_inbox WHERE id = ?1",
    [C_INBOX_OPEN] = "SELECT id, bot_id, partition, inline_max,"
                     " CASE state WHEN 'waiting' THEN GREATEST(0, CAST(1000 * extract(epoch FROM"
                     " reply_until - clock_timestamp()) AS BIGINT)) ELSE 0 END, item,"
                     " state <> 'new' FROM parley_inbox WHERE state IN ('new','waiting','abandoned')"
                     " AND substr(?1, partition + 1, 1) = '1' ORDER BY id LIMIT ?2",
    /* a list of tickets is a JSON array, each looked up in the unique index */
    [C_INBOX_RESULTS] = "SELECT i.ticket, i.state, i.replies, i.reply_ids"
                        " FROM (SELECT DISTINCT jsonb_array_elements_text(CAST(?1 AS jsonb))) t(ticket)"
                        " CROSS JOIN LATERAL (SELECT ticket, state, replies, reply_ids FROM parley_inbox"
                        " WHERE ticket = t.ticket) i",
    [C_INBOX_ABANDON] = "UPDATE parley_inbox SET state = 'abandoned' WHERE ticket = ?1"
                        " AND state = 'waiting'",
    [C_INBOX_FORGET] = "DELETE FROM parley_inbox WHERE state = 'done' AND ticket = ANY(ARRAY("
                            "SELECT jsonb_array_elements_text(CAST(?1 AS jsonb))))",
    [C_INBOX_SWEEP] = "DELETE FROM parley_inbox WHERE state = 'done'"
                      " AND done_at < clock_timestamp() - interval '1 minute'",
    /* told on commit (once per transaction, channel and payload): the
     * nodes listening look at the inbox; the run that took an item done
     * (its ticket's prefix) looks at its waiting webhooks' items */
    [C_INBOX_NOTIFY] = "SELECT pg_notify('parley_inbox', '')",
    /* contacts written outside their holders (an import): every node
     * forgets the contacts it cached */
    [C_CONTACTS_NOTIFY] = "SELECT pg_notify('parley_contacts', '')",
    [C_SECRET] = "SELECT secret FROM parley_cluster LIMIT 1",
    /* the partitions other live runs hold, with where those nodes listen */
    [C_HOLDERS] = "SELECT p.partition, n.address FROM parley_partitions p JOIN parley_nodes n"
                  " ON n.node_id = p.node_id AND n.fence = p.fence WHERE n.node_id <> ?1"
                  " AND n.expires_at > clock_timestamp()",
};

size_t store_cluster_statements(const char **out, size_t cap) {
  size_t n = 0;
  for (int q = 0; q < C_COUNT; q++)
    if (n < cap) out[n++] = queries[q];
  return n;
}

static sql_stmt *query(store *st, int q) {
  if (st->db) {
    snprintf(st->err, sizeof st->err, "%s: a cluster needs PostgreSQL", st->path);
    return NULL;
  }
  if (!st->cluster[q]) {
    if (!(st->cluster[q] = sql_prepare(st->sql, queries[q]))) {
      store_fail(st, "cannot prepare a query");
      return NULL;
    }
    /* the inbox's writes in a journal: nothing of their answer is read */
    if (q >= C_INBOX_ADD && q <= C_INBOX_DROP) sql_set_deferrable(st->cluster[q]);
    if (q == C_INBOX_NOTIFY) sql_set_deferrable(st->cluster[q]);
  }
  sql_reset(st->cluster[q]);
  sql_clear_bindings(st->cluster[q]);
  return st->cluster[q];
}

/* Runs q (bound with v) and reads the first column of its one row into
 * *out: 1 a row, 0 none, -1. */
static int one_int(store *st, int q, const char *what, int64_t *out, const sql_value *v,
                   size_t n) {
  sql_stmt *s = query(st, q);
  if (!s) return -1;
  store_bind_values(s, v, n);
  int rc = sql_step(s);
  if (rc == SQL_ROW && out) *out = sql_column_int(s, 0);
  return store_step_end(st, s, rc, what);
}
#define ONE_INT(st, q, what, out, ...) one_int(st, q, what, out, SQL_VALUES(__VA_ARGS__))

int store_claim_ids(store *st, const char *kind, int64_t n, int64_t *first) {
  int rc = ONE_INT(st, C_CLAIM_IDS, "cannot claim ids", first, SQL_TEXT(kind), SQL_INT(n));
  if (rc == 0) snprintf(st->err, sizeof st->err, "%s: no ids of kind '%s'", st->path, kind);
  return rc == 1 ? 0 : -1;
}

int store_node_join(store *st, const char *node_id, const char *address, long lease_ms,
                    int64_t *fence) {
  int busy = ONE_INT(st, C_NODE_BUSY, "cannot read the nodes", NULL, SQL_TEXT(node_id));
  if (busy) return busy;
  int rc = ONE_INT(st, C_NODE_JOIN, "cannot join the cluster", fence, SQL_TEXT(node_id),
                   SQL_INT(lease_ms), SQL_TEXT(address));
  return rc == 1 ? 0 : -1;
}

int store_node_renew(store *st, const char *node_id, int64_t fence, long lease_ms) {
  sql_stmt *s = query(st, C_NODE_RENEW);
  if (STORE_RUN(st, s, "cannot renew the node's lease", SQL_TEXT(node_id), SQL_INT(fence),
                SQL_INT(lease_ms)))
    return -1;
  return sql_changes(s) == 1 ? 0 : 1;
}

int store_node_leave(store *st, const char *node_id, int64_t fence) {
  return STORE_RUN(st, query(st, C_NODE_LEAVE), "cannot leave the cluster", SQL_TEXT(node_id),
                   SQL_INT(fence));
}

int store_nodes_expire(store *st) {
  sql_stmt *s = query(st, C_NODES_EXPIRE);
  if (STORE_RUN(st, s, "cannot remove expired nodes")) return -1;
  return (int)sql_changes(s);
}

int store_nodes_live(store *st) {
  int64_t n = 0;
  return ONE_INT(st, C_NODES_LIVE, "cannot count the nodes", &n) < 0 ? -1 : (int)n;
}

/* Reads the partition numbers s returns into got; their count, or -1. */
static int read_partitions(store *st, sql_stmt *s, const char *what,
                           unsigned char got[PARTITIONS]) {
  int n = 0, rc;
  while ((rc = sql_step(s)) == SQL_ROW) {
    int64_t p = sql_column_int(s, 0);
    if (p >= 0 && p < PARTITIONS) got[p] = 1, n++;
  }
  return store_step_end(st, s, rc, what) < 0 ? -1 : n;
}

int store_partitions_held(store *st, const char *node_id, int64_t fence,
                          unsigned char held[PARTITIONS]) {
  memset(held, 0, PARTITIONS);
  sql_stmt *s = query(st, C_HELD);
  if (!s) return -1;
  STORE_BIND(s, SQL_TEXT(node_id), SQL_INT(fence));
  return read_partitions(st, s, "cannot read the partitions held", held) < 0 ? -1 : 0;
}

int store_partitions_claim(store *st, const char *node_id, int64_t fence, int max,
                           unsigned char got[PARTITIONS]) {
  memset(got, 0, PARTITIONS);
  if (max <= 0) return 0;
  sql_stmt *s = query(st, C_CLAIM);
  if (!s) return -1;
  STORE_BIND(s, SQL_TEXT(node_id), SQL_INT(fence), SQL_INT(max));
  return read_partitions(st, s, "cannot claim partitions", got);
}

int store_cluster_secret(store *st, char *out, size_t outlen) {
  sql_stmt *s = query(st, C_SECRET);
  if (!s) return -1;
  int rc = sql_step(s);
  const char *secret = rc == SQL_ROW ? sql_column_text(s, 0) : NULL;
  int fits = secret && *secret && strlen(secret) < outlen; /* read before the row goes */
  if (fits) snprintf(out, outlen, "%s", secret);
  if (store_step_end(st, s, rc, "cannot read the cluster's secret") < 0) return -1;
  if (!fits) return store_fail(st, "the cluster's secret (parley_cluster) is missing or too long");
  return 0;
}

int store_partition_holders(store *st, const char *node_id,
                            void (*fn)(void *ud, int partition, const char *address),
                            void *ud) {
  sql_stmt *s = query(st, C_HOLDERS);
  if (!s) return -1;
  STORE_BIND(s, SQL_TEXT(node_id));
  int rc;
  while ((rc = sql_step(s)) == SQL_ROW) {
    int64_t p = sql_column_int(s, 0);
    const char *address = sql_column_text(s, 1);
    if (p >= 0 && p < PARTITIONS) fn(ud, (int)p, address ? address : "");
  }
  return store_step_end(st, s, rc, "cannot read the partitions' holders") < 0 ? -1 : 0;
}

int store_partitions_release(store *st, const char *node_id, int64_t fence,
                             const unsigned char release[PARTITIONS]) {
  if (sql_exec(st->sql, "BEGIN")) return store_fail(st, "cannot release partitions");
  int rc = 0;
  for (int p = 0; p < PARTITIONS && rc == 0; p++)
    if (release[p])
      rc = STORE_RUN(st, query(st, C_RELEASE), "cannot release a partition", SQL_TEXT(node_id),
                     SQL_INT(fence), SQL_INT(p));
  if (rc == 0 && sql_exec(st->sql, "COMMIT")) rc = store_fail(st, "cannot release partitions");
  if (rc) sql_exec(st->sql, "ROLLBACK");
  return rc;
}

/* ---------------------------------------------------------------- the inbox */

/* The inbox's reads go through its indexes, never a whole-table or bitmap
 * scan. The inbox churns thousands of items a second and an autovacuum
 * comes once a minute at most: the table and its indexes hold many dead
 * rows. The plans PostgreSQL keeps for prepared statements were made when
 * the table was small, scanning it whole (auto_explain under
 * bench/cluster.sh: 800 pages for 16 rows, 0.2-3.6 ms a look, the
 * heaviest statements of two nodes); a plain index scan marks the entries
 * of rows gone dead at its first visit and skips them after, where a
 * bitmap scan visits them all each time. Set on the connection that reads
 * the inbox (its other statements read tables of 256 rows or unique
 * keys), run again after a reconnection. With those off, a plan that
 * must scan a table whole (the partitions by node) is priced past
 * jit_above_cost, and PostgreSQL compiled each run of it (80-90 ms for a
 * look at 256 rows, measured with log_min_duration_statement): no JIT on
 * this connection. */
static int inbox_session(store *st) {
  if (st->inbox_session) return 0;
  if (sql_exec(st->sql, "SET enable_seqscan = off") ||
      sql_exec(st->sql, "SET enable_bitmapscan = off") || sql_exec(st->sql, "SET jit = off"))
    return store_fail(st, "cannot set up the inbox's connection");
  st->inbox_session = 1;
  return 0;
}

int store_inbox_add(store *st, const char *ticket, int partition, int64_t bot_id,
                    const char *item, int64_t reply_ms, int inline_max) {
  sql_stmt *s = query(st, C_INBOX_ADD);
  if (!s) return -1;
  STORE_BIND(s, SQL_TEXT(ticket), SQL_INT(partition), SQL_INT(bot_id), SQL_TEXT(item));
  if (reply_ms > 0) sql_bind_int(s, 5, reply_ms);
  else sql_bind_null(s, 5);
  sql_bind_int(s, 6, inline_max);
  if (store_exec_done(st, s, "cannot add to the inbox")) return -1;
  s = query(st, C_INBOX_NOTIFY);
  if (!s) return -1;
  int rc = sql_step(s);
  return store_step_end(st, s, rc, "cannot tell the nodes") < 0 ? -1 : 0;
}

int store_listen(store *st) {
  if (st->db) return 0;
  return sql_exec(st->sql, "LISTEN parley_inbox; LISTEN parley_inbox_done; LISTEN parley_contacts")
             ? store_fail(st, "cannot listen for the inbox")
             : 0;
}

typedef struct news {
  inbox_news_fn fn;
  void *ud;
} news;

static void told(void *ud, const char *channel, const char *payload) {
  news *n = ud;
  int kind = strcmp(channel, "parley_inbox_done") == 0  ? NEWS_INBOX_DONE
             : strcmp(channel, "parley_contacts") == 0 ? NEWS_CONTACTS
                                                        : NEWS_INBOX_ADDED;
  if (n->fn) n->fn(n->ud, kind, payload);
}

int store_contacts_changed(store *st) {
  sql_stmt *s = query(st, C_CONTACTS_NOTIFY);
  if (!s) return -1;
  return store_step_end(st, s, sql_step(s), "cannot tell the nodes") < 0 ? -1 : 0;
}

int store_wait_notify(store *st, int timeout_ms, inbox_news_fn fn, void *ud) {
  news to = {fn, ud};
  int n = sql_wait_notify(st->sql, timeout_ms, told, &to);
  return n < 0 ? store_fail(st, "cannot wait for the inbox") : n;
}

int store_inbox_done(store *st, int64_t id, int waited, const char *replies,
                     const char *reply_ids) {
  if (!waited)
    return STORE_RUN(st, query(st, C_INBOX_DROP), "cannot remove an inbox item", SQL_INT(id));
  sql_stmt *s = query(st, C_INBOX_DONE);
  if (!s) return -1;
  STORE_BIND(s, SQL_INT(id), SQL_TEXT(replies), SQL_TEXT(reply_ids));
  int rc; /* the notification's row, outside a pipeline (deferred: none read) */
  while ((rc = sql_step(s)) == SQL_ROW) {}
  return store_step_end(st, s, rc, "cannot mark an inbox item done");
}

int store_inbox_open(store_reader *rd, const char *partitions, int limit,
                     void (*fn)(void *ud, const inbox_item *it), void *ud) {
  store *st = reader_store(rd);
  if (inbox_session(st)) return -1;
  sql_stmt *s = query(st, C_INBOX_OPEN);
  if (!s) return -1;
  STORE_BIND(s, SQL_TEXT(partitions), SQL_INT(limit));
  int n = 0, rc;
  while ((rc = sql_step(s)) == SQL_ROW) {
    inbox_item it = {.id = sql_column_int(s, 0), .bot_id = sql_column_int(s, 1),
                     .partition = (int)sql_column_int(s, 2),
                     .inline_max = (int)sql_column_int(s, 3),
                     .reply_ms = sql_column_int(s, 4), .item = sql_column_text(s, 5),
                     .waited = (int)sql_column_int(s, 6)};
    fn(ud, &it);
    n++;
  }
  return store_step_end(st, s, rc, "cannot read the inbox") < 0 ? -1 : n;
}

int store_inbox_results(store *st, const char *const *tickets, size_t n, inbox_result_fn fn,
                        void *ud) {
  if (!n) return 0;
  if (inbox_session(st)) return -1;
  char *list = store_json_list(tickets, n);
  sql_stmt *s = list ? query(st, C_INBOX_RESULTS) : NULL;
  if (!s) {
    free(list);
    return list ? -1 : store_fail(st, "cannot list tickets");
  }
  STORE_BIND(s, SQL_TEXT(list));
  int rc;
  while ((rc = sql_step(s)) == SQL_ROW)
    fn(ud, sql_column_text(s, 0), sql_column_text(s, 1), sql_column_text(s, 2),
       sql_column_text(s, 3));
  free(list);
  return store_step_end(st, s, rc, "cannot read inbox items") < 0 ? -1 : 0;
}

int store_inbox_forget_many(store *st, const char *const *tickets, size_t n) {
  if (!n) return 0;
  if (inbox_session(st)) return -1;
  char *list = store_json_list(tickets, n);
  if (!list) return store_fail(st, "cannot list tickets");
  int rc = STORE_RUN(st, query(st, C_INBOX_FORGET), "cannot remove inbox items",
                     SQL_TEXT(list));
  free(list);
  return rc;
}

int store_inbox_abandon(store *st, const char *ticket) {
  if (inbox_session(st)) return -1;
  sql_stmt *s = query(st, C_INBOX_ABANDON);
  if (STORE_RUN(st, s, "cannot give up an inbox item", SQL_TEXT(ticket))) return -1;
  return sql_changes(s) == 1;
}

int store_inbox_sweep(store *st) {
  return STORE_RUN(st, query(st, C_INBOX_SWEEP), "cannot sweep the inbox");
}
