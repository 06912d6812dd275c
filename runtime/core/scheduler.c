#include "scheduler.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "clock.h"

static int parse_hhmm(const char *s, int *h, int *m) {
  int used = 0;
  if (sscanf(s, "%2d:%2d%n", h, m, &used) != 2 || s[used] || *h < 0 || *h > 23 ||
      *m < 0 || *m > 59)
    return -1;
  return 0;
}

static const char *const day_names[7][2] = {
    {"sun", "sunday"},   {"mon", "monday"}, {"tue", "tuesday"},
    {"wed", "wednesday"}, {"thu", "thursday"}, {"fri", "friday"},
    {"sat", "saturday"}};

int schedule_parse(const char *spec, schedule *out, char *err, size_t errlen) {
  *out = (schedule){0};
  char word[32], rest[32];
  int used = 0;
  if (sscanf(spec, " %31s %31s %n", word, rest, &used) == 2 && strcasecmp(word, "every") == 0) {
    out->every_ms = clock_parse_duration(rest);
    if (out->every_ms >= 60000 && spec[used] == 0) return 0;
    snprintf(err, errlen, "'%s' is not a schedule: 'every' takes a duration of a "
                          "minute or more, like 'every 15m'", spec);
    return -1;
  }
  int n = sscanf(spec, "%31s %31s", word, rest);
  int extra = 0;
  if (n == 2) {
    char tail[8];
    extra = sscanf(spec, "%*s %*s %7s", tail) == 1;
  }
  if (n == 2 && !extra && parse_hhmm(rest, &out->hour, &out->minute) == 0) {
    if (strcasecmp(word, "daily") == 0) out->days = 0x7f;
    else if (strcasecmp(word, "weekdays") == 0) out->days = 0x3e;
    else if (strcasecmp(word, "weekends") == 0) out->days = 0x41;
    for (int d = 0; d < 7 && !out->days; d++)
      if (strcasecmp(word, day_names[d][0]) == 0 || strcasecmp(word, day_names[d][1]) == 0)
        out->days = 1 << d;
    if (out->days) return 0;
  }
  snprintf(err, errlen, "'%s' is not a schedule (use 'daily 09:00', 'mon 10:00', "
                        "'weekdays 08:30', 'weekends 11:00' or 'every 15m')", spec);
  return -1;
}

int64_t schedule_next(const schedule *s, int64_t after, const char *zone) {
  if (s->every_ms > 0) return after + s->every_ms;
  local_time today = clock_to_local(after, zone);
  local_time at = today;
  at.hour = s->hour;
  at.minute = s->minute;
  for (int k = 0; k <= 8; k++) {
    int weekday = (today.weekday + k) % 7;
    if (!(s->days & (1 << weekday))) continue;
    int64_t t = clock_from_local(&at, k, zone);
    if (t > after) return t;
  }
  return after + 7 * 86400 * 1000LL; /* unreachable with a valid schedule */
}

int quiet_parse(const char *start, const char *end, quiet_hours *q, char *err,
                size_t errlen) {
  int h1, m1, h2, m2;
  if (parse_hhmm(start, &h1, &m1) || parse_hhmm(end, &h2, &m2)) {
    snprintf(err, errlen, "quiet_hours {'%s', '%s'}: times are HH:MM, like "
                          "{'21:00', '09:00'}", start, end);
    return -1;
  }
  q->start = h1 * 60 + m1;
  q->end = h2 * 60 + m2;
  return 0;
}

int64_t quiet_release(const quiet_hours *q, int64_t at, const char *zone) {
  if (q->start == q->end) return 0;
  local_time t = clock_to_local(at, zone);
  int m = t.hour * 60 + t.minute;
  int quiet = q->start < q->end ? (m >= q->start && m < q->end)
                                : (m >= q->start || m < q->end);
  if (!quiet) return 0;
  local_time end = t;
  end.hour = q->end / 60;
  end.minute = q->end % 60;
  /* the end is today if it is still ahead, else tomorrow */
  int64_t release = clock_from_local(&end, 0, zone);
  if (release <= at) release = clock_from_local(&end, 1, zone);
  return release;
}
