/* scheduler: when recurring timers come due and when quiet hours end, in a
 * recipient's own time zone (through clock.c and ICU, DST-correct).
 *
 * Schedules: "daily 09:00", "mon 10:00" (mon..sun or monday..sunday),
 * "weekdays 08:30", "weekends 11:00", "every 15m" (any duration). */
#ifndef PARLEY_SCHEDULER_H
#define PARLEY_SCHEDULER_H

#include <stddef.h>
#include <stdint.h>

typedef struct schedule {
  int days;          /* bit d set: weekday d (0 = Sunday) */
  int hour, minute;  /* wall clock, for day-based schedules */
  int64_t every_ms;  /* > 0: a fixed interval instead */
} schedule;

int schedule_parse(const char *spec, schedule *out, char *err, size_t errlen);
/* The first time the schedule fires strictly after `after` (ms), in zone. */
int64_t schedule_next(const schedule *s, int64_t after, const char *zone);

typedef struct quiet_hours {
  int start, end; /* minutes after midnight; start == end: none */
} quiet_hours;

/* "21:00", "09:00" -> 1260, 540 */
int quiet_parse(const char *start, const char *end, quiet_hours *q, char *err,
                size_t errlen);
/* 0 if `at` is outside the quiet window in zone; else the moment the window
 * ends there (crossing midnight where it does). */
int64_t quiet_release(const quiet_hours *q, int64_t at, const char *zone);

#endif
