/* console_numbers: numbers at a glance (GET /v1/bots/BOT/stats,
 * docs/console.md): a bot's messages by the hour and the day, its delivery
 * rate, opt-ins and opt-outs, handler errors, and how long fans waited for
 * an answer. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_internal.h"
#include "log.h"
#include "store_console.h"
#include "util.h"

enum { HOUR_MS = 3600000, DAY_MS = 86400000, HOURS_SHOWN = 48 };

struct buckets {
  int64_t first, bucket_ms;
  json_t *list; /* one object a bucket, every kind at 0 to begin with */
};

static void count_in_bucket(void *ud, int64_t start, const char *kind, int64_t count) {
  struct buckets *b = ud;
  int64_t i = (start - b->first) / b->bucket_ms;
  json_t *o = json_array_get(b->list, (size_t)i);
  if (i < 0 || !o || !json_object_get(o, kind)) return; /* before the first, or not shown */
  json_object_set_new(o, kind, json_integer(json_integer_value(json_object_get(o, kind)) + count));
}

static json_t *empty_buckets(int64_t first, int64_t bucket_ms, int n, const char *const *kinds) {
  json_t *list = json_array();
  for (int i = 0; i < n; i++) {
    json_t *o = json_pack("{s:I}", "at", (json_int_t)((first + i * bucket_ms) / 1000));
    for (const char *const *k = kinds; *k; k++) json_object_set_new(o, *k, json_integer(0));
    json_array_append_new(list, o);
  }
  return list;
}

static int by_value(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

struct waits {
  int64_t *v;
  size_t n, cap;
};

static void add_wait(void *ud, int64_t ms) {
  struct waits *w = ud;
  if (w->n == w->cap) w->v = xrealloc(w->v, (w->cap = w->cap ? 2 * w->cap : 256) * sizeof *w->v);
  w->v[w->n++] = ms < 0 ? 0 : ms;
}

/* GET /v1/bots/BOT/stats?days=7&offset=-300: the last 48 hours by the
 * hour, the last `days` days (1 to 31) by the day in the viewer's zone
 * (offset: minutes east of UTC, -840 to 840), the delivery rate and how
 * long fans waited for an answer over those days. */
void console_numbers(server *s, job *j, bot *b) {
  const char *days_arg = json_string_value(json_object_get(j->query, "days"));
  const char *offset_arg = json_string_value(json_object_get(j->query, "offset"));
  long long days = 7, offset = 0;
  char end;
  if ((days_arg && (sscanf(days_arg, "%lld%c", &days, &end) != 1 || days < 1 || days > 31)) ||
      (offset_arg &&
       (sscanf(offset_arg, "%lld%c", &offset, &end) != 1 || offset < -840 || offset > 840))) {
    job_answer_error(j, 400, "days is 1 to 31, offset the minutes east of UTC (-840 to 840)");
    return;
  }
  int64_t now = engine_now(s->e), off = offset * 60000;
  int64_t hours_first = ((now + off) / HOUR_MS - (HOURS_SHOWN - 1)) * HOUR_MS - off;
  int64_t days_first = ((now + off) / DAY_MS - (days - 1)) * DAY_MS - off;
  static const char *const hour_kinds[] = {"in", "out", NULL};
  static const char *const day_kinds[] = {"in",     "out",   "delivered", "undelivered", "failed",
                                          "optin", "optout", "error",     NULL};
  struct buckets hours = {hours_first, HOUR_MS, empty_buckets(hours_first, HOUR_MS, HOURS_SHOWN,
                                                              hour_kinds)};
  struct buckets by_day = {days_first, DAY_MS,
                           empty_buckets(days_first, DAY_MS, (int)days, day_kinds)};
  struct waits w = {0};
  store_reader *rd = engine_store(s->e);
  if (store_bot_stats(rd, bot_id(b), hours_first, HOUR_MS, off, count_in_bucket, &hours) ||
      store_bot_stats(rd, bot_id(b), days_first, DAY_MS, off, count_in_bucket, &by_day) ||
      store_reply_waits(rd, bot_id(b), days_first, 10000, add_wait, &w)) {
    log_event(LOG_ERROR, "store_failed", "error", store_error(rd), NULL);
    json_decref(hours.list);
    json_decref(by_day.list);
    free(w.v);
    job_answer_error(j, 503, "the store failed; retry later");
    return;
  }
  int64_t delivered = 0, reported = 0;
  size_t i;
  json_t *o;
  json_array_foreach(by_day.list, i, o) {
    delivered += json_integer_value(json_object_get(o, "delivered"));
    reported += json_integer_value(json_object_get(o, "delivered")) +
                json_integer_value(json_object_get(o, "undelivered")) +
                json_integer_value(json_object_get(o, "failed"));
  }
  qsort(w.v, w.n, sizeof *w.v, by_value);
  json_t *wait = json_pack("{s:I}", "count", (json_int_t)w.n);
  if (w.n) {
    json_object_set_new(wait, "p50_ms", json_integer(w.v[(w.n - 1) / 2]));
    json_object_set_new(wait, "p90_ms", json_integer(w.v[(w.n - 1) * 9 / 10]));
  }
  free(w.v);
  job_answer(j, 200, json_pack("{s:o, s:o, s:o, s:o}", "hours", hours.list, "days", by_day.list,
                               "delivery_rate",
                               reported ? json_real((double)delivered / (double)reported)
                                        : json_null(),
                               "reply_wait", wait));
}

