/* date: the calendar behind the scripts' `date` library (lua_date.c).
 *
 * Moments are seconds since 1970 (as bot.now() gives them); calendar
 * questions (what day, what wall-clock time, a month later) are answered in
 * a named IANA time zone by ICU's Gregorian calendar and the tz database it
 * ships, proleptic (the Gregorian rules before 1582 too, as ISO 8601). No
 * calendar arithmetic of our own: ICU adds months, keeps the wall clock
 * across daylight-saving changes and formats in a locale.
 *
 * Every function checks its input (zone, text, pattern, locale, range) and
 * returns 0, or -1 with a sentence naming the bad input in err. Inputs are
 * bounded (DATE_MAX_*), so each call does a bounded amount of work. All are
 * thread-safe: nothing is cached between calls. */
#ifndef PARLEY_DATE_H
#define PARLEY_DATE_H

#include <stddef.h>
#include <stdint.h>

/* The moments a date may be: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z. */
#define DATE_MIN_SECONDS (-62135596800LL)
#define DATE_MAX_SECONDS 253402300799LL

enum {
  DATE_MAX_TEXT = 64,     /* a date to parse, in bytes */
  DATE_MAX_PATTERN = 256, /* a format pattern, in bytes */
  DATE_MAX_LOCALE = 64,   /* a locale name */
  DATE_MAX_ZONE = 100,    /* a zone name */
  DATE_MAX_OUTPUT = 2048  /* a formatted date, in bytes (with the NUL) */
};

/* 0 if zone is a time zone ICU knows by that name ("America/New_York",
 * "UTC"); else -1 and "'Mars/Base' is not a time zone ...". */
int date_check_zone(const char *zone, char *err, size_t errlen);

/* ISO 8601 text -> seconds. "2026-03-10" (the start of that day in zone),
 * "2026-03-10T14:30", "2026-03-10 14:30:15" (wall-clock time in zone),
 * either with a fraction of a second (dropped), and with "Z" or an offset
 * ("+05:30", "-0800", "+01"), which then says the moment and zone is not
 * used. A wall-clock time a daylight-saving change skips is an error; one
 * it repeats (01:30 on a fall-back night) is the second of the two
 * (standard time), as bot.at reads "2026-11-01 01:30". */
int date_parse(const char *text, size_t len, const char *zone, int64_t *out, char *err,
               size_t errlen);

/* Formatters kept between calls (building one is most of a format's
 * cost): a few, by pattern, zone and locale, the least recently used
 * replaced; their memory is ICU's (malloc), about 60 KB each. Used
 * by one thread at a time. */
typedef struct date_formatters date_formatters;
date_formatters *date_formatters_new(void); /* NULL if out of memory */
void date_formatters_free(date_formatters *f);

/* The moment t as pattern shows it in zone and locale ("en_US" when NULL),
 * as UTF-8 in out (at most n bytes, DATE_MAX_OUTPUT is always enough).
 * pattern: an ICU date pattern ("EEE MMM d 'at' h:mm a") or a style name:
 * "short", "medium", "long", "full" (date and time), "date" (the medium
 * date), "time" (the short time), "iso" ("2026-03-10T14:30:00-04:00").
 * Always the Gregorian calendar. kept: formatters to reuse, or NULL. */
int date_format(date_formatters *kept, int64_t t, const char *pattern, size_t plen,
                const char *zone, const char *locale, char *out, size_t n, char *err,
                size_t errlen);

/* 1 if date_format would reuse a kept formatter for these arguments. */
int date_format_is_kept(date_formatters *kept, int64_t t, const char *pattern,
                        size_t plen, const char *zone, const char *locale);

/* Calendar amounts to add: years, months, weeks and days move the date and
 * keep the wall-clock time in the zone (a time a daylight-saving change
 * skips moves on by the gap); hours, minutes and seconds are exact. */
typedef struct date_amounts {
  int64_t years, months, weeks, days, hours, minutes, seconds;
} date_amounts;

/* t plus the amounts (the larger units first), in zone. */
int date_add(int64_t t, const date_amounts *a, const char *zone, int64_t *out,
             char *err, size_t errlen);

/* A moment as the wall clock and calendar of a zone show it. */
typedef struct date_parts {
  int year, month, day; /* month 1-12 */
  int hour, min, sec;
  int wday;  /* 1 = Sunday ... 7 = Saturday */
  int yday;  /* 1 = January 1 */
  int isdst; /* daylight-saving time is in effect */
} date_parts;

int date_to_parts(int64_t t, const char *zone, date_parts *out, char *err,
                  size_t errlen);

/* The first moment of t's day in zone (midnight, or the time the day's
 * clocks start at when a daylight-saving change skips midnight). */
int date_start_of_day(int64_t t, const char *zone, int64_t *out, char *err,
                      size_t errlen);

/* Whole years from a birthday ("1990-05-17") to the day moment `at` falls
 * on in zone. A Feb 29 birthday is reached on Feb 28 in common years (as
 * ICU's calendar adds years: the day date_add gives). A birthday after that
 * day is an error. */
int date_age(const char *birthday, size_t len, int64_t at, const char *zone, int *years,
             char *err, size_t errlen);

#endif
