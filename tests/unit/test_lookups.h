/* test_lookups.h: the store's look-ups of many numbers at once
 * (store_contacts_get_many, store_suppressed_many) against their one-number
 * forms, the same on SQLite and PostgreSQL (test_store.c, test_store_pg.c). */
#ifndef PARLEY_TEST_LOOKUPS_H
#define PARLEY_TEST_LOOKUPS_H

#include <stdint.h>
#include <string.h>

#include "store.h"
#include "test.h"

typedef struct lookups_seen {
  int n, first, second;
  char first_state[64], first_expect[64];
} lookups_seen;

static void lookups_row(void *ud, contact_row *r) {
  lookups_seen *s = ud;
  s->n++;
  if (strcmp(r->number, "+15557001") == 0) {
    s->first++;
    snprintf(s->first_state, sizeof s->first_state, "%s", r->state ? r->state : "(none)");
    snprintf(s->first_expect, sizeof s->first_expect, "%s", r->expect ? r->expect : "(none)");
  } else if (strcmp(r->number, "+15557002") == 0) {
    s->second++;
  }
}

/* st: an open store of any kind; ids from 7001 on must be free. */
static void test_lookups_many(store *st, const char *kind) {
  int64_t bot = store_bot_ensure(st, "lookups", 1000),
          other = store_bot_ensure(st, "lookups-other", 1000);
  CHECK(store_begin(st) == 0, "%s: a write transaction (%s)", kind,
        store_error(store_reads(st)));
  store_contact_insert(st, 7001, bot, "+15557001", 1000);
  store_contact_insert(st, 7002, bot, "+15557002", 1000);
  store_contact_insert(st, 7003, bot, "+15557003", 1000);
  store_contact_insert(st, 7004, other, "+15557004", 1000);
  store_conversation_save(st, 7001, "{\"step\":2}", "city", 1000);
  CHECK_INT(store_contact_erase(st, bot, 7003, "+15557003", 1, 1000), 0,
            "%s: an opted-out contact is erased (%s)", kind, store_error(store_reads(st)));
  CHECK(store_commit(st) == 0, "%s: committed (%s)", kind, store_error(store_reads(st)));

  store_reader *rd = store_reads(st);
  const char *numbers[] = {"+15557001", "+15559999", "+15557002", "+15557001",
                           "+15557004", "+15557003"};
  lookups_seen s = {0};
  CHECK_INT(store_contacts_get_many(rd, bot, numbers, 6, lookups_row, &s), 0,
            "%s: many contacts looked up at once (%s)", kind, store_error(rd));
  CHECK(s.n == 2 && s.first == 1 && s.second == 1,
        "%s: the bot's two contacts among them, each once, whatever the repeats"
        " (%d rows: %d, %d)", kind, s.n, s.first, s.second);
  CHECK_STR(s.first_state, "{\"step\":2}", "%s: with its conversation's state", kind);
  CHECK_STR(s.first_expect, "city", "%s: and what it expects", kind);
  s = (lookups_seen){0};
  CHECK_INT(store_contacts_get_many(rd, bot, numbers + 1, 1, lookups_row, &s), 0,
            "%s: a list of one unknown number", kind);
  CHECK_INT(s.n, 0, "%s: finds nothing", kind);
  CHECK_INT(store_contacts_get_many(rd, bot, numbers, 0, lookups_row, &s), 0,
            "%s: an empty list asks nothing", kind);

  unsigned char got[6];
  memset(got, 9, sizeof got);
  CHECK_INT(store_suppressed_many(rd, bot, numbers, 6, got), 0,
            "%s: many numbers' suppression looked up at once (%s)", kind, store_error(rd));
  int same = 1;
  for (int i = 0; i < 6; i++) same &= got[i] == store_is_suppressed(rd, bot, numbers[i]);
  CHECK(same && got[5] == 1 && got[0] == 0,
        "%s: each answer is store_is_suppressed's (%d%d%d%d%d%d)", kind, got[0], got[1],
        got[2], got[3], got[4], got[5]);
  CHECK_INT(store_suppressed_many(rd, other, numbers + 5, 1, got), 0,
            "%s: another bot's list", kind);
  CHECK_INT(got[0], 0, "%s: does not have the erased number", kind);
}

#endif
