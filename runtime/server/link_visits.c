/* link_visits: the short links `parley serve` answers (GET /l/CODE: a 302
 * to the link's URL) and the admin API's view of them (GET
 * /v1/bots/BOT/links, /v1/bots/BOT/clicks).
 *
 * A visit is a job (JOB_CLICK): on the engine thread its code's link is
 * read from the store (click_resolve), then the visit goes to the
 * contact's conversation as the event that records it (ENGINE_CLICK_EVENT,
 * on the node holding it, like any event), and the visitor is sent on once
 * it is durable. A link's message went out after the commit that stored
 * the link, so the read needs no flush. An unknown code is 404; a store
 * that fails, or a bot no longer served, still sends the visitor on. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "http_internal.h"
#include "log.h"
#include "store_links.h"

int click_resolve(server *s, job *j) {
  engine_link l;
  char err[512];
  int found = engine_link_find(s->e, j->item, &l, err, sizeof err);
  if (found < 0) {
    log_event(LOG_ERROR, "store_failed", "error", err, NULL);
    job_answer_error(j, 503, "the store failed; retry later");
    return 1;
  }
  if (!found) {
    job_answer_error(j, 404, "no such link");
    return 1;
  }
  j->click_url = xstrdup(l.url);
  if (!engine_find_bot(s->e, l.bot)) { /* not recorded: sent on all the same */
    engine_link_free(&l);
    return 1;
  }
  j->event_data = engine_click_event(&l, j->text, j->click_head);
  j->event_type = xstrdup(ENGINE_CLICK_EVENT);
  free(j->botname);
  j->botname = l.bot;
  free(j->from);
  j->from = l.number;
  l.bot = l.number = NULL;
  free(j->text);
  j->text = xstrdup("");
  engine_link_free(&l);
  j->kind = JOB_EVENT;
  return 0;
}

enum MHD_Result respond_click(struct MHD_Connection *conn, job *j) {
  struct MHD_Response *r = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
  MHD_add_response_header(r, "Location", j->click_url);
  MHD_add_response_header(r, "Cache-Control", "no-store"); /* each visit comes here */
  MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
  enum MHD_Result rc = MHD_queue_response(conn, 302, r);
  MHD_destroy_response(r);
  return rc;
}

/* ---------------------------------------------------------------- the admin API */

static void add_stat(void *ud, const link_stat *st) {
  json_array_append_new(ud, json_pack("{s:s, s:I, s:I, s:I, s:I, s:I}", "url", st->url, "sent",
                                      (json_int_t)st->sent, "clicks", (json_int_t)st->clicks,
                                      "people", (json_int_t)st->people, "bot_clicks",
                                      (json_int_t)st->bot_clicks, "last_click",
                                      (json_int_t)(st->last_click / 1000)));
}

static void add_click(void *ud, const click_row *c) {
  json_array_append_new(ud, json_pack("{s:I, s:s, s:s, s:I, s:I, s:s, s:b}", "id",
                                      (json_int_t)c->id, "number", c->number, "url", c->url,
                                      "message", (json_int_t)c->message_id, "at",
                                      (json_int_t)(c->at / 1000), "user_agent", c->user_agent,
                                      "bot", c->is_bot));
}

void run_links(server *s, job *j, bot *b) {
  long long limit;
  if (job_query_number(j, "limit", 1, 1000, 100, &limit)) {
    job_answer_error(j, 400, "limit must be between 1 and 1000");
    return;
  }
  json_t *list = json_array();
  if (store_link_stats(engine_store(s->e), bot_id(b), (long)limit, add_stat, list)) {
    json_decref(list);
    job_answer_error(j, 500, store_error(engine_store(s->e)));
    return;
  }
  job_answer(j, 200, json_pack("{s:o}", "links", list));
}

void run_clicks(server *s, job *j, bot *b) {
  long long limit, before;
  const char *url = json_string_value(json_object_get(j->query, "url"));
  const char *number = json_string_value(json_object_get(j->query, "number"));
  if (job_query_number(j, "limit", 1, 1000, 100, &limit) ||
      job_query_number(j, "before", 0, INT64_MAX, 0, &before)) {
    job_answer_error(j, 400, "limit must be between 1 and 1000, before a click's id");
    return;
  }
  int64_t contact = 0;
  if (number) { /* the contact's clicks: none for a number the bot does not know */
    contact_row c;
    int found = store_contact_get(engine_store(s->e), bot_id(b), number, &c);
    if (found < 0) {
      job_answer_error(j, 500, store_error(engine_store(s->e)));
      return;
    }
    if (!found) {
      job_answer_error(j, 404, "no such contact");
      return;
    }
    contact = c.id;
    contact_row_free(&c);
  }
  json_t *list = json_array();
  if (store_clicks_each(engine_store(s->e), bot_id(b), url, contact, before, (long)limit,
                        add_click, list)) {
    json_decref(list);
    job_answer_error(j, 500, store_error(engine_store(s->e)));
    return;
  }
  job_answer(j, 200, json_pack("{s:o}", "clicks", list));
}
