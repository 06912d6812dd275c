/* test_conversations.h: a journal's conversation saves, written many to a
 * statement (journal_apply), land as they would one by one, the same on
 * SQLite and PostgreSQL (test_store.c, test_store_pg.c). */
#ifndef PARLEY_TEST_CONVERSATIONS_H
#define PARLEY_TEST_CONVERSATIONS_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "journal.h"
#include "store.h"
#include "test.h"

enum { SAVED_CONTACTS = 150 }; /* more than journal_apply holds back at once */

typedef struct saved_seen {
  int n, right;
  char state[SAVED_CONTACTS + 3][48], expect[SAVED_CONTACTS + 3][48];
} saved_seen;

static void saved_row(void *ud, contact_row *r) {
  saved_seen *s = ud;
  int i = atoi(r->number + strlen("+1555800"));
  if (i < 0 || i >= SAVED_CONTACTS + 3) return;
  s->n++;
  snprintf(s->state[i], sizeof s->state[i], "%s", r->state ? r->state : "(none)");
  snprintf(s->expect[i], sizeof s->expect[i], "%s", r->expect ? r->expect : "(none)");
}

/* st: an open store of any kind; contact ids from 8000 on must be free. */
static void test_conversations_saved_together(store *st, const char *kind) {
  int64_t bot = store_bot_ensure(st, "saves", 1000);
  CHECK(store_begin(st) == 0, "%s: a write transaction (%s)", kind,
        store_error(store_reads(st)));
  /* contact 8000 + SAVED_CONTACTS already has a conversation */
  store_contact_insert(st, 8000 + SAVED_CONTACTS, bot, "+1555800150", 1000);
  store_conversation_save(st, 8000 + SAVED_CONTACTS, "{\"kept\":1}", "name", 1000);
  CHECK(store_commit(st) == 0, "%s: committed (%s)", kind, store_error(store_reads(st)));

  journal j = {0};
  char number[32], state[48], err[512] = "";
  for (int i = 0; i < SAVED_CONTACTS; i++) {
    snprintf(number, sizeof number, "+1555800%03d", i);
    journal_contact_add(&j, 8000 + i, bot, number, 1000);
    snprintf(state, sizeof state, "{\"first\":%d}", i);
    journal_conversation(&j, 8000 + i, state, "city", 1001);
  }
  for (int i = 0; i < SAVED_CONTACTS; i++) { /* each saved twice, apart: */
    snprintf(state, sizeof state, "{\"second\":%d}", i);
    /* even ones change their state; odd ones only what they expect */
    journal_conversation(&j, 8000 + i, i % 2 ? NULL : state, i % 3 ? "zip" : NULL, 1002);
  }
  /* a save without a state: a new conversation's is {}, an old one's kept */
  journal_contact_add(&j, 8000 + SAVED_CONTACTS + 1, bot, "+1555800151", 1000);
  journal_conversation(&j, 8000 + SAVED_CONTACTS + 1, NULL, "age", 1003);
  journal_conversation(&j, 8000 + SAVED_CONTACTS, NULL, "zip", 1003);
  /* a carrier opt-out clears what the contact expects: after the save
   * journaled before it, before the one after it */
  journal_contact_add(&j, 8000 + SAVED_CONTACTS + 2, bot, "+1555800152", 1000);
  journal_conversation(&j, 8000 + SAVED_CONTACTS + 2, "{\"x\":1}", "color", 1004);
  journal_carrier_optout(&j, bot, 8000 + SAVED_CONTACTS + 2, "+1555800152", "stop", 1005);
  journal_conversation(&j, 8000 + 1, NULL, "color", 1006);
  journal_carrier_optout(&j, bot, 8000 + 1, "+1555800001", "stop", 1007);
  journal_conversation(&j, 8000 + 3, NULL, "color", 1006);
  journal_carrier_optout(&j, bot, 8000 + 3, "+1555800003", "stop", 1007);
  journal_conversation(&j, 8000 + 3, NULL, "size", 1008);
  int rc = journal_apply(st, &j, err, sizeof err);
  journal_free(&j);
  CHECK_INT(rc, 0, "%s: the journal applies (%s)", kind, err);

  const char *numbers[SAVED_CONTACTS + 3];
  char all[SAVED_CONTACTS + 3][16];
  for (int i = 0; i < SAVED_CONTACTS + 3; i++) {
    snprintf(all[i], sizeof all[i], "+1555800%03d", i);
    numbers[i] = all[i];
  }
  static saved_seen s;
  memset(&s, 0, sizeof s);
  CHECK_INT(store_contacts_get_many(store_reads(st), bot, numbers, SAVED_CONTACTS + 3,
                                    saved_row, &s),
            0, "%s: the contacts are read back (%s)", kind, store_error(store_reads(st)));
  CHECK_INT(s.n, SAVED_CONTACTS + 3, "%s: every contact is there", kind);
  int right = 0;
  for (int i = 0; i < SAVED_CONTACTS; i++) {
    char want_state[48];
    const char *want_expect = i % 3 ? "zip" : "(none)";
    if (i % 2) snprintf(want_state, sizeof want_state, "{\"first\":%d}", i);
    else snprintf(want_state, sizeof want_state, "{\"second\":%d}", i);
    if (i == 1) want_expect = "(none)"; /* cleared by the opt-out after its save */
    if (i == 3) want_expect = "size";   /* saved again after the opt-out */
    if (strcmp(s.state[i], want_state) == 0 && strcmp(s.expect[i], want_expect) == 0) right++;
    else if (right == i) /* the first one wrong, shown */
      CHECK(0, "%s: contact %d has %s and expects %s (wanted %s and %s)", kind, i, s.state[i],
            s.expect[i], want_state, want_expect);
  }
  CHECK_INT(right, SAVED_CONTACTS,
            "%s: each conversation saved twice has its last state (the second save's, or "
            "the first's where the second had none) and what it expects last", kind);
  CHECK_STR(s.state[SAVED_CONTACTS], "{\"kept\":1}",
            "%s: a save without a state keeps an old conversation's", kind);
  CHECK_STR(s.expect[SAVED_CONTACTS], "zip", "%s: and changes what it expects", kind);
  CHECK_STR(s.state[SAVED_CONTACTS + 1], "{}", "%s: a new conversation saved without a state "
            "has an empty one", kind);
  CHECK_STR(s.expect[SAVED_CONTACTS + 1], "age", "%s: and what it expects", kind);
  CHECK_STR(s.state[SAVED_CONTACTS + 2], "{\"x\":1}", "%s: a conversation saved before an "
            "opt-out keeps its state", kind);
  CHECK_STR(s.expect[SAVED_CONTACTS + 2], "(none)", "%s: and the opt-out clears what it "
            "expects", kind);
}

#endif
