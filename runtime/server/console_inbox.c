/* console_inbox: the console's inbox (GET /v1/bots/BOT/conversations,
 * docs/console.md): a bot's conversations, the one with the latest message
 * first, a page at a time, searched and filtered (store_inbox_each). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_internal.h"
#include "log.h"
#include "store_console.h"
#include "util.h"

static void add_conversation(void *ud, const inbox_row *r) {
  json_t *tags = json_loads(r->tags ? r->tags : "[]", 0, NULL);
  json_t *handoff = r->handoff ? json_loads(r->handoff, 0, NULL) : NULL;
  json_array_append_new(
      ud, json_pack("{s:s, s:s?, s:s, s:o, s:I, s:o, s:{s:s, s:s, s:s, s:I}}", "number",
                    r->number, "name", r->name, "status", r->status, "tags",
                    tags ? tags : json_array(), "unread", (json_int_t)r->unread, "handoff",
                    handoff ? handoff : json_null(), "last", "direction", r->direction, "text",
                    r->text, "status", r->message_status, "at", (json_int_t)(r->at / 1000)));
}

struct page {
  json_t *list;
  int64_t last; /* the last row's last message: the next page's cursor */
};

static void add_page_row(void *ud, const inbox_row *r) {
  struct page *p = ud;
  add_conversation(p->list, r);
  p->last = r->message_id;
}

void console_inbox(server *s, job *j, bot *b) {
  const char *search = json_string_value(json_object_get(j->query, "search"));
  const char *tag = json_string_value(json_object_get(j->query, "tag"));
  const char *before = json_string_value(json_object_get(j->query, "before"));
  const char *limit = json_string_value(json_object_get(j->query, "limit"));
  const char *needs = json_string_value(json_object_get(j->query, "needs_person"));
  const char *field = json_string_value(json_object_get(j->query, "field"));
  const char *value = json_string_value(json_object_get(j->query, "value"));
  inbox_query q = {.search = search, .tag = tag, .limit = 50,
                   .needs_person = needs && strcmp(needs, "1") == 0, .field = field,
                   .value = value};
  const char *segment_arg = json_string_value(json_object_get(j->query, "segment"));
  char *segment = NULL;
  if (segment_arg) { /* the same segment as the contacts' and broadcasts' */
    json_t *seg = json_loads(segment_arg, 0, NULL);
    const char *problem = json_is_object(seg) ? NULL : "segment must be a JSON object";
    if (!problem) segment = admin_segment(seg, &problem);
    json_decref(seg);
    if (problem) {
      job_answer_error(j, 400, problem);
      return;
    }
    q.segment = segment;
  }
  if (field && (!*field || strlen(field) > 64 ||
                strspn(field, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") !=
                    strlen(field))) {
    job_answer_error(j, 400, "field is a field's name: letters, digits and _");
    free(segment);
    return;
  }
  long long n = 0, cursor = 0;
  char end;
  if (limit && (sscanf(limit, "%lld%c", &n, &end) != 1 || n < 1 || n > 500)) {
    job_answer_error(j, 400, "limit must be a whole number from 1 to 500");
    free(segment);
    return;
  }
  if (before && (sscanf(before, "%lld%c", &cursor, &end) != 1 || cursor <= 0)) {
    job_answer_error(j, 400, "before must be the cursor a page gave as next");
    free(segment);
    return;
  }
  if (limit) q.limit = (long)n;
  q.before = cursor;
  struct page p = {json_array(), 0};
  int failed = store_inbox_each(engine_store(s->e), bot_id(b), &q, add_page_row, &p);
  free(segment);
  if (failed) {
    log_event(LOG_ERROR, "store_failed", "error", store_error(engine_store(s->e)), NULL);
    json_decref(p.list);
    job_answer_error(j, 503, "the store failed; retry later");
    return;
  }
  char next[24]; /* a full page: there may be more after its last row */
  snprintf(next, sizeof next, "%lld", (long long)p.last);
  int full = json_array_size(p.list) == (size_t)q.limit;
  job_answer(j, 200, json_pack("{s:o, s:s?}", "conversations", p.list, "next",
                               full ? next : NULL));
}

