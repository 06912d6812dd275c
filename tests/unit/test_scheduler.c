/* Unit tests for runtime/core/scheduler.h: recurring schedules and quiet hours
 * in a zone's own wall clock, across DST changes and midnight.
 *
 *   make build/test_scheduler && ./build/test_scheduler */
#include "scheduler.h"

#include "clock.h"
#include "test.h"

static int64_t at(const char *local, const char *zone) {
  int64_t ms = 0;
  char err[256];
  if (clock_parse_local(local, zone, &ms, err, sizeof err)) {
    printf("# bad test time %s: %s\n", local, err);
    return -1;
  }
  return ms;
}

static void expect_next(const char *spec, const char *after, const char *zone,
                        const char *want) {
  schedule s;
  char err[256];
  int rc = schedule_parse(spec, &s, err, sizeof err);
  CHECK(rc == 0, "'%s' parses", spec);
  if (rc) return;
  int64_t next = schedule_next(&s, at(after, zone), zone);
  char got[64];
  clock_format_local(next, zone, got, sizeof got);
  CHECK_STR(got, want, "'%s' after %s in %s", spec, after, zone);
}

static void expect_refused(const char *spec) {
  schedule s;
  char err[256] = "";
  int rc = schedule_parse(spec, &s, err, sizeof err);
  CHECK(rc == -1 && strstr(err, spec) != NULL, "'%s' is refused with a sentence naming it", spec);
}

static void expect_quiet(const char *when, const char *zone, const char *start,
                         const char *end, const char *release) {
  quiet_hours q;
  char err[256];
  int rc = quiet_parse(start, end, &q, err, sizeof err);
  CHECK(rc == 0, "quiet %s-%s parses", start, end);
  if (rc) return;
  int64_t r = quiet_release(&q, at(when, zone), zone);
  if (!release) {
    CHECK_INT(r, 0, "%s in %s is outside %s-%s", when, zone, start, end);
    return;
  }
  char got[64] = "";
  if (r) clock_format_local(r, zone, got, sizeof got);
  CHECK_STR(got, release, "%s in %s (quiet %s-%s) waits until", when, zone, start, end);
}

int main(void) {
  /* schedules */
  expect_next("daily 09:00", "2026-03-02 08:00", "America/New_York", "2026-03-02 09:00");
  expect_next("daily 09:00", "2026-03-02 09:00", "America/New_York", "2026-03-03 09:00");
  expect_next("mon 10:00", "2026-03-02 10:30", "America/New_York", "2026-03-09 10:00");
  expect_next("Monday 10:00", "2026-03-01 23:00", "Europe/Berlin", "2026-03-02 10:00");
  expect_next("weekdays 08:30", "2026-03-06 09:00", "UTC", "2026-03-09 08:30");
  expect_next("weekends 11:00", "2026-03-04 12:00", "UTC", "2026-03-07 11:00");
  expect_next("every 15m", "2026-03-02 10:00", "UTC", "2026-03-02 10:15");
  /* DST: spring forward in New York on 2026-03-08 (02:00 -> 03:00) */
  expect_next("daily 10:00", "2026-03-07 10:00", "America/New_York", "2026-03-08 10:00");
  expect_next("daily 02:30", "2026-03-07 03:00", "America/New_York", "2026-03-08 03:30");
  {
    schedule s;
    char err[256];
    schedule_parse("daily 10:00", &s, err, sizeof err);
    int64_t a = schedule_next(&s, at("2026-03-07 09:00", "America/New_York"), "America/New_York");
    int64_t b = schedule_next(&s, a, "America/New_York");
    CHECK_INT(b - a, 23 * 3600 * 1000LL, "the day of the spring-forward change is 23 hours long");
    a = schedule_next(&s, at("2026-10-31 09:00", "America/New_York"), "America/New_York");
    b = schedule_next(&s, a, "America/New_York");
    CHECK_INT(b - a, 25 * 3600 * 1000LL, "the day of the fall-back change is 25 hours long");
  }
  expect_refused("sometimes");
  expect_refused("daily 25:00");
  expect_refused("daily 9");
  expect_refused("funday 10:00");
  expect_refused("every 10s");
  expect_refused("every soon");
  expect_refused("daily 09:00 extra");
  expect_refused("");

  /* quiet hours crossing midnight */
  expect_quiet("2026-03-02 22:30", "America/New_York", "21:00", "09:00", "2026-03-03 09:00");
  expect_quiet("2026-03-03 01:00", "America/New_York", "21:00", "09:00", "2026-03-03 09:00");
  expect_quiet("2026-03-02 09:00", "America/New_York", "21:00", "09:00", NULL);
  expect_quiet("2026-03-02 20:59", "America/New_York", "21:00", "09:00", NULL);
  expect_quiet("2026-03-02 21:00", "America/New_York", "21:00", "09:00", "2026-03-03 09:00");
  /* a window within one day */
  expect_quiet("2026-03-02 13:30", "UTC", "13:00", "14:00", "2026-03-02 14:00");
  expect_quiet("2026-03-02 14:00", "UTC", "13:00", "14:00", NULL);
  /* the night of the spring-forward change: 09:00 comes an hour sooner */
  {
    quiet_hours q;
    char err[256];
    quiet_parse("21:00", "09:00", &q, err, sizeof err);
    int64_t from = at("2026-03-07 23:00", "America/New_York");
    int64_t r = quiet_release(&q, from, "America/New_York");
    CHECK_INT(r - from, 9 * 3600 * 1000LL, "23:00 to 09:00 across spring-forward is 9 hours");
  }
  /* the same moment is quiet in one zone and not in another */
  expect_quiet("2026-03-02 22:30", "America/Los_Angeles", "21:00", "09:00", "2026-03-03 09:00");
  {
    quiet_hours q;
    char err[256];
    quiet_parse("21:00", "09:00", &q, err, sizeof err);
    int64_t t = at("2026-03-02 22:30", "America/Los_Angeles"); /* 07:30 in Berlin */
    char got[64] = "";
    clock_format_local(quiet_release(&q, t, "Europe/Berlin"), "Europe/Berlin", got, sizeof got);
    CHECK_STR(got, "2026-03-03 09:00", "07:30 in Berlin waits until 09:00 Berlin time");
  }
  {
    quiet_hours q;
    char err[256] = "";
    CHECK(quiet_parse("9pm", "09:00", &q, err, sizeof err) == -1 && strstr(err, "9pm"),
          "a quiet time that is not HH:MM is refused, naming it");
  }
  return test_done();
}
