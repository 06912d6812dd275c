/* Unit tests for runtime/core/date.h: ISO parsing, formatting in a pattern and a
 * locale, calendar arithmetic across daylight-saving changes, ages, and the
 * errors that name the bad input.
 *
 *   make build/test_date && ./build/test_date */
#include <time.h>

#include "date.h"
#include "test.h"

static const char *NY = "America/New_York";

/* seconds since 1970 of a UTC date and time */
static int64_t utc(int y, int mo, int d, int h, int mi, int s) {
  struct tm tm = {.tm_year = y - 1900,
                  .tm_mon = mo - 1,
                  .tm_mday = d,
                  .tm_hour = h,
                  .tm_min = mi,
                  .tm_sec = s};
  return (int64_t)timegm(&tm);
}

static char err[512];

static void expect_parse(const char *text, const char *zone, int64_t want) {
  int64_t t = 0;
  err[0] = 0;
  int rc = date_parse(text, strlen(text), zone, &t, err, sizeof err);
  if (!test_result(rc == 0 && t == want, "parse \"%s\" in %s", text, zone))
    test_note("expected %lld, got rc %d, %lld (%s)", (long long)want, rc, (long long)t,
              err);
}

static void expect_parse_error(const char *text, const char *zone, const char *part) {
  int64_t t = 0;
  err[0] = 0;
  int rc = date_parse(text, strlen(text), zone, &t, err, sizeof err);
  CHECK(rc == -1, "\"%s\" in %s is refused", text, zone);
  CHECK_HAS(err, part, "  and the error says so");
}

/* Formatters kept across the tests: every format is done with a new one
 * and again with the kept ones, which must give the same text whatever was
 * formatted before (another zone, locale or pattern; more than they hold). */
static date_formatters *kept;

static void expect_format(int64_t t, const char *pattern, const char *zone,
                          const char *locale, const char *want) {
  for (int with_kept = 0; with_kept <= 1; with_kept++) {
    char out[DATE_MAX_OUTPUT] = "";
    err[0] = 0;
    int rc = date_format(with_kept ? kept : NULL, t, pattern, strlen(pattern), zone,
                         locale, out, sizeof out, err, sizeof err);
    if (!test_result(rc == 0 && strcmp(out, want) == 0,
                     "format %lld as \"%s\" in %s, %s%s", (long long)t, pattern, zone,
                     locale ? locale : "(default)",
                     with_kept ? ", kept formatters" : ""))
      test_note("expected \"%s\", got rc %d \"%s\" (%s)", want, rc, out, err);
  }
}

static void expect_format_error(const char *pattern, const char *zone,
                                const char *locale, const char *part) {
  char out[DATE_MAX_OUTPUT] = "";
  err[0] = 0;
  int rc = date_format(NULL, utc(2026, 3, 10, 18, 30, 0), pattern, strlen(pattern),
                       zone, locale, out, sizeof out, err, sizeof err);
  CHECK(rc == -1, "format \"%s\" in %s, %s is refused", pattern, zone,
        locale ? locale : "(default)");
  CHECK_HAS(err, part, "  and the error names it");
}

static int64_t add(int64_t t, date_amounts a, const char *zone) {
  int64_t out = 0;
  err[0] = 0;
  if (date_add(t, &a, zone, &out, err, sizeof err)) return -1;
  return out;
}

static int age(const char *birthday, int64_t at, const char *zone) {
  int years = -99;
  err[0] = 0;
  if (date_age(birthday, strlen(birthday), at, zone, &years, err, sizeof err))
    return -1;
  return years;
}

static void test_parse(void) {
  expect_parse("2026-03-10T14:30", NY, utc(2026, 3, 10, 18, 30, 0));
  expect_parse("2026-03-10 14:30", NY, utc(2026, 3, 10, 18, 30, 0));
  expect_parse("2026-03-10T14:30:15", NY, utc(2026, 3, 10, 18, 30, 15));
  expect_parse("2026-03-10T14:30:15.999", NY, utc(2026, 3, 10, 18, 30, 15));
  expect_parse("2026-03-10", NY, utc(2026, 3, 10, 4, 0, 0));
  expect_parse("2026-01-10", NY, utc(2026, 1, 10, 5, 0, 0));
  /* an offset says the moment; the zone is not used */
  expect_parse("2026-03-10T14:30Z", NY, utc(2026, 3, 10, 14, 30, 0));
  expect_parse("2026-03-10T14:30:15+05:30", NY, utc(2026, 3, 10, 9, 0, 15));
  expect_parse("2026-03-10T14:30-0800", "UTC", utc(2026, 3, 10, 22, 30, 0));
  expect_parse("2026-03-10T14:30+01", "UTC", utc(2026, 3, 10, 13, 30, 0));
  /* a zone with a 30-minute offset */
  expect_parse("2026-03-10T14:30", "Asia/Kolkata", utc(2026, 3, 10, 9, 0, 0));
  /* spring forward in New York: 02:00 -> 03:00 on Sunday Mar 8 2026 */
  expect_parse_error("2026-03-08T02:30", NY, "does not exist in America/New_York");
  expect_parse("2026-03-08T03:00", NY, utc(2026, 3, 8, 7, 0, 0));
  expect_parse("2026-03-08T01:59", NY, utc(2026, 3, 8, 6, 59, 0));
  /* fall back: 01:30 happens twice on Nov 1 2026; the second (EST), as bot.at */
  expect_parse("2026-11-01T01:30", NY, utc(2026, 11, 1, 6, 30, 0));
  expect_parse("2026-11-01T00:59", NY, utc(2026, 11, 1, 4, 59, 0));
  expect_parse("2026-11-01T02:00", NY, utc(2026, 11, 1, 7, 0, 0));
  /* leap years */
  expect_parse("2028-02-29", "UTC", utc(2028, 2, 29, 0, 0, 0));
  expect_parse("2000-02-29", "UTC", utc(2000, 2, 29, 0, 0, 0));
  expect_parse_error("2027-02-29", "UTC", "'2027-02-29' is not a date");
  expect_parse_error("2100-02-29", "UTC", "'2100-02-29' is not a date");
  /* the range, before 1970 included, proleptic Gregorian */
  expect_parse("0001-01-01T00:00Z", "UTC", DATE_MIN_SECONDS);
  expect_parse("9999-12-31T23:59:59Z", "UTC", DATE_MAX_SECONDS);
  expect_parse("1582-10-10", "UTC", utc(1582, 10, 10, 0, 0, 0));
  expect_parse("1950-06-01", "UTC", utc(1950, 6, 1, 0, 0, 0));
  expect_parse_error("0000-12-31", "UTC", "'0000-12-31'");
  expect_parse_error("9999-12-31T23:00-05:00", "UTC", "1 to 9999");
  /* not ISO dates */
  expect_parse_error("2026-3-10", NY, "'2026-3-10' is not a date");
  expect_parse_error("03/10/2026", NY, "'03/10/2026'");
  expect_parse_error("2026-03-10T25:00", NY, "'2026-03-10T25:00'");
  expect_parse_error("2026-03-10T14:60", NY, "'2026-03-10T14:60'");
  expect_parse_error("2026-03-10T14:30+25:00", NY, "'2026-03-10T14:30+25:00'");
  expect_parse_error("2026-03-10T14:30 tomorrow", NY, "'2026-03-10T14:30 tomorrow'");
  expect_parse_error("2026-03-10Z", NY, "'2026-03-10Z'");
  expect_parse_error("2026-13-01", NY, "'2026-13-01' is not a date");
  expect_parse_error("", NY, "'' is not a date");
  expect_parse_error(
      "2026-03-10T14:30:00.0000000000000000000000000000000000000000000001", NY,
      "longer than 64 bytes");
  /* zones */
  expect_parse_error("2026-03-10", "Mars/Base", "'Mars/Base' is not a time zone");
  expect_parse_error("2026-03-10", "", "'' is not a time zone");
  expect_parse_error("2026-03-10", "Etc/Unknown", "'Etc/Unknown' is not a time zone");
}

static void test_format(void) {
  int64_t t = utc(2026, 3, 10, 18, 30, 0); /* Tue Mar 10 2026, 14:30 in New York */
  kept = date_formatters_new();
  CHECK(!date_format_is_kept(kept, t, "iso", 3, NY, NULL), "nothing kept at first");
  expect_format(t, "EEE MMM d 'at' h:mm a", NY, NULL, "Tue Mar 10 at 2:30 PM");
  expect_format(t, "EEE MMM d 'at' h:mm a", NY, "en_US", "Tue Mar 10 at 2:30 PM");
  expect_format(t, "EEEE d MMMM HH:mm", NY, "fr_FR", "mardi 10 mars 14:30");
  expect_format(t, "EEEE d. MMMM", "Europe/Berlin", "de_DE", "Dienstag 10. März");
  expect_format(t, "iso", NY, NULL, "2026-03-10T14:30:00-04:00");
  expect_format(t, "iso", "UTC", NULL, "2026-03-10T18:30:00Z");
  expect_format(t, "iso", "Asia/Kolkata", NULL, "2026-03-11T00:00:00+05:30");
  expect_format(t, "date", NY, NULL, "Mar 10, 2026");
  /* the Gregorian calendar whatever the locale prefers (th_TH: Buddhist) */
  expect_format(t, "yyyy-MM-dd", "Asia/Bangkok", "th_TH", "2026-03-11");
  expect_format(t, "yyyy-MM-dd HH:mm zzz", NY, NULL, "2026-03-10 14:30 EDT");
  expect_format(t, "h:mm a", "Australia/Adelaide", NULL, "5:00 AM");
  /* a year boundary: New Year's in UTC is still Dec 31 in Los Angeles */
  expect_format(utc(2027, 1, 1, 3, 0, 0), "yyyy-MM-dd", "America/Los_Angeles", NULL,
                "2026-12-31");
  expect_format(DATE_MIN_SECONDS, "yyyy-MM-dd", "UTC", NULL, "0001-01-01");
  expect_format(utc(1582, 10, 10, 0, 0, 0), "yyyy-MM-dd", "UTC", NULL, "1582-10-10");
  /* the styles: ICU's (CLDR's) for the locale, which may hold U+202F */
  char out[DATE_MAX_OUTPUT];
  CHECK(date_format(NULL, t, "full", 4, NY, NULL, out, sizeof out, err, sizeof err) ==
                0 &&
            strstr(out, "Tuesday, March 10, 2026") == out,
        "the full style: \"%s\"", out);
  CHECK(date_format(NULL, t, "time", 4, NY, "de_DE", out, sizeof out, err,
                    sizeof err) == 0 &&
            strcmp(out, "14:30") == 0,
        "the time style in de_DE: \"%s\"", out);
  CHECK(date_format_is_kept(kept, t, "iso", 3, "UTC", NULL) &&
            date_format_is_kept(kept, t + 86400, "iso", 3, "UTC", "en_US") &&
            !date_format_is_kept(kept, t, "iso", 3, "Europe/Paris", NULL) &&
            !date_format_is_kept(kept, t, "iso", 3, "UTC", "fr_FR") &&
            !date_format_is_kept(kept, DATE_MIN_SECONDS, "yyyy-MM-dd", 10, "UTC", NULL),
        "formatters are kept by pattern, zone and locale (not for dates before 1600)");
  date_formatters_free(kept);
  expect_format_error("jj:mm", NY, NULL, "'jj:mm' is not a date pattern");
  expect_format_error("h 'at", NY, NULL, "'h 'at' is not a date pattern");
  expect_format_error("EEE", "Mars/Base", NULL, "'Mars/Base' is not a time zone");
  expect_format_error("EEE", NY, "zz", "'zz' is not a locale");
  expect_format_error("EEE", NY, "xx_YY", "'xx_YY' is not a locale");
  expect_format_error("EEE", NY, "en US", "'en US' is not a locale");
  expect_format_error("", NY, NULL, "'' is not a date pattern");
  CHECK(date_format(NULL, DATE_MAX_SECONDS + 1, "iso", 3, "UTC", NULL, out, sizeof out,
                    err, sizeof err) == -1 &&
            strstr(err, "253402300800"),
        "a moment past 9999 is refused: %s", err);
}

static void test_add(void) {
  int64_t sat = utc(2026, 3, 7, 15, 0, 0); /* Sat Mar 7 10:00 EST */
  /* the day of the spring-forward is 23 hours long: a day keeps 10:00 */
  CHECK_INT(add(sat, (date_amounts){.days = 1}, NY), utc(2026, 3, 8, 14, 0, 0),
            "Mar 7 10:00 + 1 day = Mar 8 10:00 EDT");
  CHECK_INT(add(sat, (date_amounts){.hours = 24}, NY), utc(2026, 3, 8, 15, 0, 0),
            "Mar 7 10:00 + 24 hours = Mar 8 11:00 EDT");
  CHECK_INT(add(sat, (date_amounts){.weeks = 1}, NY), utc(2026, 3, 14, 14, 0, 0),
            "+ 1 week keeps 10:00");
  CHECK_INT(add(utc(2026, 3, 7, 7, 30, 0), (date_amounts){.days = 1}, NY),
            utc(2026, 3, 8, 7, 30, 0),
            "Mar 7 02:30 + 1 day = 03:30 EDT (moved by the gap)");
  /* fall back: 25 hours */
  int64_t oct31 = utc(2026, 10, 31, 14, 0, 0); /* Sat Oct 31 10:00 EDT */
  CHECK_INT(add(oct31, (date_amounts){.days = 1}, NY), utc(2026, 11, 1, 15, 0, 0),
            "Oct 31 10:00 + 1 day = Nov 1 10:00 EST");
  CHECK_INT(add(oct31, (date_amounts){.minutes = 24 * 60}, NY),
            utc(2026, 11, 1, 14, 0, 0),
            "Oct 31 10:00 + 1440 minutes = Nov 1 09:00 EST");
  CHECK_INT(add(utc(2026, 11, 1, 14, 0, 0), (date_amounts){.days = -1}, NY),
            oct31 - 3600, "Nov 1 09:00 EST - 1 day = Oct 31 09:00 EDT");
  /* a 30-minute zone with daylight saving: Adelaide leaves it on Apr 5 2026 */
  CHECK_INT(
      add(utc(2026, 4, 4, 1, 30, 0), (date_amounts){.days = 1}, "Australia/Adelaide"),
      utc(2026, 4, 5, 2, 30, 0), "Adelaide Apr 4 12:00 + 1 day = Apr 5 12:00 ACST");
  /* months: the end of a shorter month, leap years */
  CHECK_INT(add(utc(2026, 1, 31, 12, 0, 0), (date_amounts){.months = 1}, "UTC"),
            utc(2026, 2, 28, 12, 0, 0), "Jan 31 + 1 month = Feb 28");
  CHECK_INT(add(utc(2028, 1, 31, 12, 0, 0), (date_amounts){.months = 1}, "UTC"),
            utc(2028, 2, 29, 12, 0, 0), "Jan 31 2028 + 1 month = Feb 29");
  CHECK_INT(add(utc(2028, 2, 29, 0, 0, 0), (date_amounts){.years = 1}, "UTC"),
            utc(2029, 2, 28, 0, 0, 0), "Feb 29 2028 + 1 year = Feb 28 2029");
  CHECK_INT(add(utc(2028, 2, 29, 0, 0, 0), (date_amounts){.years = 4}, "UTC"),
            utc(2032, 2, 29, 0, 0, 0), "Feb 29 2028 + 4 years = Feb 29 2032");
  /* across a year boundary */
  CHECK_INT(add(utc(2027, 1, 1, 4, 30, 0), (date_amounts){.hours = 1}, NY),
            utc(2027, 1, 1, 5, 30, 0), "Dec 31 23:30 + 1 hour = Jan 1 00:30");
  CHECK_INT(
      add(utc(2026, 12, 15, 17, 0, 0), (date_amounts){.months = 1, .days = 20}, NY),
      utc(2027, 2, 4, 17, 0, 0), "Dec 15 + 1 month 20 days = Feb 4");
  /* out of range */
  CHECK_INT(add(utc(9999, 12, 1, 0, 0, 0), (date_amounts){.months = 1}, "UTC"), -1,
            "past 9999 is refused");
  CHECK_HAS(err, "9999", "  naming the range");
  CHECK_INT(add(0, (date_amounts){.days = 4000000}, "UTC"), -1,
            "4,000,000 days is refused");
  CHECK_HAS(err, "4000000", "  naming the amount");
  CHECK_INT(add(0, (date_amounts){.days = 1}, "Mars/Base"), -1,
            "a bad zone is refused");
  CHECK_HAS(err, "'Mars/Base' is not a time zone", "  naming it");
}

static void test_age(void) {
  CHECK_INT(age("1990-05-17", utc(2026, 5, 16, 12, 0, 0), "UTC"), 35,
            "the day before: 35");
  CHECK_INT(age("1990-05-17", utc(2026, 5, 17, 0, 0, 0), "UTC"), 36, "on the day: 36");
  /* the day is the zone's: 02:00 UTC on May 17 is still May 16 in New York */
  CHECK_INT(age("1990-05-17", utc(2026, 5, 17, 2, 0, 0), NY), 35,
            "May 16 in New York: 35");
  CHECK_INT(age("1990-05-17", utc(2026, 5, 17, 4, 0, 0), NY), 36,
            "May 17 in New York: 36");
  /* Feb 29: reached on Feb 28 in common years */
  CHECK_INT(age("2000-02-29", utc(2027, 2, 27, 12, 0, 0), "UTC"), 26,
            "Feb 27 2027: 26");
  CHECK_INT(age("2000-02-29", utc(2027, 2, 28, 12, 0, 0), "UTC"), 27,
            "Feb 28 2027: 27");
  CHECK_INT(age("2000-02-29", utc(2028, 2, 28, 12, 0, 0), "UTC"), 27,
            "Feb 28 2028: 27");
  CHECK_INT(age("2000-02-29", utc(2028, 2, 29, 12, 0, 0), "UTC"), 28,
            "Feb 29 2028: 28");
  CHECK_INT(age("2026-03-10", utc(2026, 3, 10, 12, 0, 0), "UTC"), 0, "born today: 0");
  CHECK_INT(age("1900-01-01", utc(2026, 1, 1, 0, 0, 0), "UTC"), 126, "born in 1900");
  CHECK_INT(age("2027-01-01", utc(2026, 3, 10, 12, 0, 0), "UTC"), -1,
            "a birthday ahead");
  CHECK_HAS(err, "'2027-01-01' is after 2026-03-10", "  is refused, naming both");
  CHECK_INT(age("2026-02-30", utc(2026, 3, 10, 12, 0, 0), "UTC"), -1, "Feb 30");
  CHECK_HAS(err, "'2026-02-30' is not a date", "  is refused");
  CHECK_INT(age("2026-02-03T10:00", utc(2026, 3, 10, 12, 0, 0), "UTC"), -1, "a time");
  CHECK_HAS(err, "'2026-02-03T10:00' is not a date like 1990-05-17", "  is refused");
}

static void test_parts(void) {
  date_parts p = {0};
  CHECK(date_to_parts(utc(2026, 3, 10, 18, 30, 15), NY, &p, err, sizeof err) == 0 &&
            p.year == 2026 && p.month == 3 && p.day == 10 && p.hour == 14 &&
            p.min == 30 && p.sec == 15 && p.wday == 3 && p.yday == 69 && p.isdst == 1,
        "Tue Mar 10 2026 14:30:15 EDT: %d-%d-%d %d:%d:%d wday %d yday %d dst %d",
        p.year, p.month, p.day, p.hour, p.min, p.sec, p.wday, p.yday, p.isdst);
  CHECK(date_to_parts(utc(2027, 1, 1, 3, 0, 0), "America/Los_Angeles", &p, err,
                      sizeof err) == 0 &&
            p.year == 2026 && p.month == 12 && p.day == 31 && p.wday == 5 &&
            p.yday == 365 && p.isdst == 0,
        "Thu Dec 31 2026 in Los Angeles");
  CHECK(date_to_parts(utc(2028, 12, 31, 12, 0, 0), "UTC", &p, err, sizeof err) == 0 &&
            p.yday == 366,
        "Dec 31 2028 is day 366");
  int64_t out;
  CHECK(
      date_start_of_day(utc(2026, 3, 10, 18, 30, 0), NY, &out, err, sizeof err) == 0 &&
          out == utc(2026, 3, 10, 4, 0, 0),
      "the start of Mar 10 in New York is 04:00 UTC");
  CHECK(date_start_of_day(utc(2026, 3, 8, 18, 30, 0), NY, &out, err, sizeof err) == 0 &&
            out == utc(2026, 3, 8, 5, 0, 0),
        "the start of the spring-forward day is 05:00 UTC (EST)");
  CHECK(date_start_of_day(utc(2026, 3, 10, 18, 30, 0), "Asia/Kolkata", &out, err,
                          sizeof err) == 0 &&
            out == utc(2026, 3, 10, 18, 30, 0),
        "midnight in Kolkata is 18:30 UTC");
  /* Havana moves its clocks from 00:00 to 01:00 (Sunday Mar 8 2026): the day
   * starts at 01:00 CDT */
  CHECK(date_start_of_day(utc(2026, 3, 8, 18, 0, 0), "America/Havana", &out, err,
                          sizeof err) == 0 &&
            out == utc(2026, 3, 8, 5, 0, 0),
        "a day without a midnight starts at 01:00: %lld", (long long)out);
  CHECK(date_to_parts(0, "Nowhere/City", &p, err, sizeof err) == -1 &&
            strstr(err, "'Nowhere/City' is not a time zone"),
        "a bad zone is refused: %s", err);
}

int main(void) {
  test_parse();
  test_format();
  test_add();
  test_age();
  test_parts();
  return test_done();
}
