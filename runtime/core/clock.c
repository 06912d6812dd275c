#include "clock.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <unicode/ucal.h>
#include <unicode/ustring.h>

int64_t clock_parse_duration(const char *text) {
  const char *p = text;
  int64_t total = 0;
  int parts = 0;
  while (*p) {
    if (!isdigit((unsigned char)*p)) return -1;
    int64_t n = 0;
    while (isdigit((unsigned char)*p)) {
      n = n * 10 + (*p++ - '0');
      if (n > 100000000) return -1;
    }
    int64_t unit;
    if (p[0] == 'm' && p[1] == 's') {
      unit = 1;
      p += 2;
    } else {
      switch (*p++) {
        case 's': unit = 1000; break;
        case 'm': unit = 60 * 1000; break;
        case 'h': unit = 3600 * 1000; break;
        case 'd': unit = 86400 * 1000; break;
        case 'w': unit = 7 * 86400 * 1000LL; break;
        default: return -1;
      }
    }
    total += n * unit;
    if (total > 100LL * 366 * 86400 * 1000) return -1; /* a century */
    parts++;
  }
  return parts ? total : -1;
}

static UCalendar *open_zone(const char *zone, UErrorCode *status) {
  UChar uzone[128];
  u_uastrncpy(uzone, zone, 127);
  uzone[127] = 0;
  return ucal_open(uzone, -1, "en_US", UCAL_GREGORIAN, status);
}

int clock_valid_zone(const char *zone) {
  if (!zone || !*zone || strlen(zone) > 100) return 0;
  UChar uzone[128], canon[128];
  u_uastrncpy(uzone, zone, 127);
  uzone[127] = 0;
  UErrorCode status = U_ZERO_ERROR;
  UBool system = 0;
  ucal_getCanonicalTimeZoneID(uzone, -1, canon, 128, &system, &status);
  return U_SUCCESS(status) && system;
}

int clock_parse_local(const char *datetime, const char *zone, int64_t *out,
                      char *err, size_t errlen) {
  return clock_parse_local_ex(datetime, zone, 0, out, err, errlen);
}

int clock_parse_local_ex(const char *datetime, const char *zone, int lenient,
                         int64_t *out, char *err, size_t errlen) {
  int y, mo, d, h, mi, s = 0, used = 0;
  int n = isdigit((unsigned char)datetime[0])
              ? sscanf(datetime, "%4d-%2d-%2d %2d:%2d%n", &y, &mo, &d, &h, &mi, &used)
              : 0;
  if (n == 5 && datetime[used] == ':') {
    int more = 0;
    n = sscanf(datetime + used, ":%2d%n", &s, &more) == 1 ? 6 : 0;
    used += more;
  }
  if ((n != 5 && n != 6) || datetime[used] != 0 || h < 0 || mi < 0 || s < 0) {
    snprintf(err, errlen, "'%s' is not a time like 2026-03-02 10:00", datetime);
    return -1;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) {
    snprintf(err, errlen, "'%s' is not a valid date and time", datetime);
    return -1;
  }
  if (!clock_valid_zone(zone)) {
    snprintf(err, errlen, "'%s' is not a time zone (use a name like "
                          "America/New_York or UTC)", zone);
    return -1;
  }
  UErrorCode status = U_ZERO_ERROR;
  UCalendar *cal = open_zone(zone, &status);
  if (U_FAILURE(status)) {
    snprintf(err, errlen, "cannot open time zone '%s': %s", zone,
             u_errorName(status));
    return -1;
  }
  ucal_clear(cal);
  ucal_setAttribute(cal, UCAL_LENIENT, lenient ? 1 : 0);
  ucal_setDateTime(cal, y, mo - 1, d, h, mi, s, &status);
  UDate ms = ucal_getMillis(cal, &status);
  ucal_close(cal);
  if (U_FAILURE(status)) {
    snprintf(err, errlen, "'%s' does not exist in %s", datetime, zone);
    return -1;
  }
  if (ms < 0 || ms > CLOCK_MAX_SECONDS * 1000.0) { /* CLOCK_MAX_SECONDS: clock.h */
    snprintf(err, errlen, "'%s' in %s is not a time from 1970 to 9999", datetime, zone);
    return -1;
  }
  *out = (int64_t)ms;
  return 0;
}

void clock_format_local(int64_t ms, const char *zone, char *out, size_t n) {
  UErrorCode status = U_ZERO_ERROR;
  UCalendar *cal = open_zone(zone && *zone ? zone : "UTC", &status);
  if (U_FAILURE(status)) {
    snprintf(out, n, "%lld", (long long)ms);
    return;
  }
  ucal_setMillis(cal, (UDate)ms, &status);
  int y = ucal_get(cal, UCAL_YEAR, &status);
  int mo = ucal_get(cal, UCAL_MONTH, &status) + 1;
  int d = ucal_get(cal, UCAL_DATE, &status);
  int h = ucal_get(cal, UCAL_HOUR_OF_DAY, &status);
  int mi = ucal_get(cal, UCAL_MINUTE, &status);
  ucal_close(cal);
  snprintf(out, n, "%04d-%02d-%02d %02d:%02d", y, mo, d, h, mi);
}

local_time clock_to_local(int64_t ms, const char *zone) {
  local_time t = {0};
  UErrorCode status = U_ZERO_ERROR;
  UCalendar *cal = open_zone(zone && *zone ? zone : "UTC", &status);
  if (U_FAILURE(status)) return t;
  ucal_setMillis(cal, (UDate)ms, &status);
  t.year = ucal_get(cal, UCAL_YEAR, &status);
  t.month = ucal_get(cal, UCAL_MONTH, &status) + 1;
  t.day = ucal_get(cal, UCAL_DATE, &status);
  t.hour = ucal_get(cal, UCAL_HOUR_OF_DAY, &status);
  t.minute = ucal_get(cal, UCAL_MINUTE, &status);
  t.weekday = ucal_get(cal, UCAL_DAY_OF_WEEK, &status) - UCAL_SUNDAY;
  ucal_close(cal);
  return t;
}

int64_t clock_from_local(const local_time *t, int days_later, const char *zone) {
  UErrorCode status = U_ZERO_ERROR;
  UCalendar *cal = open_zone(zone && *zone ? zone : "UTC", &status);
  if (U_FAILURE(status)) return 0;
  ucal_clear(cal);
  /* lenient: a wall time inside a spring-forward gap moves past the gap */
  ucal_setDateTime(cal, t->year, t->month - 1, t->day, t->hour, t->minute, 0, &status);
  if (days_later) ucal_add(cal, UCAL_DATE, days_later, &status);
  ucal_set(cal, UCAL_HOUR_OF_DAY, t->hour);
  ucal_set(cal, UCAL_MINUTE, t->minute);
  UDate ms = ucal_getMillis(cal, &status);
  ucal_close(cal);
  return U_FAILURE(status) ? 0 : (int64_t)ms;
}
