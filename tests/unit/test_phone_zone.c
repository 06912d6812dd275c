/* Unit tests for runtime/core/phone_zone.h: the time zone a phone number's area
 * code (upstream libphonenumber's prefix -> time-zone map, from Debian's
 * python3-phonenumbers, generated into $(B)/phone_tz_data.h) or else its
 * country (libphonenumber for the country, ICU for its zones) implies.
 *
 *   make build/test_phone_zone && ./build/test_phone_zone
 *
 * Numbers from countries with several zones get the zone of their area code
 * where the map gives exactly one; where it gives several, or the number has
 * no area (mobile numbers in Russia or Australia, toll-free), the country
 * decides, so those stay unknown (0) for the bot's zone to apply. */
#include <pthread.h>

#include "clock.h"
#include "phone_zone.h"
#include "test.h"

/* number -> zone, with the return value 1 and a name ICU accepts. */
static void expect_zone(const char *number, const char *want) {
  char zone[64] = "junk";
  int got = phone_zone_for(number, zone, sizeof zone);
  CHECK_INT(got, 1, "%s has a zone", number);
  CHECK_STR(zone, want, "%s is in %s", number, want);
  CHECK(clock_valid_zone(zone), "%s: \"%s\" is a zone clock.c accepts",
        number, zone);
}

/* A valid number of region whose zone is unknown: 0 and "". */
static void expect_unknown(const char *number, const char *region,
                           const char *why) {
  char got_region[8] = "";
  CHECK_INT(phone_region_for(number, got_region, sizeof got_region), 1,
            "%s is a valid number", number);
  CHECK_STR(got_region, region, "%s is in region %s", number, region);
  char zone[64] = "junk";
  CHECK_INT(phone_zone_for(number, zone, sizeof zone), 0,
            "%s (%s) has no zone: %s", number, region, why);
  CHECK_STR(zone, "", "%s: zone is emptied", number);
}

/* A valid number of region with a zone: its region is checked too, so an
 * answer from the wrong country cannot pass. */
static void expect_zone_in(const char *number, const char *region,
                           const char *want) {
  char got_region[8] = "";
  CHECK_INT(phone_region_for(number, got_region, sizeof got_region), 1,
            "%s is a valid number", number);
  CHECK_STR(got_region, region, "%s is in region %s", number, region);
  expect_zone(number, want);
}

/* Not a valid number: 0 and "" from both functions. */
static void expect_invalid(const char *number, const char *what) {
  char zone[64] = "junk", region[8] = "junk";
  CHECK_INT(phone_zone_for(number, zone, sizeof zone), 0, "%s: no zone", what);
  CHECK_STR(zone, "", "%s: zone is emptied", what);
  CHECK_INT(phone_region_for(number, region, sizeof region), 0,
            "%s: no region", what);
  CHECK_STR(region, "", "%s: region is emptied", what);
}

static void test_single_zone_countries(void) {
  expect_zone("+33 1 42 68 53 00", "Europe/Paris");
  expect_zone("+33142685300", "Europe/Paris");  /* the same, as E.164 */
  expect_zone("+49 30 2273 2152", "Europe/Berlin");
  expect_zone("+44 20 7946 0018", "Europe/London");
  expect_zone("+81 3 1234 5678", "Asia/Tokyo");
  expect_zone("+39 02 1234 5678", "Europe/Rome");
}

/* Countries whose zones differ: the area code decides, from the prefix map. */
static void test_area_codes(void) {
  expect_zone_in("+1 212 555 0100", "US", "America/New_York");
  expect_zone_in("+1 212 736 5000", "US", "America/New_York");
  expect_zone_in("+1 312 744 5000", "US", "America/Chicago");
  expect_zone_in("+1 415 554 4000", "US", "America/Los_Angeles");
  expect_zone_in("+1 303 555 1234", "US", "America/Denver");
  expect_zone_in("+1 808 555 1234", "US", "Pacific/Honolulu");
  expect_zone_in("+1 416 392 2489", "CA", "America/Toronto");
  expect_zone_in("+61 2 9123 4567", "AU", "Australia/Sydney");
  expect_zone_in("+61 2 1234 5678", "AU", "Australia/Sydney");
  expect_zone_in("+7 495 123 45 67", "RU", "Europe/Moscow");
  expect_zone_in("+34 928 12 34 56", "ES", "Atlantic/Canary"); /* Las Palmas */
  expect_zone_in("+34 91 123 45 67", "ES", "Europe/Madrid");
  expect_zone_in("+55 11 2345 6789", "BR", "America/Sao_Paulo");
  /* Brazilian mobile numbers keep their area code (geographic upstream). */
  expect_zone_in("+55 11 96123 4567", "BR", "America/Sao_Paulo");
  /* The longest prefix wins: +1 208 is Boise and Los Angeles time alike,
   * +1 208 245 only Los Angeles, +1 208 3 only Denver. */
  expect_zone_in("+1 208 245 1234", "US", "America/Los_Angeles");
  expect_zone_in("+1 208 345 1234", "US", "America/Denver");
}

/* Where the area gives no one zone, the country decides: unknown for these. */
static void test_no_area_zone(void) {
  expect_unknown("+1 208 212 3456", "US", "+1 208 2 is Boise or Los Angeles");
  expect_unknown("+61 8 5101 2345", "AU", "+61 8 510 is Adelaide or Perth");
  expect_unknown("+1 709 234 5678", "CA", "+1 709 is two zones in the map");
  /* Mobile and toll-free numbers have no area upstream, whatever the map's
   * entry for their digits (+7 9 is Moscow, +61 4 Sydney, +34 6 Madrid). */
  expect_unknown("+7 916 123 45 67", "RU", "a mobile number");
  expect_unknown("+61 412 345 678", "AU", "a mobile number");
  expect_unknown("+34 612 34 56 78", "ES", "a mobile number");
  expect_unknown("+1 800 555 0199", "US", "a toll-free number");
  /* The map's zone must be the region's own: +52 998 (Cancun) is
   * America/New_York there, a US zone, so Mexico's answer (none) holds. */
  expect_unknown("+52 998 123 4567", "MX", "the map's zone is not Mexican");
}

/* A prefix with several zones, or only the country code's entry, leaves the
 * country's answer. */
static void test_country_answer(void) {
  /* +44 77 is London, Guernsey or the Isle of Man: Guernsey's own. */
  expect_zone_in("+44 7781 123456", "GG", "Europe/Guernsey");
  /* The map has +60 as Asia/Kuching alone; CLDR's Malaysian zone stays. */
  expect_zone_in("+60 3 2123 4567", "MY", "Asia/Kuala_Lumpur");
  /* The map has +212 as Atlantic/Canary; ICU's only Moroccan zone stays. */
  expect_zone_in("+212 522 123 456", "MA", "Africa/Casablanca");
}

/* +1 is shared: the region, not the country code, decides. */
static void test_nanp(void) {
  expect_zone_in("+1 876 927 1660", "JM", "America/Jamaica");
  expect_zone_in("+1 787 722 2121", "PR", "America/Puerto_Rico");
  expect_zone_in("+1 416 392 2489", "CA", "America/Toronto");
  char region[8];
  CHECK_INT(phone_region_for("+1 876 927 1660", region, sizeof region), 1,
            "a Jamaican number has a region");
  CHECK_STR(region, "JM", "+1 876 is Jamaica, not the US");
}

/* Several zones keeping one clock: CLDR names the one to use. */
static void test_one_clock_countries(void) {
  expect_zone("+49 7734 1234", "Europe/Berlin"); /* Busingen's own code */
  expect_zone("+54 11 4321 1234", "America/Buenos_Aires");
  expect_zone("+60 3 2123 4567", "Asia/Kuala_Lumpur");
  expect_zone("+358 18 12345", "Europe/Mariehamn"); /* Aland, +358 18 */
}

/* Territories with their own region get their own zone name. */
static void test_territories(void) {
  expect_zone("+44 7781 123456", "Europe/Guernsey");
  char region[8];
  CHECK_INT(phone_region_for("+44 7781 123456", region, sizeof region), 1,
            "a Guernsey mobile has a region");
  CHECK_STR(region, "GG", "+44 7781 is Guernsey");
  expect_zone("+39 06 6988 1234", "Europe/Vatican"); /* +39, not Italy */
}

static void test_invalid(void) {
  expect_invalid("+999123", "+999123 (no such country code)");
  expect_invalid("abc", "\"abc\"");
  expect_invalid("", "the empty string");
  expect_invalid(NULL, "NULL");
  expect_invalid("+33 1", "+33 1 (too short)");
  expect_invalid("33142685300", "a number without +");
  expect_invalid("+800 1234 5678", "+800 (non-geographic)");
}

static void test_buffer(void) {
  char zone[32];
  memset(zone, 'x', sizeof zone);
  /* "Europe/Paris" needs 13 bytes: 12 do not hold it. */
  CHECK_INT(phone_zone_for("+33142685300", zone, 12), 0,
            "a buffer one byte short gets 0");
  CHECK_INT(zone[0], 0, "and an empty string");
  CHECK_INT(zone[12], 'x', "and nothing past the size given");
  CHECK_INT(phone_zone_for("+33142685300", zone, 13), 1,
            "a buffer of exactly 13 bytes holds Europe/Paris");
  CHECK_STR(zone, "Europe/Paris", "which it then says");
  CHECK_INT(zone[13], 'x', "without writing past it");
  CHECK_INT(phone_zone_for("+33142685300", NULL, 0), 0, "no buffer: 0");
  zone[0] = 'x';
  CHECK_INT(phone_zone_for("+33142685300", zone, 0), 0, "size 0: 0");
  CHECK_INT(zone[0], 'x', "size 0 writes nothing");
}

/* Several threads at once, on regions no test above has looked up (so they
 * race to fill the cache), get the answers one thread gets afterwards. */
enum { THREADS = 4, ROUNDS = 200 };
static const char *const thread_numbers[] = {
    "+31 20 123 4567",  "+45 32 12 34 56", "+55 11 2345 6789",
    "+998 71 123 4567", "+64 9 123 4567",  "+91 11 2345 6789",
    "+420 212 345 678", "abc"};
enum { NUMBERS = sizeof thread_numbers / sizeof thread_numbers[0] };

typedef struct {
  char zone[NUMBERS][64]; /* the first round's answers */
  int ok[NUMBERS];
  long changed;           /* later rounds that differed from the first */
} thread_result;

static void *thread_main(void *arg) {
  thread_result *res = arg;
  for (int r = 0; r < ROUNDS; r++)
    for (int i = 0; i < NUMBERS; i++) {
      char zone[64];
      int ok = phone_zone_for(thread_numbers[i], zone, sizeof zone);
      if (r == 0) {
        res->ok[i] = ok;
        memcpy(res->zone[i], zone, sizeof zone);
      } else if (ok != res->ok[i] || strcmp(zone, res->zone[i]) != 0) {
        res->changed++;
      }
    }
  return NULL;
}

static void test_threads(void) {
  static thread_result res[THREADS];
  pthread_t t[THREADS];
  int started = 0;
  for (int i = 0; i < THREADS; i++)
    if (pthread_create(&t[i], NULL, thread_main, &res[i]) == 0) started++;
  for (int i = 0; i < started; i++) pthread_join(t[i], NULL);
  CHECK_INT(started, THREADS, "%d threads started", THREADS);
  long changed = 0, differ = 0;
  for (int i = 0; i < started; i++) changed += res[i].changed;
  for (int n = 0; n < NUMBERS; n++) {
    char want[64];
    int want_ok = phone_zone_for(thread_numbers[n], want, sizeof want);
    for (int i = 0; i < started; i++) {
      if (res[i].ok[n] != want_ok || strcmp(res[i].zone[n], want) != 0) {
        differ++;
        test_note("thread %d: %s -> %d \"%s\", alone -> %d \"%s\"", i,
                  thread_numbers[n], res[i].ok[n], res[i].zone[n], want_ok,
                  want);
      }
    }
  }
  CHECK_INT(differ, 0, "%d threads agree with one thread afterwards", THREADS);
  CHECK_INT(changed, 0, "each thread's %d rounds agree", ROUNDS);
  char zone[64];
  CHECK_INT(phone_zone_for("+31 20 123 4567", zone, sizeof zone), 1,
            "the threads' Dutch number has a zone");
  CHECK_STR(zone, "Europe/Amsterdam", "Europe/Amsterdam");
  CHECK_INT(phone_zone_for("+55 11 2345 6789", zone, sizeof zone), 1,
            "the threads' Brazilian number has one");
  CHECK_STR(zone, "America/Sao_Paulo", "America/Sao_Paulo");
  CHECK_INT(phone_zone_for("+998 71 123 4567", zone, sizeof zone), 1,
            "the threads' Uzbek number has one");
  CHECK_STR(zone, "Asia/Tashkent", "Asia/Tashkent");
}

int main(void) {
  test_single_zone_countries();
  test_area_codes();
  test_no_area_zone();
  test_country_answer();
  test_nanp();
  test_one_clock_countries();
  test_territories();
  test_invalid();
  test_buffer();
  test_threads();
  return test_done();
}
