/* test_contact_adds.h: a journal's new contacts, inserted many to a
 * statement with what was written to them after (journal_apply), land as
 * they would one write at a time, the same on SQLite and PostgreSQL
 * (test_store.c, test_store_pg.c). */
#ifndef PARLEY_TEST_CONTACT_ADDS_H
#define PARLEY_TEST_CONTACT_ADDS_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "journal.h"
#include "store.h"
#include "test.h"

enum { ADDED_CONTACTS = 100 }; /* more than journal_apply holds back at once */

typedef struct added_seen {
  int n;
  contact_row rows[ADDED_CONTACTS + 3];
  int found[ADDED_CONTACTS + 3];
} added_seen;

static void added_row(void *ud, contact_row *r) {
  added_seen *s = ud;
  int i = atoi(r->number + strlen("+1555900"));
  if (i < 0 || i >= ADDED_CONTACTS + 3 || s->found[i]) return;
  s->n++;
  s->found[i] = 1;
  s->rows[i] = *r;
  *r = (contact_row){0}; /* kept */
}

static const char *or_none(const char *s) { return s ? s : "(none)"; }

/* st: an open store of any kind; contact ids from 60000 and message ids
 * from 600000 on must be free. */
static void test_contacts_added_together(store *st, const char *kind) {
  int64_t bot = store_bot_ensure(st, "adds", 1000);
  CHECK(store_begin(st) == 0, "%s: a write transaction (%s)", kind,
        store_error(store_reads(st)));
  store_contact_insert(st, 60000 + ADDED_CONTACTS, bot, "+1555900100", 1000); /* an old one */
  CHECK(store_commit(st) == 0, "%s: committed (%s)", kind, store_error(store_reads(st)));

  journal j = {0};
  char number[32], fields[32];
  for (int i = 0; i < ADDED_CONTACTS; i++) {
    snprintf(number, sizeof number, "+1555900%03d", i);
    journal_contact_add(&j, 60000 + i, bot, number, 1000 + i);
    message_row in = {.id = 600000 + i, .bot_id = bot, .contact_id = 60000 + i,
                      .direction = "in", .number = number, .text = "hi", .status = "done",
                      .at = 1000 + i};
    journal_message(&j, &in);
    if (i % 2 == 0) journal_contact_joined(&j, 60000 + i);
    journal_contact_seen(&j, 60000 + ADDED_CONTACTS, 3000 + i); /* the old one, between */
    if (i % 3 == 0) {
      snprintf(fields, sizeof fields, "{\"n\":%d}", i);
      journal_contact_update(&j, 60000 + i, NULL, fields, NULL, NULL);
    }
    journal_contact_seen(&j, 60000 + i, 2000 + i);
  }
  journal_contact_update(&j, 60000 + 5, "opted_out", NULL, "[\"vip\"]", "Europe/Paris");
  journal_contact_update(&j, 60000 + 6, NULL, NULL, NULL, "America/Chicago");
  /* an erase and a carrier's opt-out read the contacts table: the new
   * contacts are there for them */
  journal_contact_add(&j, 60000 + ADDED_CONTACTS + 1, bot, "+1555900101", 1000);
  journal_contact_erase(&j, bot, 60000 + ADDED_CONTACTS + 1, "+1555900101", 0, 1001);
  journal_contact_add(&j, 60000 + ADDED_CONTACTS + 2, bot, "+1555900102", 1000);
  journal_carrier_optout(&j, bot, 60000 + ADDED_CONTACTS + 2, "+1555900102", "stop", 1001);
  char err[512] = "";
  int rc = journal_apply(st, &j, err, sizeof err);
  journal_free(&j);
  CHECK_INT(rc, 0, "%s: the journal applies (%s)", kind, err);

  const char *numbers[ADDED_CONTACTS + 3];
  char all[ADDED_CONTACTS + 3][16];
  for (int i = 0; i < ADDED_CONTACTS + 3; i++) {
    snprintf(all[i], sizeof all[i], "+1555900%03d", i);
    numbers[i] = all[i];
  }
  static added_seen s;
  memset(&s, 0, sizeof s);
  CHECK_INT(store_contacts_get_many(store_reads(st), bot, numbers, ADDED_CONTACTS + 3,
                                    added_row, &s),
            0, "%s: the contacts are read back (%s)", kind, store_error(store_reads(st)));
  CHECK_INT(s.n, ADDED_CONTACTS + 2, "%s: every contact is there but the erased one", kind);
  int right = 0;
  for (int i = 0; i < ADDED_CONTACTS; i++) {
    contact_row *r = &s.rows[i];
    char want_fields[32] = "{}";
    if (i % 3 == 0) snprintf(want_fields, sizeof want_fields, "{\"n\":%d}", i);
    const char *want_status = i == 5 ? "opted_out" : "subscribed";
    const char *want_tags = i == 5 ? "[\"vip\"]" : "[]";
    const char *want_zone = i == 5 ? "Europe/Paris" : i == 6 ? "America/Chicago" : "(none)";
    int ok = s.found[i] && r->id == 60000 + i && r->first_seen == 1000 + i &&
             r->last_seen == 2000 + i && r->joined == (i % 2 == 0) &&
             strcmp(or_none(r->fields), want_fields) == 0 &&
             strcmp(or_none(r->status), want_status) == 0 &&
             strcmp(or_none(r->tags), want_tags) == 0 &&
             strcmp(or_none(r->timezone), want_zone) == 0;
    if (ok) right++;
    else if (right == i) /* the first one wrong, shown */
      CHECK(0, "%s: contact %d: id %lld, seen %lld-%lld, joined %d, %s, %s, %s, %s", kind, i,
            (long long)r->id, (long long)r->first_seen, (long long)r->last_seen, r->joined,
            or_none(r->fields), or_none(r->status), or_none(r->tags), or_none(r->timezone));
  }
  CHECK_INT(right, ADDED_CONTACTS,
            "%s: each new contact has what was written to it after its add: joined, last "
            "seen, fields, status, tags, zone", kind);
  CHECK(s.found[ADDED_CONTACTS] && s.rows[ADDED_CONTACTS].last_seen == 3000 + ADDED_CONTACTS - 1,
        "%s: an old contact written between them has its last write (%lld)", kind,
        (long long)s.rows[ADDED_CONTACTS].last_seen);
  CHECK(!s.found[ADDED_CONTACTS + 1], "%s: a new contact erased in the same journal is gone",
        kind);
  CHECK(s.found[ADDED_CONTACTS + 2] &&
            strcmp(or_none(s.rows[ADDED_CONTACTS + 2].status), "opted_out") == 0,
        "%s: and one a carrier opted out in it is opted out", kind);
  for (int i = 0; i < ADDED_CONTACTS + 3; i++) contact_row_free(&s.rows[i]);
}

#endif
