/* Unit tests for the outbox half of runtime/store/store.h: queued messages by
 * sender in priority order, claims, the provider's answers, recovery after
 * a crash, and delivery reports that only move a message forward.
 *
 *   make build/test_outbox_store && ./build/test_outbox_store */
#include "store.h"
#include "test.h"
#include "test_pg.h"

static char *tmp;
static const int64_t T0 = 1772445600000; /* 2026-03-02 10:00 UTC */

typedef struct fixture {
  char *path;
  store *st;
  int64_t bot, contact;
} fixture;

static int open_fixture(fixture *f, const char *name) {
  /* PARLEY_TEST_DB: a PostgreSQL server's URL, a new database on it each */
  const char *on = getenv("PARLEY_TEST_DB");
  if (on && *on) {
    char db[64], url[600];
    snprintf(db, sizeof db, "outbox_%.*s", (int)strcspn(name, "."), name);
    if (test_pg_database(on, db, url, sizeof url)) {
      test_result(0, "a database %s on %s", db, on);
      return -1;
    }
    f->path = strdup(url);
  } else {
    f->path = test_path(tmp, name);
    test_rmtree(f->path);
  }
  char err[512] = "";
  f->st = store_open(f->path, err, sizeof err);
  if (!f->st) {
    test_result(0, "store_open(%s)", name);
    test_note("%s", err);
    return -1;
  }
  f->bot = store_bot_ensure(f->st, "fanclub", T0);
  f->contact = store_contact_insert(f->st, 0, f->bot, "+15550001", T0);
  return 0;
}

static void close_fixture(fixture *f) {
  store_close(f->st);
  free(f->path);
}

static int64_t queue(fixture *f, const char *sender, const char *text, int priority,
                     const char *status) {
  message_row m = {.bot_id = f->bot, .contact_id = f->contact, .direction = "out",
                   .number = "+15550001", .text = text, .status = status, .at = T0,
                   .sender = sender, .priority = priority};
  return store_message_add(f->st, &m);
}

static char *status_of(fixture *f, int64_t id) {
  outbound_row r;
  if (store_outbound_get(store_reads(f->st), f->bot, id, NULL, &r) != 1) return NULL;
  char *s = r.status;
  r.status = NULL;
  outbound_row_free(&r);
  return s;
}

static void test_due_in_priority_order_per_sender(void) {
  fixture f;
  if (open_fixture(&f, "due.db")) return;
  int64_t bulk1 = queue(&f, "+15550100", "drip 1", 1, "queued");
  int64_t bulk2 = queue(&f, "+15550100", "drip 2", 1, "queued");
  int64_t reply = queue(&f, "+15550100", "reply", 0, "queued");
  int64_t other = queue(&f, "+15550199", "other number", 1, "queued");
  queue(&f, "+15550100", "held", 1, "held");
  queue(&f, "+15550100", "already sent", 0, "sent");

  int64_t bot = 0;
  char *sender = NULL;
  int found = store_outbox_next_sender(store_reads(f.st), &bot, &sender);
  CHECK(found == 1 && bot == f.bot && sender && strcmp(sender, "+15550100") == 0,
        "the first sender with queued messages is +15550100");
  found = store_outbox_next_sender(store_reads(f.st), &bot, &sender);
  CHECK(found == 1 && strcmp(sender, "+15550199") == 0, "then +15550199");
  CHECK_INT(store_outbox_next_sender(store_reads(f.st), &bot, &sender), 0,
            "then no more senders");
  free(sender);

  outbox_row *rows;
  size_t n;
  CHECK_INT(store_outbox_due(store_reads(f.st), f.bot, "+15550100", T0, 10, &rows, &n),
            0, "store_outbox_due reads one sender's queue");
  CHECK_INT((long long)n, 3, "three queued messages of +15550100 (held and sent ones are not)");
  if (n == 3)
    CHECK(rows[0].id == reply && rows[1].id == bulk1 && rows[2].id == bulk2,
          "the reply comes before the older bulk messages, which keep their order");
  for (size_t i = 0; i < n; i++) outbox_row_free(&rows[i]);
  free(rows);
  CHECK_INT(store_outbox_due(store_reads(f.st), f.bot, "+15550100", T0, 1, &rows, &n),
            0, "a limit of one");
  CHECK(n == 1 && rows[0].id == reply, "gives only the reply");
  for (size_t i = 0; i < n; i++) outbox_row_free(&rows[i]);
  free(rows);
  CHECK_INT(store_outbox_depth(store_reads(f.st)), 4,
            "the outbox depth counts the four queued");
  (void)other;
  close_fixture(&f);
}

static void test_claim_and_answers(void) {
  fixture f;
  if (open_fixture(&f, "claim.db")) return;
  int64_t a = queue(&f, "+15550100", "a", 0, "queued");
  int64_t b = queue(&f, "+15550100", "b", 0, "queued");
  int64_t c = queue(&f, "+15550100", "c", 0, "queued");
  CHECK_INT(store_outbox_claim(f.st, a, T0), 1, "a queued message is claimed");
  CHECK_INT(store_outbox_claim(f.st, a, T0), 0, "a claimed message cannot be claimed again");
  char *s = status_of(&f, a);
  CHECK_STR(s, "sending", "a claimed message is 'sending'");
  free(s);
  CHECK_INT(store_outbox_sent(f.st, a, "SM123", T0 + 10), 0, "the provider's id is recorded");
  outbound_row r;
  CHECK_INT(store_outbound_get(store_reads(f.st), f.bot, 0, "SM123", &r), 1,
            "the message is found by the provider's id");
  CHECK(r.id == a && r.status && strcmp(r.status, "sent") == 0, "and it is 'sent'");
  outbound_row_free(&r);

  store_outbox_claim(f.st, b, T0);
  CHECK_INT(store_outbox_retry(f.st, b, T0 + 5000, "HTTP 503", T0), 0, "a retry is recorded");
  outbox_row *rows;
  size_t n;
  store_outbox_due(store_reads(f.st), f.bot, "+15550100", T0 + 1000, 10, &rows, &n);
  int has_b = 0;
  for (size_t i = 0; i < n; i++) {
    has_b |= rows[i].id == b;
    outbox_row_free(&rows[i]);
  }
  free(rows);
  CHECK(!has_b, "a message waiting for its retry is not due before its time");
  CHECK_INT(store_outbox_next_retry_after(store_reads(f.st), 0), T0 + 5000,
            "the next retry time is known");
  CHECK_INT(store_outbox_next_retry_after(store_reads(f.st), T0 + 5000), 0,
            "and none after it");
  store_outbox_due(store_reads(f.st), f.bot, "+15550100", T0 + 5000, 10, &rows, &n);
  for (size_t i = 0; i < n; i++) {
    if (rows[i].id == b) {
      has_b = 1;
      CHECK_INT(rows[i].attempts, 1, "it counts one attempt");
    }
    outbox_row_free(&rows[i]);
  }
  free(rows);
  CHECK(has_b, "it is due at its retry time");

  store_outbox_claim(f.st, c, T0);
  CHECK_INT(store_outbox_failed(f.st, c, "21211: Invalid 'To' Phone Number", T0), 1,
            "a failure is recorded");
  CHECK_INT(store_outbox_failed(f.st, c, "again", T0), 0,
            "a second failure of a message no longer being sent records nothing");
  CHECK_INT(store_outbound_get(store_reads(f.st), f.bot, c, NULL, &r), 1,
            "the failed message is found");
  CHECK(r.status && strcmp(r.status, "failed") == 0 && r.error &&
            strstr(r.error, "21211"),
        "with status 'failed' and the reason");
  outbound_row_free(&r);
  close_fixture(&f);
}

/* A message queued before its contact opted out is suppressed when its
 * turn comes (the opt-out may have been handled by another node), unless
 * it is transactional. */
static void test_claim_after_optout(void) {
  fixture f;
  if (open_fixture(&f, "optout.db")) return;
  int64_t bulk = queue(&f, "+15550100", "sale", 1, "queued");
  message_row m = {.bot_id = f.bot, .contact_id = f.contact, .direction = "out",
                   .number = "+15550001", .text = "your code", .status = "queued", .at = T0,
                   .sender = "+15550100", .transactional = 1};
  int64_t code = store_message_add(f.st, &m);
  CHECK_INT(store_contact_update(f.st, f.contact, "opted_out", NULL, NULL, NULL), 0,
            "the contact opts out after they were queued");
  CHECK_INT(store_outbox_claim(f.st, bulk, T0), 0, "the bulk message is not claimed");
  char *st = status_of(&f, bulk);
  CHECK_STR(st, "suppressed", "it is suppressed");
  free(st);
  CHECK_INT(store_outbox_claim(f.st, code, T0), 1, "a transactional one is claimed");
  close_fixture(&f);
}

/* A broadcast's message suppressed when its turn comes moves from the
 * broadcast's sent count to its suppressed count. */
static void test_claim_after_optout_counts_for_its_broadcast(void) {
  fixture f;
  if (open_fixture(&f, "optout_broadcast.db")) return;
  broadcast_row b = {.id = 7, .bot_id = f.bot, .segment = "{}", .text = "sale", .rate = 1,
                     .next_at = T0};
  CHECK_INT(store_broadcast_add(f.st, &b, T0), 0, "a broadcast");
  CHECK_INT(store_broadcast_update(f.st, 7, "done", 1, T0, 2, 0, 0, 0, 0), 0,
            "its turn queued two messages");
  int64_t other = store_contact_insert(f.st, 0, f.bot, "+15550002", T0);
  message_row m = {.bot_id = f.bot, .contact_id = f.contact, .direction = "out",
                   .number = "+15550001", .text = "sale", .status = "queued", .at = T0,
                   .sender = "+15550100", .priority = 1, .broadcast_id = 7};
  int64_t first = store_message_add(f.st, &m);
  m.contact_id = other;
  m.number = "+15550002";
  int64_t second = store_message_add(f.st, &m);
  CHECK_INT(store_contact_update(f.st, f.contact, "opted_out", NULL, NULL, NULL), 0,
            "the first contact opts out after they were queued");
  CHECK_INT(store_outbox_claim(f.st, first, T0), 0, "its message is not claimed");
  CHECK_INT(store_outbox_claim(f.st, second, T0), 1, "the other one is");
  broadcast_row got = {0};
  CHECK_INT(store_broadcast_get(store_reads(f.st), f.bot, 7, &got), 1, "the broadcast is read");
  CHECK(got.sent == 1 && got.suppressed == 1,
        "it counts one sent and one suppressed (%ld sent, %ld suppressed)", (long)got.sent,
        (long)got.suppressed);
  broadcast_row_free(&got);
  close_fixture(&f);
}

static void test_recover_in_flight(void) {
  fixture f;
  if (open_fixture(&f, "recover.db")) return;
  int64_t a = queue(&f, "+15550100", "a", 0, "queued");
  int64_t b = queue(&f, "+15550100", "b", 0, "queued");
  store_outbox_claim(f.st, a, T0);
  store_outbox_claim(f.st, b, T0);
  store_outbox_sent(f.st, b, "SMb", T0);
  store_close(f.st);
  char err[512];
  f.st = store_open(f.path, err, sizeof err);
  CHECK_INT(store_outbox_recover(f.st, T0, NULL), 0,
            "a send claimed at a time (in ms, past 32 bits) is not one claimed before it");
  CHECK_INT(store_outbox_recover(f.st, 0, NULL), 1,
            "after a restart the one send in flight is requeued");
  char *s = status_of(&f, a);
  CHECK_STR(s, "queued", "it is queued again");
  free(s);
  s = status_of(&f, b);
  CHECK_STR(s, "sent", "the sent one stays sent");
  free(s);
  close_fixture(&f);
}

static void test_delivery_reports_move_forward_only(void) {
  fixture f;
  if (open_fixture(&f, "status.db")) return;
  int64_t a = queue(&f, "+15550100", "a", 0, "queued");
  store_outbox_claim(f.st, a, T0);
  CHECK_INT(store_delivery_status(f.st, a, "delivered", NULL, T0 + 1), 1,
            "a delivery report before the provider's answer is recorded");
  CHECK_INT(store_outbox_sent(f.st, a, "SMa", T0 + 2), 0, "then the answer comes");
  outbound_row r;
  store_outbound_get(store_reads(f.st), f.bot, a, NULL, &r);
  CHECK(r.status && strcmp(r.status, "delivered") == 0,
        "the late answer does not move 'delivered' back to 'sent'");
  CHECK(r.provider_id && strcmp(r.provider_id, "SMa") == 0, "but adds the provider's id");
  outbound_row_free(&r);
  CHECK_INT(store_delivery_status(f.st, a, "sent", NULL, T0 + 3), 0,
            "a 'sent' report after 'delivered' changes nothing");
  CHECK_INT(store_delivery_status(f.st, a, "delivered", NULL, T0 + 3), 0,
            "the same report twice changes nothing");
  CHECK_INT(store_delivery_status(f.st, a, "undelivered", "30003", T0 + 3), 0,
            "a second final status does not replace the first");
  CHECK_INT(store_delivery_status(f.st, a, "read", NULL, T0 + 4), 1, "'read' comes after");
  CHECK_INT(store_delivery_status(f.st, 999999, "delivered", NULL, T0), 0,
            "a report for an unknown message changes nothing");
  CHECK_INT(store_status_rank("bogus"), 0, "an unknown status has no rank");
  close_fixture(&f);
}

int main(void) {
  tmp = test_tmpdir();
  test_due_in_priority_order_per_sender();
  test_claim_and_answers();
  test_claim_after_optout();
  test_claim_after_optout_counts_for_its_broadcast();
  test_recover_in_flight();
  test_delivery_reports_move_forward_only();
  test_rmtree(tmp);
  free(tmp);
  return test_done();
}
