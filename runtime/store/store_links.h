/* store_links: tracked links and their clicks (store_links.c), on the
 * schema store.c owns (version 17: links, clicks).
 *
 * A link is a short code standing for a URL in one message to one
 * contact ({{link "URL"}}, c:link(url)); a click is a visit to its short
 * URL, with the visitor's user agent, and whether that looks like a
 * program (a link preview, a crawler) rather than a person. */
#ifndef PARLEY_STORE_LINKS_H
#define PARLEY_STORE_LINKS_H

#include <stdint.h>

#include "store.h"

typedef struct link_row {
  int64_t id, bot_id, contact_id;
  int64_t message_id; /* the message it went in; 0: none (made and never sent) */
  int64_t created_at;
  char *code, *url;
  char *bot, *number; /* store_link_find's: its bot's name, its contact's address */
} link_row;
void link_row_free(link_row *r);

typedef struct click_row {
  int64_t id, bot_id, link_id, contact_id, at;
  const char *user_agent; /* "" if none was sent */
  int is_bot;             /* a program's visit (link_agent_is_bot), not a person's */
  /* store_clicks_each's: the link's */
  const char *number, *url;
  int64_t message_id;
} click_row;

/* Writes (the journal's) */
int store_link_add(store *st, const link_row *l);
int store_click_add(store *st, const click_row *c);

/* The link of a code with its bot's name and contact's address: 1 with
 * *out (link_row_free), 0 no such code, -1 on an error. */
int store_link_find(store_reader *rd, const char *code, link_row *out);
/* The newest link to url of the bot's contact number (as store_link_find). */
int store_link_latest(store_reader *rd, int64_t bot_id, const char *number, const char *url,
                      link_row *out);

/* Per URL of a bot's links, the newest first: the links sent (in a
 * message), the clicks of people and the people who clicked (each once),
 * the clicks of programs, the last click of a person (ms; 0: none). */
typedef struct link_stat {
  const char *url;
  int64_t sent, clicks, people, bot_clicks, last_click;
} link_stat;
typedef void (*link_stat_fn)(void *ud, const link_stat *s);
int store_link_stats(store_reader *rd, int64_t bot_id, long limit, link_stat_fn fn, void *ud);

/* A bot's clicks, the newest first: those before the cursor (a click id;
 * 0: from the top), of links to url (NULL: any) and of contact_id (0: any),
 * at most limit. 0 or -1. */
typedef void (*click_fn)(void *ud, const click_row *c);
int store_clicks_each(store_reader *rd, int64_t bot_id, const char *url, int64_t contact_id,
                      int64_t before, long limit, click_fn fn, void *ud);

/* The clicks of people on the links of a broadcast's messages, and how
 * many people made them. 0 or -1. */
int store_broadcast_clicks(store_reader *rd, int64_t broadcast_id, int64_t *clicks,
                           int64_t *people);

#endif
