/* clock: durations ("90s", "2h", "1w") and wall-clock times in named time
 * zones, through ICU's calendar API (the tz database ICU ships). */
#ifndef PARLEY_CLOCK_H
#define PARLEY_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* The latest moment a time input may name: 9999-12-31 23:59:59 UTC, in
 * seconds since 1970 (the earliest is 0). Past it, milliseconds would
 * still fit in 64 bits, but no calendar or provider means anything. */
#define CLOCK_MAX_SECONDS 253402300799LL

/* "90s", "15m", "2h", "3d", "1w", combinations like "1h30m": milliseconds,
 * or -1 when text is not a duration. */
int64_t clock_parse_duration(const char *text);

/* 1 if zone is a time-zone name ICU knows ("America/Chicago", "UTC"). */
int clock_valid_zone(const char *zone);

/* "2026-03-02 10:00" or "2026-03-02 10:00:30" in zone -> ms since epoch.
 * Returns 0, or -1 with a sentence in err. */
int clock_parse_local(const char *datetime, const char *zone, int64_t *out,
                      char *err, size_t errlen);

/* The same; lenient: a wall time a DST change skips (02:30 on a
 * spring-forward night) moves on by the gap (03:30) instead of failing. */
int clock_parse_local_ex(const char *datetime, const char *zone, int lenient,
                         int64_t *out, char *err, size_t errlen);

/* "2026-03-02 10:00" in zone. */
void clock_format_local(int64_t ms, const char *zone, char *out, size_t n);

/* A moment as the wall clock of a zone shows it. */
typedef struct local_time {
  int year, month, day; /* month 1-12 */
  int hour, minute;
  int weekday;          /* 0 = Sunday ... 6 = Saturday */
} local_time;
local_time clock_to_local(int64_t ms, const char *zone);
/* That wall-clock time, days_later days after the given date (a time a DST
 * change skips moves on by the gap, 02:30 becoming 03:30, as the clocks
 * themselves do). */
int64_t clock_from_local(const local_time *t, int days_later, const char *zone);

#endif
