#include "date.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/ucal.h>
#include <unicode/udat.h>
#include <unicode/uloc.h>
#include <unicode/ustring.h>

#include "clock.h"

#define ZONE_HINT "(use a name like America/New_York or UTC)"

/* ICU's earliest date: a calendar whose Gregorian change is here follows
 * the Gregorian rules at every date we accept (proleptic, as ISO 8601).
 * Setting it costs more than the rest of opening a calendar (about 9 us),
 * so only calendars that may see a date before 1600 (ICU's own change is
 * in 1582) get it. */
#define PROLEPTIC_CHANGE (-184303902528000000.0)
#define YEAR_1600 (-11676096000LL) /* 1600-01-01T00:00:00Z */
#define BEFORE_1600(t) ((t) < YEAR_1600 + 2 * 86400)

int date_check_zone(const char *zone, char *err, size_t errlen) {
  /* clock_valid_zone asks ICU for the canonical system ID: an unknown name
   * (which ucal_open would take as "Etc/Unknown", that is GMT) and custom
   * ones ("GMT+5") are not zones */
  if (zone && strlen(zone) <= DATE_MAX_ZONE && clock_valid_zone(zone) &&
      strcmp(zone, "Etc/Unknown") != 0)
    return 0;
  snprintf(err, errlen, "'%.*s' is not a time zone " ZONE_HINT, DATE_MAX_ZONE,
           zone ? zone : "");
  return -1;
}

static int in_range(int64_t t, char *err, size_t errlen) {
  if (t >= DATE_MIN_SECONDS && t <= DATE_MAX_SECONDS) return 0;
  snprintf(
      err, errlen,
      "%lld is not a time from year 1 to 9999 (seconds since 1970, from %lld to %lld)",
      (long long)t, DATE_MIN_SECONDS, DATE_MAX_SECONDS);
  return -1;
}

/* A Gregorian calendar in zone (checked), strict, proleptic if early (a
 * date before 1600 may be asked of it); a wall time a fall-back repeats is
 * read as the second of the two (standard time), as bot.at reads it
 * (clock.c). NULL with a sentence in err. */
static UCalendar *open_calendar(const char *zone, int early, char *err, size_t errlen) {
  if (date_check_zone(zone, err, errlen)) return NULL;
  UChar uzone[DATE_MAX_ZONE + 1];
  u_uastrncpy(uzone, zone, DATE_MAX_ZONE);
  uzone[DATE_MAX_ZONE] = 0;
  UErrorCode status = U_ZERO_ERROR;
  UCalendar *cal = ucal_open(uzone, -1, "en_US", UCAL_GREGORIAN, &status);
  if (U_SUCCESS(status) && early)
    ucal_setGregorianChange(cal, PROLEPTIC_CHANGE, &status);
  if (U_FAILURE(status)) {
    if (cal) ucal_close(cal);
    snprintf(err, errlen, "cannot open time zone '%s': %s", zone, u_errorName(status));
    return NULL;
  }
  ucal_setAttribute(cal, UCAL_LENIENT, 0);
  ucal_setAttribute(cal, UCAL_REPEATED_WALL_TIME, UCAL_WALLTIME_LAST);
  return cal;
}

/* ---------------------------------------------------------------- parsing */

typedef struct iso_text {
  int year, month, day, hour, min, sec;
  int has_time;
  int has_offset;
  int offset_seconds; /* east of UTC */
} iso_text;

/* exactly n digits at s[*i] */
static int take_digits(const char *s, size_t len, size_t *i, int n, int *v) {
  int x = 0;
  for (int k = 0; k < n; k++, (*i)++) {
    if (*i >= len || s[*i] < '0' || s[*i] > '9') return -1;
    x = x * 10 + (s[*i] - '0');
  }
  *v = x;
  return 0;
}

static int take(const char *s, size_t len, size_t *i, char c) {
  if (*i < len && s[*i] == c) {
    (*i)++;
    return 1;
  }
  return 0;
}

/* The grammar only; whether the date exists is ICU's to say. */
static int scan_iso(const char *s, size_t len, iso_text *p) {
  size_t i = 0;
  *p = (iso_text){0};
  if (take_digits(s, len, &i, 4, &p->year) || !take(s, len, &i, '-') ||
      take_digits(s, len, &i, 2, &p->month) || !take(s, len, &i, '-') ||
      take_digits(s, len, &i, 2, &p->day))
    return -1;
  if (i == len) return 0;
  if (!take(s, len, &i, 'T') && !take(s, len, &i, 't') && !take(s, len, &i, ' '))
    return -1;
  p->has_time = 1;
  if (take_digits(s, len, &i, 2, &p->hour) || !take(s, len, &i, ':') ||
      take_digits(s, len, &i, 2, &p->min))
    return -1;
  if (take(s, len, &i, ':')) {
    if (take_digits(s, len, &i, 2, &p->sec)) return -1;
    if (take(s, len, &i, '.') || take(s, len, &i, ',')) {
      size_t start = i;
      while (i < len && s[i] >= '0' && s[i] <= '9') i++;
      if (i == start) return -1;
    }
  }
  if (p->hour > 23 || p->min > 59 || p->sec > 59) return -1;
  if (i == len) return 0;
  p->has_offset = 1;
  if ((take(s, len, &i, 'Z') || take(s, len, &i, 'z')) && i == len) return 0;
  int sign = take(s, len, &i, '+') ? 1 : take(s, len, &i, '-') ? -1 : 0;
  int oh = 0, om = 0;
  if (!sign || take_digits(s, len, &i, 2, &oh)) return -1;
  if (i < len) {
    take(s, len, &i, ':');
    if (take_digits(s, len, &i, 2, &om)) return -1;
  }
  if (i != len || oh > 23 || om > 59) return -1;
  p->offset_seconds = sign * (oh * 3600 + om * 60);
  return 0;
}

/* The moment of a wall-clock date and time on cal: 0, or -1 when the
 * calendar (strict) refuses it. */
static int calendar_moment(UCalendar *cal, const iso_text *p, int64_t *ms) {
  UErrorCode status = U_ZERO_ERROR;
  ucal_clear(cal);
  ucal_setDateTime(cal, p->year, p->month - 1, p->day, p->hour, p->min, p->sec,
                   &status);
  UDate d = ucal_getMillis(cal, &status);
  if (U_FAILURE(status)) return -1;
  *ms = (int64_t)d;
  return 0;
}

/* 0 if the date of p exists in the Gregorian calendar (in UTC, where every
 * wall time exists). */
static int date_exists(const iso_text *p, int64_t *utc_ms) {
  char err[160];
  UCalendar *utc = open_calendar("UTC", p->year < 1601, err, sizeof err);
  if (!utc) return -1;
  int rc = p->year >= 1 ? calendar_moment(utc, p, utc_ms) : -1;
  ucal_close(utc);
  return rc;
}

int date_parse(const char *text, size_t len, const char *zone, int64_t *out, char *err,
               size_t errlen) {
  if (len > DATE_MAX_TEXT) {
    snprintf(err, errlen, "'%.40s...' is longer than %d bytes: not a date", text,
             DATE_MAX_TEXT);
    return -1;
  }
  iso_text p;
  int64_t ms;
  if (scan_iso(text, len, &p)) {
    snprintf(err, errlen,
             "'%.*s' is not a date like 2026-03-10, 2026-03-10T14:30 or "
             "2026-03-10T14:30:00-04:00",
             (int)len, text);
    return -1;
  }
  if (date_exists(&p, &ms)) {
    snprintf(err, errlen, "'%.*s' is not a date (no such day, or a year before 1)",
             (int)len, text);
    return -1;
  }
  if (p.has_offset) {
    int64_t t = ms / 1000 - p.offset_seconds;
    if (t < DATE_MIN_SECONDS || t > DATE_MAX_SECONDS) {
      snprintf(err, errlen, "'%.*s' is not a time from year 1 to 9999", (int)len, text);
      return -1;
    }
    *out = t;
    return 0;
  }
  UCalendar *cal = open_calendar(zone, p.year < 1601, err, errlen);
  if (!cal) return -1;
  if (!p.has_time) {
    /* the first moment of that day: midnight, or when the day's clocks
     * start if a daylight-saving change skips midnight */
    ucal_setAttribute(cal, UCAL_LENIENT, 1);
    ucal_setAttribute(cal, UCAL_SKIPPED_WALL_TIME, UCAL_WALLTIME_NEXT_VALID);
  }
  int rc = calendar_moment(cal, &p, &ms);
  ucal_close(cal);
  if (rc) {
    snprintf(err, errlen,
             "'%.*s' does not exist in %s (a daylight-saving change skips it)",
             (int)len, text, zone);
    return -1;
  }
  if (ms % 1000 < 0) ms -= 1000; /* floor */
  if (ms / 1000 < DATE_MIN_SECONDS || ms / 1000 > DATE_MAX_SECONDS) {
    snprintf(err, errlen, "'%.*s' in %s is not a time from year 1 to 9999", (int)len,
             text, zone);
    return -1;
  }
  *out = ms / 1000;
  return 0;
}

/* ---------------------------------------------------------------- formatting */

/* ICU's pattern letters (DateFormatSymbols' pattern characters); any other
 * unquoted ASCII letter is refused rather than left out of the result. */
static const char PATTERN_LETTERS[] = "GyMdkHmsSEDFwWahKzYeugAZvcLQqVUOXxrbB";

static int valid_pattern(const char *p, size_t n) {
  int quoted = 0;
  if (n == 0) return 0;
  for (size_t i = 0; i < n; i++) {
    char c = p[i];
    if (c == '\'')
      quoted = !quoted; /* '' is a quote: two toggles */
    else if (!quoted && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) &&
             !strchr(PATTERN_LETTERS, c))
      return 0;
  }
  return !quoted;
}

static int valid_locale_name(const char *l) {
  size_t n = strlen(l);
  if (n == 0 || n > DATE_MAX_LOCALE) return 0;
  for (size_t i = 0; i < n; i++)
    if (!((l[i] >= 'a' && l[i] <= 'z') || (l[i] >= 'A' && l[i] <= 'Z') ||
          (l[i] >= '0' && l[i] <= '9') || l[i] == '_' || l[i] == '-'))
      return 0;
  return 1;
}

/* ICU has data for the locale's language. (Asked for a name it has no data
 * for, ICU quietly uses the process's default locale, then the root.) */
static int locale_known(const char *asked) {
  char lang[16];
  UErrorCode status = U_ZERO_ERROR;
  uloc_getLanguage(asked, lang, sizeof lang, &status);
  if (U_FAILURE(status) || status == U_STRING_NOT_TERMINATED_WARNING || !lang[0])
    return 0;
  int32_t n = uloc_countAvailable();
  for (int32_t i = 0; i < n; i++)
    if (strcmp(uloc_getAvailable(i), lang) == 0) return 1;
  return 0;
}

typedef struct style {
  const char *name;
  UDateFormatStyle time, date;
  const char *pattern;
} style;

static const style STYLES[] = {
    {"short", UDAT_SHORT, UDAT_SHORT, NULL},
    {"medium", UDAT_MEDIUM, UDAT_MEDIUM, NULL},
    {"long", UDAT_LONG, UDAT_LONG, NULL},
    {"full", UDAT_FULL, UDAT_FULL, NULL},
    {"date", UDAT_NONE, UDAT_MEDIUM, NULL},
    {"time", UDAT_SHORT, UDAT_NONE, NULL},
    {"iso", UDAT_PATTERN, UDAT_PATTERN, "yyyy-MM-dd'T'HH:mm:ssXXX"},
};

/* The formatter for pattern (or style), zone and locale, all checked: NULL
 * with a sentence in err. */
static UDateFormat *open_formatter(const char *pattern, size_t plen, const char *zone,
                                   const char *locale, char *err, size_t errlen) {
  const style *st = NULL;
  for (size_t i = 0; i < sizeof STYLES / sizeof STYLES[0]; i++)
    if (strlen(STYLES[i].name) == plen && memcmp(STYLES[i].name, pattern, plen) == 0)
      st = &STYLES[i];
  const char *shown = pattern;
  size_t shown_len = plen;
  if (st && st->pattern) {
    pattern = st->pattern;
    plen = strlen(pattern);
  }
  UChar upattern[DATE_MAX_PATTERN + 1];
  int32_t ulen = 0;
  UErrorCode status = U_ZERO_ERROR;
  if (!st || st->pattern) {
    if (plen <= DATE_MAX_PATTERN && valid_pattern(pattern, plen))
      u_strFromUTF8(upattern, DATE_MAX_PATTERN + 1, &ulen, pattern, (int32_t)plen,
                    &status);
    if (plen > DATE_MAX_PATTERN || !valid_pattern(pattern, plen) || U_FAILURE(status)) {
      snprintf(err, errlen,
               "'%.*s' is not a date pattern (ICU's, like \"EEE MMM d 'at' h:mm a\", "
               "with literal text in single quotes) nor a style (short, medium, long, "
               "full, date, time, iso)",
               shown_len > 80 ? 80 : (int)shown_len, shown);
      return NULL;
    }
  }
  if (!valid_locale_name(locale) || !locale_known(locale)) {
    snprintf(err, errlen,
             "'%.*s' is not a locale ICU has data for (use a name like en_US "
             "or fr_FR)",
             DATE_MAX_LOCALE, locale);
    return NULL;
  }
  if (date_check_zone(zone, err, errlen)) return NULL;
  UChar uzone[DATE_MAX_ZONE + 1];
  u_uastrncpy(uzone, zone, DATE_MAX_ZONE);
  uzone[DATE_MAX_ZONE] = 0;
  char gregorian[DATE_MAX_LOCALE + 32]; /* whatever calendar the locale prefers */
  snprintf(gregorian, sizeof gregorian, "%s@calendar=gregorian", locale);
  UDateFormat *fmt =
      st && !st->pattern
          ? udat_open(st->time, st->date, gregorian, uzone, -1, NULL, 0, &status)
          : udat_open(UDAT_PATTERN, UDAT_PATTERN, gregorian, uzone, -1, upattern, ulen,
                      &status);
  if (U_FAILURE(status)) {
    if (fmt) udat_close(fmt);
    snprintf(err, errlen, "cannot format with '%.*s' in %s: %s",
             shown_len > 80 ? 80 : (int)shown_len, shown, locale, u_errorName(status));
    return NULL;
  }
  return fmt;
}

/* ---------------------------------------------------------------- formatters kept */

/* Building a formatter is most of a format's cost (ICU loads the locale's
 * symbols and number formats: 35 to 75 us, where formatting with one takes
 * about 2 us), so a few are kept, by pattern, zone and locale, the least
 * recently used replaced. */
enum {
  KEPT_FORMATTERS = 8,
  KEY_MAX = DATE_MAX_PATTERN + DATE_MAX_ZONE + DATE_MAX_LOCALE + 3
};

struct date_formatters {
  struct kept_formatter {
    char key[KEY_MAX];
    size_t key_len; /* 0: an empty slot */
    UDateFormat *fmt;
    unsigned long used;
  } slot[KEPT_FORMATTERS];
  unsigned long clock;
};

date_formatters *date_formatters_new(void) {
  return calloc(1, sizeof(date_formatters));
}

void date_formatters_free(date_formatters *f) {
  if (!f) return;
  for (int i = 0; i < KEPT_FORMATTERS; i++)
    if (f->slot[i].fmt) udat_close(f->slot[i].fmt);
  free(f);
}

/* pattern, zone and locale, NUL-separated (none holds a NUL: the Lua side
 * refuses them); 0 if they do not fit. */
static size_t formatter_key(char *key, const char *pattern, size_t plen,
                            const char *zone, const char *locale) {
  size_t zlen = strlen(zone), llen = strlen(locale);
  if (plen > DATE_MAX_PATTERN || zlen > DATE_MAX_ZONE || llen > DATE_MAX_LOCALE)
    return 0;
  memcpy(key, pattern, plen);
  key[plen] = 0;
  memcpy(key + plen + 1, zone, zlen + 1);
  memcpy(key + plen + 1 + zlen + 1, locale, llen + 1);
  return plen + zlen + llen + 3;
}

static struct kept_formatter *find_kept(date_formatters *f, const char *key,
                                        size_t len) {
  for (int i = 0; f && len && i < KEPT_FORMATTERS; i++)
    if (f->slot[i].key_len == len && memcmp(f->slot[i].key, key, len) == 0)
      return &f->slot[i];
  return NULL;
}

int date_format_is_kept(date_formatters *f, int64_t t, const char *pattern, size_t plen,
                        const char *zone, const char *locale) {
  char key[KEY_MAX];
  if (!f || BEFORE_1600(t)) return 0;
  return find_kept(f, key,
                   formatter_key(key, pattern, plen, zone,
                                 locale ? locale : "en_US")) != NULL;
}

int date_format(date_formatters *kept, int64_t t, const char *pattern, size_t plen,
                const char *zone, const char *locale, char *out, size_t n, char *err,
                size_t errlen) {
  if (n) out[0] = 0;
  if (!locale) locale = "en_US";
  if (in_range(t, err, errlen)) return -1;
  /* before 1600 the formatter gets a proleptic calendar: not kept */
  int early = BEFORE_1600(t);
  char key[KEY_MAX];
  size_t key_len = kept && !early ? formatter_key(key, pattern, plen, zone, locale) : 0;
  struct kept_formatter *k = find_kept(kept, key, key_len);
  UDateFormat *fmt =
      k ? k->fmt : open_formatter(pattern, plen, zone, locale, err, errlen);
  if (!fmt) return -1;
  if (key_len && !k) {
    k = &kept->slot[0];
    for (int i = 1; i < KEPT_FORMATTERS; i++)
      if (kept->slot[i].used < k->used) k = &kept->slot[i];
    if (k->fmt) udat_close(k->fmt);
    memcpy(k->key, key, key_len);
    k->key_len = key_len;
    k->fmt = fmt;
  }
  if (k) k->used = ++kept->clock;
  UErrorCode status = U_ZERO_ERROR;
  if (early) {
    UCalendar *cal = open_calendar(zone, 1, err, errlen);
    if (!cal) {
      udat_close(fmt);
      return -1;
    }
    udat_setCalendar(fmt, cal); /* a copy */
    ucal_close(cal);
  }
  UChar buf[DATE_MAX_OUTPUT / 2];
  int32_t cap = (int32_t)(sizeof buf / sizeof buf[0]);
  int32_t blen = udat_format(fmt, (UDate)t * 1000.0, buf, cap, NULL, &status);
  if (!k) udat_close(fmt);
  if (U_SUCCESS(status) && blen < cap)
    u_strToUTF8(out, (int32_t)n, NULL, buf, blen, &status);
  if (U_FAILURE(status) || status == U_STRING_NOT_TERMINATED_WARNING || blen >= cap) {
    if (n) out[0] = 0;
    snprintf(err, errlen, "cannot format with '%.*s' in %s: %s",
             plen > 80 ? 80 : (int)plen, pattern, locale,
             status == U_BUFFER_OVERFLOW_ERROR || U_SUCCESS(status)
                 ? "the result is too long"
                 : u_errorName(status));
    return -1;
  }
  return 0;
}

/* ---------------------------------------------------------------- arithmetic */

typedef struct calendar_unit {
  UCalendarDateFields field;
  const char *name;
  int64_t max;
} calendar_unit;

int date_add(int64_t t, const date_amounts *a, const char *zone, int64_t *out,
             char *err, size_t errlen) {
  if (in_range(t, err, errlen)) return -1;
  const calendar_unit units[] = {{UCAL_YEAR, "years", 10000},
                                 {UCAL_MONTH, "months", 120000},
                                 {UCAL_WEEK_OF_YEAR, "weeks", 530000},
                                 {UCAL_DATE, "days", 3700000}};
  const int64_t amounts[] = {a->years, a->months, a->weeks, a->days};
  const int64_t exact[] = {a->hours, a->minutes, a->seconds};
  const char *exact_names[] = {"hours", "minutes", "seconds"};
  const int64_t exact_max[] = {88000000, 5300000000LL, 320000000000LL};
  for (int i = 0; i < 4; i++)
    if (amounts[i] > units[i].max || amounts[i] < -units[i].max) {
      snprintf(err, errlen, "%lld %s is out of range (at most %lld either way)",
               (long long)amounts[i], units[i].name, (long long)units[i].max);
      return -1;
    }
  for (int i = 0; i < 3; i++)
    if (exact[i] > exact_max[i] || exact[i] < -exact_max[i]) {
      snprintf(err, errlen, "%lld %s is out of range (at most %lld either way)",
               (long long)exact[i], exact_names[i], (long long)exact_max[i]);
      return -1;
    }
  int64_t back_days = llabs(a->years) * 366 + llabs(a->months) * 31 +
                      llabs(a->weeks) * 7 + llabs(a->days);
  UCalendar *cal = open_calendar(zone, BEFORE_1600(t - back_days * 86400), err, errlen);
  if (!cal) return -1;
  /* a wall time a daylight-saving change skips moves on by the gap */
  ucal_setAttribute(cal, UCAL_LENIENT, 1);
  ucal_setAttribute(cal, UCAL_SKIPPED_WALL_TIME, UCAL_WALLTIME_LAST);
  UErrorCode status = U_ZERO_ERROR;
  ucal_setMillis(cal, (UDate)t * 1000.0, &status);
  for (int i = 0; i < 4 && U_SUCCESS(status); i++)
    if (amounts[i]) ucal_add(cal, units[i].field, (int32_t)amounts[i], &status);
  UDate ms = ucal_getMillis(cal, &status);
  ucal_close(cal);
  int64_t r = (int64_t)(ms / 1000.0) + a->hours * 3600 + a->minutes * 60 + a->seconds;
  if (U_FAILURE(status) || r < DATE_MIN_SECONDS || r > DATE_MAX_SECONDS) {
    snprintf(err, errlen, "the result is not a time from year 1 to 9999");
    return -1;
  }
  *out = r;
  return 0;
}

int date_to_parts(int64_t t, const char *zone, date_parts *out, char *err,
                  size_t errlen) {
  if (in_range(t, err, errlen)) return -1;
  UCalendar *cal = open_calendar(zone, BEFORE_1600(t), err, errlen);
  if (!cal) return -1;
  UErrorCode status = U_ZERO_ERROR;
  ucal_setMillis(cal, (UDate)t * 1000.0, &status);
  date_parts p = {
      .year = ucal_get(cal, UCAL_YEAR, &status),
      .month = ucal_get(cal, UCAL_MONTH, &status) + 1,
      .day = ucal_get(cal, UCAL_DATE, &status),
      .hour = ucal_get(cal, UCAL_HOUR_OF_DAY, &status),
      .min = ucal_get(cal, UCAL_MINUTE, &status),
      .sec = ucal_get(cal, UCAL_SECOND, &status),
      .wday = ucal_get(cal, UCAL_DAY_OF_WEEK, &status),
      .yday = ucal_get(cal, UCAL_DAY_OF_YEAR, &status),
      .isdst = ucal_get(cal, UCAL_DST_OFFSET, &status) != 0,
  };
  ucal_close(cal);
  if (U_FAILURE(status)) {
    snprintf(err, errlen, "cannot read %lld in %s: %s", (long long)t, zone,
             u_errorName(status));
    return -1;
  }
  *out = p;
  return 0;
}

int date_start_of_day(int64_t t, const char *zone, int64_t *out, char *err,
                      size_t errlen) {
  date_parts p;
  if (date_to_parts(t, zone, &p, err, errlen)) return -1;
  UCalendar *cal = open_calendar(zone, BEFORE_1600(t), err, errlen);
  if (!cal) return -1;
  ucal_setAttribute(cal, UCAL_LENIENT, 1);
  ucal_setAttribute(cal, UCAL_SKIPPED_WALL_TIME, UCAL_WALLTIME_NEXT_VALID);
  ucal_setAttribute(cal, UCAL_REPEATED_WALL_TIME, UCAL_WALLTIME_FIRST);
  int64_t ms = 0;
  int rc = calendar_moment(
      cal, &(iso_text){.year = p.year, .month = p.month, .day = p.day}, &ms);
  ucal_close(cal);
  if (rc || ms / 1000 < DATE_MIN_SECONDS) {
    snprintf(err, errlen, "cannot find the start of the day of %lld in %s",
             (long long)t, zone);
    return -1;
  }
  *out = ms / 1000;
  return 0;
}

int date_age(const char *birthday, size_t len, int64_t at, const char *zone, int *years,
             char *err, size_t errlen) {
  iso_text b;
  int64_t birth_ms, today_ms;
  if (len > DATE_MAX_TEXT || scan_iso(birthday, len, &b) || b.has_time) {
    snprintf(err, errlen, "'%.*s' is not a date like 1990-05-17",
             len > DATE_MAX_TEXT ? 40 : (int)len, birthday);
    return -1;
  }
  if (date_exists(&b, &birth_ms)) {
    snprintf(err, errlen, "'%.*s' is not a date (no such day, or a year before 1)",
             (int)len, birthday);
    return -1;
  }
  date_parts today;
  if (date_to_parts(at, zone, &today, err, errlen)) return -1;
  iso_text day = {.year = today.year, .month = today.month, .day = today.day};
  /* both dates at midnight in UTC, where every day has one: the years
   * between them as ICU's calendar adds years */
  UCalendar *utc = open_calendar("UTC", b.year < 1601, err, errlen);
  if (!utc) return -1;
  int rc = calendar_moment(utc, &day, &today_ms);
  if (rc == 0 && today_ms < birth_ms) {
    ucal_close(utc);
    snprintf(err, errlen,
             "the birthday '%.*s' is after %04d-%02d-%02d, the day it is "
             "counted to",
             (int)len, birthday, today.year, today.month, today.day);
    return -1;
  }
  UErrorCode status = U_ZERO_ERROR;
  ucal_setMillis(utc, (UDate)birth_ms, &status);
  int32_t n = ucal_getFieldDifference(utc, (UDate)today_ms, UCAL_YEAR, &status);
  ucal_close(utc);
  if (rc || U_FAILURE(status)) {
    snprintf(err, errlen, "cannot count the years from '%.*s'", (int)len, birthday);
    return -1;
  }
  *years = n;
  return 0;
}
