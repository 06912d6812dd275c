/* test_console_store.h: the console's sessions, read marks and inbox
 * (store_console.h), the same on SQLite and PostgreSQL (test_store.c,
 * test_store_pg.c). */
#ifndef PARLEY_TEST_CONSOLE_STORE_H
#define PARLEY_TEST_CONSOLE_STORE_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "store.h"
#include "store_console.h"
#include "test.h"

static void test_console_sessions(store *st, const char *kind) {
  store_reader *rd = store_reads(st);
  console_session a = {.id = "aaaa", .who = "Ana", .bots = NULL, .csrf = "c1",
                       .created_at = 1000, .expires_at = 5000};
  console_session b = {.id = "bbbb", .who = "Bo", .bots = "[\"shop\"]", .csrf = "c2",
                       .created_at = 2000, .expires_at = 9000};
  CHECK(store_session_add(st, &a, 1000) == 0 && store_session_add(st, &b, 2000) == 0,
        "%s: two sessions recorded (%s)", kind, store_error(rd));
  console_session got;
  CHECK_INT(store_session_get(rd, "aaaa", 4999, &got), 1, "%s: a session is found before it expires",
            kind);
  CHECK(got.who && strcmp(got.who, "Ana") == 0 && !got.bots && strcmp(got.csrf, "c1") == 0 &&
            got.expires_at == 5000,
        "%s: with its name, no list of bots (the admin), its CSRF token and expiry", kind);
  console_session_free(&got);
  CHECK_INT(store_session_get(rd, "bbbb", 4999, &got), 1, "%s: an operator's session", kind);
  CHECK_STR(got.bots, "[\"shop\"]", "%s: with its bots", kind);
  console_session_free(&got);
  CHECK_INT(store_session_get(rd, "aaaa", 5000, &got), 0, "%s: not once it has expired", kind);
  CHECK_INT(store_session_get(rd, "nope", 10, &got), 0, "%s: an unknown one is not found", kind);
  console_session c = {.id = "cccc", .who = "Cy", .csrf = "c3", .created_at = 6000,
                       .expires_at = 90000};
  CHECK(store_session_add(st, &c, 6000) == 0, "%s: a third sign-in", kind);
  CHECK_INT(store_session_get(rd, "aaaa", 10, &got), 0,
            "%s: the expired session was forgotten at the next sign-in", kind);
  CHECK(store_session_end(st, "bbbb") == 0, "%s: signed out", kind);
  CHECK_INT(store_session_get(rd, "bbbb", 6000, &got), 0, "%s: a signed-out session is gone",
            kind);
  CHECK_INT(store_session_get(rd, "cccc", 6000, &got), 1, "%s: the others stay", kind);
  console_session_free(&got);
  store_session_end(st, "cccc");
}

typedef struct console_inbox_seen {
  int n;
  char line[1024];
  int64_t last;
} console_inbox_seen;

/* "number:unread:last text|..." */
static void console_inbox_line(void *ud, const inbox_row *r) {
  console_inbox_seen *s = ud;
  size_t len = strlen(s->line);
  snprintf(s->line + len, sizeof s->line - len, "%s%s:%s:%lld:%s", s->n++ ? "|" : "", r->number,
           r->name ? r->name : "-", (long long)r->unread, r->text);
  s->last = r->message_id;
}

static void console_action_line(void *ud, const operator_action *a) {
  console_inbox_seen *s = ud;
  size_t len = strlen(s->line);
  snprintf(s->line + len, sizeof s->line - len, "%s%s:%s:%s", s->n++ ? "|" : "", a->who, a->action,
           a->text);
}

static const char *console_inbox_of(store *st, int64_t bot, inbox_query q, console_inbox_seen *s) {
  memset(s, 0, sizeof *s);
  if (!q.limit) q.limit = 50;
  if (store_inbox_each(store_reads(st), bot, &q, console_inbox_line, s))
    snprintf(s->line, sizeof s->line, "error: %s", store_error(store_reads(st)));
  return s->line;
}

static void console_message(store *st, int64_t id, int64_t bot, int64_t contact, const char *number,
                          const char *direction, const char *text, int64_t at) {
  message_row m = {.id = id, .bot_id = bot, .contact_id = contact, .direction = direction,
                   .number = number, .text = text,
                   .status = strcmp(direction, "in") == 0 ? "done" : "sent", .at = at};
  store_message_add(st, &m);
}

/* st: an open store of any kind; contact ids 97100-97104 and message ids
 * 97100-97110 must be free. */
static void test_console_inbox(store *st, const char *kind) {
  int64_t bot = store_bot_ensure(st, "inbox", 1000), other = store_bot_ensure(st, "other", 1000);
  CHECK(store_begin(st) == 0, "%s: a write transaction", kind);
  /* the last message decides the order: 97101's, 97100's, 97102's */
  store_contact_insert(st, 97100, bot, "+15559100", 1000);
  store_contact_insert(st, 97101, bot, "+15559101", 1000);
  store_contact_insert(st, 97102, bot, "+15559102", 1000);
  store_contact_insert(st, 97103, bot, "+15559103", 1000); /* no message: not a conversation */
  store_contact_insert(st, 97104, other, "+15559100", 1000); /* another bot's */
  store_contact_update(st, 97100, NULL, "{\"name\":\"Zoë Ortiz\"}", "[\"vip\"]", NULL);
  store_contact_update(st, 97101, NULL, "{\"name\":\"Lee 100%\"}", "[\"press\"]", NULL);
  console_message(st, 97100, bot, 97102, "+15559102", "in", "one", 2500);
  console_message(st, 97101, bot, 97102, "+15559102", "in", "two", 3000);
  console_message(st, 97102, bot, 97100, "+15559100", "in", "hi there", 3500);
  console_message(st, 97103, bot, 97100, "+15559100", "out", "Welcome!", 3501);
  console_message(st, 97104, bot, 97100, "+15559100", "in", "TICKETS please", 4000);
  console_message(st, 97105, bot, 97101, "+15559101", "in", "<script>x</script>", 5000);
  console_message(st, 97106, other, 97104, "+15559100", "in", "elsewhere", 9000);
  CHECK(store_commit(st) == 0, "%s: committed (%s)", kind, store_error(store_reads(st)));
  console_inbox_seen s;
  CHECK_STR(console_inbox_of(st, bot, (inbox_query){0}, &s),
            "+15559101:Lee 100%:1:<script>x</script>|+15559100:Zoë Ortiz:2:TICKETS please|"
            "+15559102:-:2:two",
            "%s: the conversations, the latest active first, with their last message and "
            "unread count; none without a message, none of another bot",
            kind);
  CHECK(store_inbox_read(st, 97100, 4000) == 0, "%s: a conversation read", kind);
  CHECK(store_inbox_read(st, 97100, 2000) == 0, "%s: an older mark later", kind);
  CHECK_HAS(console_inbox_of(st, bot, (inbox_query){0}, &s), "+15559100:Zoë Ortiz:0:",
            "%s: read up to its newest message: nothing unread (an older mark does not "
            "move it back)",
            kind);
  CHECK(store_inbox_read(st, 97102, 2500) == 0, "%s: another read halfway", kind);
  CHECK_HAS(console_inbox_of(st, bot, (inbox_query){0}, &s), "+15559102:-:1:two",
            "%s: the messages after the mark are unread", kind);
  CHECK_STR(console_inbox_of(st, bot, (inbox_query){.search = "tickets"}, &s),
            "+15559100:Zoë Ortiz:0:TICKETS please", "%s: found by a text, case aside", kind);
  CHECK_STR(console_inbox_of(st, bot, (inbox_query){.search = "ZOë oRT"}, &s),
            "+15559100:Zoë Ortiz:0:TICKETS please", "%s: by the name, the case of ASCII letters "
            "aside", kind);
  CHECK_STR(console_inbox_of(st, bot, (inbox_query){.search = "9102"}, &s), "+15559102:-:1:two",
            "%s: by the number", kind);
  CHECK_STR(console_inbox_of(st, bot, (inbox_query){.search = "hi there"}, &s),
            "+15559100:Zoë Ortiz:0:TICKETS please", "%s: by any message, not only the last",
            kind);
  CHECK_STR(console_inbox_of(st, bot, (inbox_query){.search = "0%"}, &s),
            "+15559101:Lee 100%:1:<script>x</script>",
            "%s: a %% in the search is a %%, not a wildcard", kind);
  CHECK_STR(console_inbox_of(st, bot, (inbox_query){.search = "_"}, &s), "",
            "%s: nor is a _", kind);
  CHECK_STR(console_inbox_of(st, bot, (inbox_query){.tag = "vip"}, &s),
            "+15559100:Zoë Ortiz:0:TICKETS please", "%s: filtered by a tag", kind);
  CHECK_STR(console_inbox_of(st, bot, (inbox_query){.field = "name", .value = "Lee 100%"}, &s),
            "+15559101:Lee 100%:1:<script>x</script>", "%s: by a field's value", kind);
  CHECK_STR(console_inbox_of(st, bot, (inbox_query){.field = "name", .value = "Lee"}, &s), "",
            "%s: ... the whole value", kind);
  CHECK_STR(console_inbox_of(st, bot,
                             (inbox_query){.segment = "{\"tags\":\"press\"}", .search = "script"},
                             &s),
            "+15559101:Lee 100%:1:<script>x</script>", "%s: by a segment, with a search", kind);
  CHECK_STR(console_inbox_of(st, bot, (inbox_query){.segment = "{\"name\":\"Zoë Ortiz\"}"}, &s),
            "+15559100:Zoë Ortiz:0:TICKETS please", "%s: a segment's field", kind);
  console_inbox_of(st, bot, (inbox_query){.limit = 2}, &s);
  CHECK_INT(s.n, 2, "%s: a page of two", kind);
  CHECK_STR(console_inbox_of(st, bot,
                     (inbox_query){.limit = 2, .before = s.last},
                     &s),
            "+15559102:-:1:two", "%s: the next page starts after the cursor", kind);
  CHECK(store_handoff_set(st, 97102, "{\"reason\":\"refund\",\"since\":1}") == 0,
        "%s: a conversation handed to a person", kind);
  CHECK_STR(console_inbox_of(st, bot, (inbox_query){.needs_person = 1}, &s), "+15559102:-:1:two",
            "%s: the conversations that need a person", kind);
  contact_row cr = {0};
  CHECK(store_contact_get(store_reads(st), bot, "+15559102", &cr) == 1 && cr.handoff &&
            strstr(cr.handoff, "refund"),
        "%s: the contact says a person has it", kind);
  contact_row_free(&cr);
  operator_action act = {.bot_id = bot, .contact_id = 97102, .who = "Ana", .action = "note",
                         .text = "wants a refund", .at = 4100};
  CHECK(store_operator_action_add(st, &act) == 0, "%s: what a person did, recorded", kind);
  act.action = "reply";
  act.text = "On it!";
  store_operator_action_add(st, &act);
  console_inbox_seen acts = {0};
  store_operator_actions_each(store_reads(st), 97102, console_action_line, &acts);
  CHECK_STR(acts.line, "Ana:note:wants a refund|Ana:reply:On it!", "%s: and read back in order",
            kind);
  CHECK(store_handoff_set(st, 97102, NULL) == 0, "%s: handed back", kind);
  CHECK_STR(console_inbox_of(st, bot, (inbox_query){.needs_person = 1}, &s), "",
            "%s: then no conversation needs a person", kind);
  CHECK_INT(store_newest_message_at(store_reads(st), 97100), 4000,
            "%s: a conversation's newest message", kind);
  CHECK_INT(store_newest_message_at(store_reads(st), 97103), 0, "%s: none", kind);
  CHECK(store_begin(st) == 0 && store_contact_erase(st, bot, 97100, "+15559100", 0, 7000) == 0 &&
            store_commit(st) == 0,
        "%s: a contact erased", kind);
  CHECK_STR(console_inbox_of(st, bot, (inbox_query){.search = "ticket"}, &s), "",
            "%s: its conversation is gone from the inbox", kind);
  CHECK(store_begin(st) == 0, "%s: the same contact id again", kind);
  store_contact_insert(st, 97100, bot, "+15559100", 8000);
  console_message(st, 97107, bot, 97100, "+15559100", "in", "back", 3000);
  CHECK(store_commit(st) == 0, "%s: committed", kind);
  CHECK_HAS(console_inbox_of(st, bot, (inbox_query){.search = "back"}, &s), "+15559100:-:1:back",
            "%s: the erased contact's read mark went with it", kind);
}

typedef struct console_stats_seen {
  char line[512];
  int64_t waits[16];
  int nwaits;
} console_stats_seen;

static void console_stats_line(void *ud, int64_t start, const char *kind, int64_t count) {
  console_stats_seen *s = ud;
  size_t len = strlen(s->line);
  snprintf(s->line + len, sizeof s->line - len, "%s%lld:%s=%lld", len ? " " : "",
           (long long)start, kind, (long long)count);
}

static void console_stats_wait(void *ud, int64_t ms) {
  console_stats_seen *s = ud;
  if (s->nwaits < 16) s->waits[s->nwaits++] = ms;
}

/* st: an open store of any kind where messages' ids grow with their time
 * (as the engine writes them); contact ids 97300-97301 and message ids from
 * first_id on must be free, and later than every other message. */
static void test_console_stats(store *st, const char *kind, int64_t first_id, int64_t t0) {
  int64_t bot = store_bot_ensure(st, "numbers", 1000);
  CHECK(store_begin(st) == 0, "%s: a write transaction", kind);
  store_contact_insert(st, 97300, bot, "+15559300", t0);
  store_contact_insert(st, 97301, bot, "+15559301", t0);
  /* hour 0: in, reply 0 ms later; hour 1: in (answered 30 min later by a
   * person), a broadcast (not an answer), out delivered; hour 2: in unanswered */
  int64_t id = first_id, h = 3600000;
  console_message(st, id++, bot, 97300, "+15559300", "in", "hi", t0);
  console_message(st, id++, bot, 97300, "+15559300", "out", "hello", t0);
  console_message(st, id++, bot, 97301, "+15559301", "in", "help me", t0 + h);
  message_row bc = {.id = id++, .bot_id = bot, .contact_id = 97301, .direction = "out",
                    .number = "+15559301", .text = "sale!", .status = "sent", .at = t0 + h + 60000,
                    .broadcast_id = 7};
  store_message_add(st, &bc);
  message_row person = {.id = id++, .bot_id = bot, .contact_id = 97301, .direction = "out",
                        .number = "+15559301", .text = "On it", .status = "delivered",
                        .at = t0 + h + 1800000};
  store_message_add(st, &person);
  console_message(st, id++, bot, 97300, "+15559300", "in", "still there?", t0 + 2 * h);
  store_consent_add(st, bot, 97301, "+15559301", "optout", "keyword", "STOP", t0 + 2 * h);
  store_error_add(st, bot, 97300, 0, "handler", "boom", t0 + 2 * h);
  CHECK(store_commit(st) == 0, "%s: committed (%s)", kind, store_error(store_reads(st)));
  console_stats_seen seen = {0};
  CHECK(store_bot_stats(store_reads(st), bot, t0, h, 0, console_stats_line, &seen) == 0,
        "%s: the numbers by the hour (%s)", kind, store_error(store_reads(st)));
  char want[512];
  snprintf(want, sizeof want,
           "%lld:in=1 %lld:out=1 %lld:in=1 %lld:out=2 %lld:delivered=1 %lld:in=1 "
           "%lld:optout=1 %lld:error=1",
           (long long)t0, (long long)t0, (long long)(t0 + h), (long long)(t0 + h),
           (long long)(t0 + h), (long long)(t0 + 2 * h), (long long)(t0 + 2 * h),
           (long long)(t0 + 2 * h));
  CHECK_STR(seen.line, want, "%s: in, out, delivered, opt-outs and errors in their hours", kind);
  memset(&seen, 0, sizeof seen);
  store_bot_stats(store_reads(st), bot, t0 + h, h, 0, console_stats_line, &seen);
  CHECK(seen.line[0] && !strstr(seen.line, "hi") && strncmp(seen.line, want, 10) != 0 &&
            strstr(seen.line, "in=1"),
        "%s: from an hour on, the hour before is left out (%s)", kind, seen.line);
  memset(&seen, 0, sizeof seen);
  CHECK(store_reply_waits(store_reads(st), bot, t0, 100, console_stats_wait, &seen) == 0 &&
            seen.nwaits == 2,
        "%s: two of the three messages in were answered (%d)", kind, seen.nwaits);
  CHECK(seen.nwaits == 2 && seen.waits[0] == 1800000 && seen.waits[1] == 0,
        "%s: a person's answer after 30 minutes (the broadcast between is no answer), a "
        "handler's at once", kind);
}

#endif
