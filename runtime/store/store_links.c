/* store_links: tracked links and their clicks (store_links.h), on the
 * schema store.c owns (version 17: links, clicks). */
#include "store_links.h"

#include <stdlib.h>

#include "store_internal.h"
#include "util.h"

enum {
  K_LINK_ADD,
  K_CLICK_ADD,
  K_LINK_FIND,
  K_LINK_STATS,
  K_CLICKS,
  K_BROADCAST_CLICKS,
  K_LINK_LATEST,
  K_COUNT
};
_Static_assert((int)K_COUNT <= (int)STORE_LINK_QUERIES,
               "store_internal.h: raise STORE_LINK_QUERIES");

static const char *const queries[K_COUNT] = {
    [K_LINK_ADD] = "INSERT INTO links(bot_id, contact_id, message_id, code, url, created_at)"
                   " VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
    [K_CLICK_ADD] = "INSERT INTO clicks(bot_id, link_id, contact_id, at, user_agent, is_bot)"
                    " VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
    [K_LINK_FIND] =
        "SELECT l.id, l.bot_id, l.contact_id, coalesce(l.message_id, 0), l.created_at, l.code,"
        " l.url, b.name, c.number FROM links l JOIN bots b ON b.id = l.bot_id"
        " JOIN contacts c ON c.id = l.contact_id WHERE l.code = ?1",
    /* each link's clicks counted first, then its URL's links together */
    [K_LINK_STATS] =
        "SELECT l.url, sum(CASE WHEN l.message_id IS NULL THEN 0 ELSE 1 END),"
        " coalesce(sum(k.people), 0),"
        " count(DISTINCT CASE WHEN k.people > 0 THEN l.contact_id END),"
        " coalesce(sum(k.programs), 0), coalesce(max(k.last_at), 0)"
        " FROM links l LEFT JOIN (SELECT link_id, sum(1 - is_bot) AS people,"
        " sum(is_bot) AS programs, max(CASE WHEN is_bot = 0 THEN at END) AS last_at"
        " FROM clicks WHERE bot_id = ?1 GROUP BY link_id) k ON k.link_id = l.id"
        " WHERE l.bot_id = ?1 GROUP BY l.url ORDER BY max(l.id) DESC LIMIT ?2",
    [K_CLICKS] =
        "SELECT k.id, k.link_id, k.contact_id, k.at, k.user_agent, k.is_bot, c.number, l.url,"
        " coalesce(l.message_id, 0) FROM clicks k JOIN links l ON l.id = k.link_id"
        " JOIN contacts c ON c.id = k.contact_id WHERE k.bot_id = ?1"
        " AND (CAST(?2 AS TEXT) IS NULL OR l.url = ?2)"
        " AND (CAST(?3 AS BIGINT) = 0 OR k.contact_id = ?3)"
        " AND (CAST(?4 AS BIGINT) = 0 OR k.id < ?4) ORDER BY k.id DESC LIMIT ?5",
    [K_BROADCAST_CLICKS] =
        "SELECT count(*), count(DISTINCT k.contact_id) FROM messages m"
        " JOIN links l ON l.message_id = m.id JOIN clicks k ON k.link_id = l.id"
        " WHERE m.broadcast_id = ?1 AND k.is_bot = 0",
    [K_LINK_LATEST] =
        "SELECT l.id, l.bot_id, l.contact_id, coalesce(l.message_id, 0), l.created_at, l.code,"
        " l.url, b.name, c.number FROM links l JOIN bots b ON b.id = l.bot_id"
        " JOIN contacts c ON c.id = l.contact_id WHERE l.bot_id = ?1 AND c.bot_id = ?1"
        " AND c.number = ?2 AND l.url = ?3 ORDER BY l.id DESC LIMIT 1",
};

size_t store_link_statements(const char **out, size_t cap) {
  size_t n = 0;
  for (int q = 0; q < K_COUNT; q++)
    if (n < cap) out[n++] = queries[q];
  return n;
}

static sql_stmt *query(store *st, int q) {
  return store_cached(st, &st->links[q], queries[q]);
}

void link_row_free(link_row *r) {
  free(r->code);
  free(r->url);
  free(r->bot);
  free(r->number);
  *r = (link_row){0};
}

int store_link_add(store *st, const link_row *l) {
  sql_stmt *s = query(st, K_LINK_ADD);
  if (!s) return -1;
  STORE_BIND(s, SQL_INT(l->bot_id), SQL_INT(l->contact_id), SQL_INT(l->message_id),
             SQL_TEXT(l->code), SQL_TEXT(l->url), SQL_INT(l->created_at));
  if (!l->message_id) sql_bind_null(s, 3);
  return store_exec_done(st, s, "cannot record a link");
}

int store_click_add(store *st, const click_row *c) {
  return STORE_RUN(st, query(st, K_CLICK_ADD), "cannot record a click", SQL_INT(c->bot_id),
                   SQL_INT(c->link_id), SQL_INT(c->contact_id), SQL_INT(c->at),
                   SQL_TEXT(c->user_agent ? c->user_agent : ""), SQL_INT(c->is_bot != 0));
}

static int link_read(store *st, sql_stmt *s, link_row *out) {
  int rc = sql_step(s);
  if (rc == SQL_ROW)
    STORE_COLUMNS(s, SQL_OUT(&out->id), SQL_OUT(&out->bot_id), SQL_OUT(&out->contact_id),
                  SQL_OUT(&out->message_id), SQL_OUT(&out->created_at), SQL_OUT(&out->code),
                  SQL_OUT(&out->url), SQL_OUT(&out->bot), SQL_OUT(&out->number));
  return store_step_end(st, s, rc, "cannot read a link");
}

int store_link_find(store_reader *rd, const char *code, link_row *out) {
  store *st = reader_store(rd);
  *out = (link_row){0};
  sql_stmt *s = query(st, K_LINK_FIND);
  if (!s) return -1;
  STORE_BIND(s, SQL_TEXT(code));
  return link_read(st, s, out);
}

int store_link_latest(store_reader *rd, int64_t bot_id, const char *number, const char *url,
                      link_row *out) {
  store *st = reader_store(rd);
  *out = (link_row){0};
  sql_stmt *s = query(st, K_LINK_LATEST);
  if (!s) return -1;
  STORE_BIND(s, SQL_INT(bot_id), SQL_TEXT(number), SQL_TEXT(url));
  return link_read(st, s, out);
}

int store_link_stats(store_reader *rd, int64_t bot_id, long limit, link_stat_fn fn, void *ud) {
  store *st = reader_store(rd);
  sql_stmt *s = query(st, K_LINK_STATS);
  if (!s) return -1;
  STORE_BIND(s, SQL_INT(bot_id), SQL_INT(limit));
  int rc;
  while ((rc = sql_step(s)) == SQL_ROW)
    fn(ud, &(link_stat){.url = sql_column_text(s, 0), .sent = sql_column_int(s, 1),
                        .clicks = sql_column_int(s, 2), .people = sql_column_int(s, 3),
                        .bot_clicks = sql_column_int(s, 4), .last_click = sql_column_int(s, 5)});
  return store_step_end(st, s, rc, "cannot read the links") < 0 ? -1 : 0;
}

int store_clicks_each(store_reader *rd, int64_t bot_id, const char *url, int64_t contact_id,
                      int64_t before, long limit, click_fn fn, void *ud) {
  store *st = reader_store(rd);
  sql_stmt *s = query(st, K_CLICKS);
  if (!s) return -1;
  STORE_BIND(s, SQL_INT(bot_id), SQL_TEXT(url), SQL_INT(contact_id), SQL_INT(before),
             SQL_INT(limit));
  int rc;
  while ((rc = sql_step(s)) == SQL_ROW)
    fn(ud, &(click_row){.id = sql_column_int(s, 0), .bot_id = bot_id,
                        .link_id = sql_column_int(s, 1), .contact_id = sql_column_int(s, 2),
                        .at = sql_column_int(s, 3), .user_agent = sql_column_text(s, 4),
                        .is_bot = (int)sql_column_int(s, 5), .number = sql_column_text(s, 6),
                        .url = sql_column_text(s, 7), .message_id = sql_column_int(s, 8)});
  return store_step_end(st, s, rc, "cannot read the clicks") < 0 ? -1 : 0;
}

int store_broadcast_clicks(store_reader *rd, int64_t broadcast_id, int64_t *clicks,
                           int64_t *people) {
  store *st = reader_store(rd);
  sql_stmt *s = query(st, K_BROADCAST_CLICKS);
  if (!s) return -1;
  STORE_BIND(s, SQL_INT(broadcast_id));
  int rc = sql_step(s);
  *clicks = *people = 0;
  if (rc == SQL_ROW) STORE_COLUMNS(s, SQL_OUT(clicks), SQL_OUT(people));
  return store_step_end(st, s, rc, "cannot count a broadcast's clicks") < 0 ? -1 : 0;
}
