/* Unit tests for runtime/core/clock.h: durations, time-zone names, and local
 * wall-clock times across daylight-saving changes.
 *
 *   make build/test_clock && ./build/test_clock */
#include <time.h>

#include "clock.h"
#include "test.h"

enum { SECOND = 1000, MINUTE = 60 * SECOND, HOUR = 60 * MINUTE };

/* ms since the epoch of a UTC date and time. */
static int64_t utc_ms(int y, int mo, int d, int h, int mi) {
  struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
                  .tm_hour = h, .tm_min = mi};
  return (int64_t)timegm(&tm) * 1000;
}

static void expect_duration(const char *text, int64_t want) {
  CHECK_INT(clock_parse_duration(text), want, "duration \"%s\" is %lld ms",
            text, (long long)want);
}

static void expect_not_duration(const char *text) {
  CHECK_INT(clock_parse_duration(text), -1, "\"%s\" is not a duration", text);
}

static void test_durations(void) {
  expect_duration("90s", 90 * SECOND);
  expect_duration("15m", 15 * MINUTE);
  expect_duration("2h", 2 * HOUR);
  expect_duration("3d", 3 * 24LL * HOUR);
  expect_duration("1w", 7 * 24LL * HOUR);
  expect_duration("1h30m", HOUR + 30 * MINUTE);
  expect_duration("500ms", 500);
  expect_duration("1m30s", MINUTE + 30 * SECOND);
  expect_duration("0s", 0);
}

static void test_non_durations(void) {
  expect_not_duration("");
  expect_not_duration("h");
  expect_not_duration("5");
  expect_not_duration("-5m");
  expect_not_duration("5x");
  expect_not_duration("1.5h");
  expect_not_duration(" 5m");
  expect_not_duration("5m ");
  expect_not_duration("1h30");
  expect_not_duration("5 m");
}

/* A sum that does not fit in 64 bits is no duration (not a wrapped value). */
static void test_duration_overflow_is_refused(void) {
  char text[4096] = "";
  for (int i = 0; i < 200; i++) strcat(text, "99999999w");
  int64_t d = clock_parse_duration(text);
  CHECK_INT(d, -1, "200 x \"99999999w\" (more than 2^63 ms) is not a duration");
}

static void test_time_zones(void) {
  CHECK(clock_valid_zone("America/New_York"), "America/New_York is a zone");
  CHECK(clock_valid_zone("UTC"), "UTC is a zone");
  CHECK(clock_valid_zone("Europe/Berlin"), "Europe/Berlin is a zone");
  CHECK(!clock_valid_zone("Mars/Olympus"), "Mars/Olympus is not a zone");
  CHECK(!clock_valid_zone(""), "\"\" is not a zone");
  CHECK(!clock_valid_zone("America/New York"),
        "\"America/New York\" (a space) is not a zone");
  CHECK(!clock_valid_zone(NULL), "NULL is not a zone");
}

/* Parses or records a failure; returns INT64_MIN when it failed. */
static int64_t parse_local(const char *datetime, const char *zone) {
  int64_t ms = 0;
  char err[256] = "";
  if (clock_parse_local(datetime, zone, &ms, err, sizeof err) != 0) {
    test_note("clock_parse_local(\"%s\", \"%s\") failed: %s", datetime, zone,
              err);
    return INT64_MIN;
  }
  return ms;
}

static void test_parse_local_plain_times(void) {
  CHECK_INT(parse_local("2026-03-02 10:00", "UTC"), utc_ms(2026, 3, 2, 10, 0),
            "2026-03-02 10:00 UTC");
  CHECK_INT(parse_local("2026-03-02 10:00", "America/New_York"),
            utc_ms(2026, 3, 2, 15, 0),
            "2026-03-02 10:00 New York (EST) is 15:00 UTC");
  CHECK_INT(parse_local("2026-07-01 10:00", "Europe/Berlin"),
            utc_ms(2026, 7, 1, 8, 0),
            "2026-07-01 10:00 Berlin (CEST) is 08:00 UTC");
  CHECK_INT(parse_local("2026-03-02 10:00:30", "UTC"),
            utc_ms(2026, 3, 2, 10, 0) + 30 * SECOND,
            "seconds are read: 2026-03-02 10:00:30 UTC");
  CHECK_INT(parse_local("2024-02-29 12:00", "UTC"), utc_ms(2024, 2, 29, 12, 0),
            "2024-02-29 exists (a leap year)");
}

/* 2026-03-08: New York springs forward, 02:00 EST -> 03:00 EDT. */
static void test_parse_local_spring_forward(void) {
  int64_t before = parse_local("2026-03-08 01:30", "America/New_York");
  int64_t after = parse_local("2026-03-08 03:30", "America/New_York");
  CHECK_INT(before, utc_ms(2026, 3, 8, 6, 30), "01:30 EST on 2026-03-08");
  CHECK_INT(after, utc_ms(2026, 3, 8, 7, 30), "03:30 EDT on 2026-03-08");
  CHECK_INT(after - before, HOUR,
            "01:30 and 03:30 on the spring-forward day are one hour apart");

  /* 02:30 never happens that day: refused, not silently moved */
  int64_t ms = 12345;
  char err[256] = "";
  int rc = clock_parse_local("2026-03-08 02:30", "America/New_York", &ms, err,
                             sizeof err);
  if (!test_result(rc == -1, "2026-03-08 02:30 New York (skipped) is refused"))
    test_note("got %lld (%s UTC + %lld min)", (long long)ms,
              "2026-03-08 00:00", (long long)((ms - utc_ms(2026, 3, 8, 0, 0)) / MINUTE));
  CHECK_HAS(err, "2026-03-08 02:30", "the refusal names the time");
  CHECK_INT(ms, 12345, "a refused time leaves *out alone");
}

/* 2026-11-01: New York falls back, 02:00 EDT -> 01:00 EST. */
static void test_parse_local_fall_back(void) {
  int64_t before = parse_local("2026-11-01 00:30", "America/New_York");
  int64_t after = parse_local("2026-11-01 02:30", "America/New_York");
  CHECK_INT(before, utc_ms(2026, 11, 1, 4, 30), "00:30 EDT on 2026-11-01");
  CHECK_INT(after, utc_ms(2026, 11, 1, 7, 30), "02:30 EST on 2026-11-01");
  CHECK_INT(after - before, 3 * HOUR,
            "00:30 and 02:30 on the fall-back day are three hours apart");

  /* 01:30 happens twice; either is a fair reading, and it must print back */
  int64_t twice = parse_local("2026-11-01 01:30", "America/New_York");
  CHECK(twice == utc_ms(2026, 11, 1, 5, 30) || twice == utc_ms(2026, 11, 1, 6, 30),
        "01:30 on the fall-back day is one of its two occurrences");
  char out[64];
  clock_format_local(twice, "America/New_York", out, sizeof out);
  CHECK_STR(out, "2026-11-01 01:30", "the repeated 01:30 formats back");
}

static void expect_refused(const char *datetime, const char *zone,
                           const char *err_part) {
  int64_t ms = 0;
  char err[256] = "";
  int rc = clock_parse_local(datetime, zone, &ms, err, sizeof err);
  if (!test_result(rc == -1, "\"%s\" in %s is refused", datetime, zone))
    test_note("got %lld", (long long)ms);
  else
    CHECK_HAS(err, err_part, "the refusal of \"%s\" in %s says why", datetime,
              zone);
}

static void test_parse_local_refusals(void) {
  expect_refused("2026-02-30 10:00", "UTC", "2026-02-30 10:00");
  expect_refused("2026-13-01 10:00", "UTC", "2026-13-01 10:00");
  expect_refused("2025-02-29 10:00", "UTC", "2025-02-29 10:00");
  expect_refused("2026-03-02 24:00", "UTC", "2026-03-02 24:00");
  expect_refused("2026-03-02 10:60", "UTC", "2026-03-02 10:60");
  expect_refused("garbage", "UTC", "garbage");
  expect_refused("", "UTC", "is not a time");
  expect_refused("2026-03-02", "UTC", "2026-03-02");
  expect_refused("2026-03-02 10:00", "Mars/Olympus", "Mars/Olympus");
  expect_refused("2026-03-02 10:00", "", "time zone");
  /* text after the time must not be dropped: "10:00pm" is not 10:00 */
  expect_refused("2026-03-02 10:00pm", "UTC", "2026-03-02 10:00pm");
  expect_refused("2026-03-02 10:00 tomorrow", "UTC", "tomorrow");
  expect_refused("2026-03-02 10:00:30x", "UTC", "2026-03-02 10:00:30x");
  /* times before 1970 (negative: due at once) and signed years */
  expect_refused("1969-12-31 23:59", "UTC", "1970 to 9999");
  expect_refused("1970-01-01 00:30", "Europe/Paris", "1970 to 9999");
  expect_refused("-999-01-01 00:00", "UTC", "-999-01-01");
  expect_refused("0000-01-01 00:00", "UTC", "0000-01-01");
  CHECK_INT(parse_local("9999-12-31 23:59:59", "UTC"), CLOCK_MAX_SECONDS * 1000,
            "the end of 9999 is the latest time");
  CHECK_INT(parse_local("1970-01-01 00:00", "UTC"), 0, "1970 is the earliest");
}

static void expect_round_trip(const char *datetime, const char *zone) {
  int64_t ms = parse_local(datetime, zone);
  char out[64] = "";
  clock_format_local(ms, zone, out, sizeof out);
  CHECK_STR(out, datetime, "\"%s\" in %s formats back the same", datetime,
            zone);
}

static void test_format_local(void) {
  char out[64];
  clock_format_local(0, "UTC", out, sizeof out);
  CHECK_STR(out, "1970-01-01 00:00", "the epoch in UTC");
  clock_format_local(utc_ms(2026, 3, 8, 7, 30), "America/New_York", out,
                     sizeof out);
  CHECK_STR(out, "2026-03-08 03:30", "07:30 UTC on spring-forward day is 03:30 EDT");
  clock_format_local(utc_ms(2026, 1, 1, 0, 0), "Europe/Berlin", out, sizeof out);
  CHECK_STR(out, "2026-01-01 01:00", "new year UTC is 01:00 in Berlin");
  expect_round_trip("2026-03-02 10:00", "America/New_York");
  expect_round_trip("2026-07-04 09:15", "America/Chicago");
  expect_round_trip("2026-03-08 03:30", "America/New_York");
  expect_round_trip("2026-12-31 23:59", "Europe/Berlin");
  expect_round_trip("2026-06-15 00:00", "UTC");
}

int main(void) {
  test_durations();
  test_non_durations();
  test_duration_overflow_is_refused();
  test_time_zones();
  test_parse_local_plain_times();
  test_parse_local_spring_forward();
  test_parse_local_fall_back();
  test_parse_local_refusals();
  test_format_local();
  return test_done();
}
