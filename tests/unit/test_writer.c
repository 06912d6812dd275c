/* Unit tests for runtime/store/journal.h: journals appended to one another, a
 * journal applied whole or not at all (its messages written many rows to a
 * statement, in order with the writes that depend on them), and the
 * writer: the one connection that writes, on which the engine's journals,
 * its own writes that answer (writer_apply) and other threads' side
 * journals are applied one at a time. */
#include <pthread.h>
#include <sqlite3.h>
#include <unistd.h>

#include "journal.h"
#include "store.h"
#include "test.h"
#include "test_sql.h"
#include "util.h"

struct side_call {
  writer *w;
  journal j;
  int done, rc;
};

static void *apply_side(void *arg) {
  struct side_call *s = arg;
  char err[256];
  s->rc = writer_apply_side(s->w, &s->j, err, sizeof err);
  __atomic_store_n(&s->done, 1, __ATOMIC_SEQ_CST);
  return NULL;
}

/* The engine's own writes (writer_apply) come after its journal in flight,
 * and go between other threads' side journals, one transaction at a time
 * on the writer's connection; what they answer comes back in their ops. */
static void test_apply_answers_after_the_journal_in_flight(const char *dir) {
  char *path = xasprintf("%s/writer.db", dir), err[512] = "";
  store *st = store_open(path, err, sizeof err);
  CHECK(st != NULL, "the store opens: %s", err);
  if (!st) return;
  int64_t bot = store_bot_ensure(st, "b", 1);
  store_close(st);
  writer *w = writer_open(path, 1, err, sizeof err);
  CHECK(w != NULL, "the writer opens: %s", err);
  if (!w) return;
  CHECK(writer_reader(w) == NULL,
        "a writer with a thread lends no connection for reads");

  /* a broadcast journaled by the engine, cancelled at once after it */
  journal j = {0};
  broadcast_row br = {.id = 7,
                      .bot_id = bot,
                      .segment = "{}",
                      .text = "hi",
                      .rate = 1,
                      .next_at = 5000};
  journal_broadcast_add(&j, &br, 1);
  CHECK_INT(writer_submit(w, &j, err, sizeof err), 0, "the engine's journal is taken");
  journal cancel = {0};
  journal_broadcast_cancel(&cancel, bot, 7);
  CHECK_INT(writer_apply(w, &cancel, err, sizeof err), 0, "the cancel applies: %s",
            err);
  CHECK_INT((int)cancel.ops[0].u.broadcast_cancel.cancelled, 1,
            "... after the journal that added the broadcast");

  /* versions added while another thread applies side journals */
  struct side_call sc = {.w = w};
  journal_bot_store(&sc.j, bot, "{\"n\":1}", 0);
  pthread_t t;
  pthread_create(&t, NULL, apply_side, &sc);
  int64_t numbers = 0, failed = 0, bot2 = 0;
  for (int i = 1; i <= 50; i++) {
    char sha[16];
    snprintf(sha, sizeof sha, "sha%d", i);
    journal v = {0};
    journal_bot_version(&v, "c", sha, "{}", 2);
    failed += writer_apply(w, &v, err, sizeof err) != 0;
    numbers += v.ops[0].u.bot_version.version_number == i;
    if (i == 1) bot2 = v.ops[0].u.bot_version.bot_id;
    failed += v.ops[0].u.bot_version.bot_id != bot2;
    journal_free(&v);
  }
  pthread_join(t, NULL);
  CHECK_INT((int)failed, 0, "every version applies, the bot made once: %s", err);
  CHECK_INT((int)numbers, 50, "each version answers its number (1 to 50)");
  CHECK(sc.done && sc.rc == 0, "the side journal is applied meanwhile");
  writer_close(w);
  char *json = sql_text(path, "SELECT store FROM bots WHERE name = 'b'");
  CHECK_STR(json, "{\"n\":1}", "... and committed");
  free(json);
  CHECK_INT(sql_int(path, "SELECT count(*) FROM broadcasts WHERE status = 'cancelled'"),
            1, "the broadcast is stored cancelled");
  journal_free(&j);
  journal_free(&cancel);
  journal_free(&sc.j);
  free(path);
}

static message_row out_row(int64_t bot, int64_t contact, const char *text,
                           const char *status) {
  return (message_row){.bot_id = bot, .contact_id = contact, .direction = "out",
                       .number = "+15550001", .text = text, .status = status,
                       .at = 1000};
}

/* journal_append moves the ops of one journal to the end of another, in
 * order, with their queued count; the emptied one is reusable. */
static void test_append_moves_ops_in_order(void) {
  journal dst = {0}, src = {0};
  message_row a = out_row(1, 2, "first", "queued");
  journal_message(&dst, &a);
  journal_bot_store(&dst, 1, "{\"dst\":1}", 0);
  message_row b = out_row(1, 2, "second", "queued"), c = out_row(1, 3, "third", "sent");
  journal_message(&src, &b);
  journal_message(&src, &c);
  journal_contact_seen(&src, 3, 2000);
  journal_append(&dst, &src);
  CHECK_INT((int)dst.n, 5, "dst holds its ops and src's");
  CHECK_INT(dst.queued, 2, "... and the queued count of both");
  CHECK_INT((int)src.n, 0, "src is left empty");
  CHECK_INT(src.queued, 0, "... with nothing queued");
  if (dst.n == 5) {
    CHECK_STR(dst.ops[0].u.message.text, "first", "dst's own ops come first");
    CHECK_STR(dst.ops[1].u.bot_store.json, "{\"dst\":1}", "... in their order");
    CHECK_STR(dst.ops[2].u.message.text, "second", "then src's, in order");
    CHECK_STR(dst.ops[3].u.message.text, "third", "...");
    CHECK_INT(dst.ops[4].kind == J_CONTACT_SEEN && dst.ops[4].u.contact_seen.id == 3, 1,
              "...");
  }
  /* src is reusable, and what it records later is its own */
  message_row d = out_row(1, 4, "fourth", "queued");
  journal_message(&src, &d);
  CHECK_INT((int)src.n, 1, "src records again after the append");
  CHECK_STR(src.ops[0].u.message.text, "fourth", "... its own strings");
  CHECK_STR(dst.ops[2].u.message.text, "second", "dst's moved strings are untouched");
  journal_append(&dst, &src);
  CHECK_INT((int)dst.n, 6, "a second append adds the new op");
  CHECK_INT(dst.queued, 3, "... and its queued message");
  /* appending an empty journal changes nothing */
  journal empty = {0};
  journal_append(&dst, &empty);
  CHECK_INT((int)dst.n, 6, "appending an empty journal adds nothing");
  journal_clear(&dst);
  CHECK_INT((int)dst.n, 0, "dst clears");
  journal_free(&dst);
  journal_free(&src);
  journal_free(&empty);
}

static message_row in_row(int64_t id, int64_t bot, int64_t contact, const char *pid) {
  return (message_row){.id = id,
                       .bot_id = bot,
                       .contact_id = contact,
                       .direction = "in",
                       .number = "+15550001",
                       .text = "hi",
                       .status = "done",
                       .provider_id = pid,
                       .at = 1000};
}

static void count_wake(void *ud) {
  ++*(int *)ud;
}

/* Messages between other writes: each write that reads or changes messages
 * (a release, an erase) sees the messages journaled before it, and none
 * after; the rest lands as journaled. */
static void test_apply_keeps_message_order(const char *dir) {
  char *path = xasprintf("%s/order.db", dir), err[512] = "";
  store *st = store_open(path, err, sizeof err);
  CHECK(st != NULL, "the store opens: %s", err);
  if (!st) return;
  int64_t bot = store_bot_ensure(st, "b", 1);
  int64_t c = store_contact_insert(st, 0, bot, "+15550001", 1);
  journal j = {0};
  journal_contact_add(&j, 50, bot, "+15550050", 1);
  char pid[32], state[32];
  for (int i = 0; i < 100; i++) {
    snprintf(pid, sizeof pid, "SM%d", i);
    message_row in = in_row(1000 + 2 * i, bot, c, pid);
    journal_message(&j, &in);
    snprintf(state, sizeof state, "{\"n\":%d}", i);
    journal_conversation(&j, c, state, NULL, 1000 + i);
    message_row out = out_row(bot, c, "reply", "queued");
    out.id = 1001 + 2 * i;
    journal_message(&j, &out);
    journal_contact_joined(&j, c);
  }
  message_row held = out_row(bot, c, "later", "held");
  held.id = 5000;
  held.send_at = 9000;
  journal_message(&j, &held);
  journal_message_release(&j, 5000, "queued", 2000, 0);
  message_row gone = out_row(bot, 50, "erased", "sent");
  gone.id = 6000;
  journal_message(&j, &gone);
  journal_conversation(&j, 50, "{\"erased\":true}", NULL, 2000);
  journal_contact_erase(&j, bot, 50, "+15550050", 0, 2000);
  message_row after = out_row(bot, 50, "after the erase", "sent");
  after.id = 7000;
  journal_message(&j, &after);
  journal_contact_add(&j, 51, bot, "+15550051", 1);
  journal_conversation(&j, 51, "{\"kept\":true}", NULL, 2000);
  journal_contact_erase(&j, bot, 51, "+15550051", 0, 2000);
  journal_conversation(&j, 51, "{\"after\":true}", NULL, 2001);
  CHECK_INT(j.queued, 101, "the journal counts 100 queued replies and 1 release");

  store_close(st);
  writer *w = writer_open(path, 0, err, sizeof err);
  int wakes = 0;
  writer_on_queued(w, count_wake, &wakes);
  CHECK_INT(writer_submit(w, &j, err, sizeof err), 0, "the journal applies: %s", err);
  CHECK_INT(wakes, 1, "the sender is woken once for its queued messages");
  writer_close(w);
  CHECK_INT(sql_int(path, "SELECT count(*) FROM messages"), 202,
            "every message is stored but the erased one");
  CHECK_INT(sql_int(path, "SELECT count(*) FROM messages WHERE status = 'queued'"), 101,
            "the replies and the released message are queued");
  CHECK_INT(
      sql_int(path,
              "SELECT count(*) FROM messages WHERE id = 5000 AND status = 'queued'"),
      1, "a release sees the message journaled just before it");
  CHECK_INT(sql_int(path, "SELECT count(*) FROM messages WHERE id = 6000"), 0,
            "an erase removes the message journaled before it");
  CHECK_INT(sql_int(path, "SELECT count(*) FROM messages WHERE id = 7000"), 1,
            "... and not the one journaled after it");
  CHECK_INT(sql_int(path,
                    "SELECT count(*) FROM messages WHERE provider_id = 'SM99'"
                    " AND id = 1198 AND direction = 'in'"),
            1, "the last inbound message is stored as journaled");
  CHECK_INT(sql_int(path,
                    "SELECT json_extract(state, '$.n') FROM conversations"
                    " WHERE contact_id = 1"),
            99, "the conversation has its last state");
  CHECK_INT(sql_int(path, "SELECT count(*) FROM conversations WHERE contact_id = 50"),
            0, "an erase removes the conversation saved before it");
  CHECK_INT(sql_int(path,
                    "SELECT count(*) FROM conversations WHERE contact_id = 51"
                    " AND json_extract(state, '$.after')"),
            1, "... and not one saved after it");
  journal_free(&j);
  free(path);
}

/* A journal whose 3rd message repeats an inbound provider id: the error
 * names it and nothing of the journal is kept; the next journal applies. */
static void test_apply_duplicate_rolls_back_everything(const char *dir) {
  char *path = xasprintf("%s/dup.db", dir), err[512] = "";
  store *st = store_open(path, err, sizeof err);
  CHECK(st != NULL, "the store opens: %s", err);
  if (!st) return;
  int64_t bot = store_bot_ensure(st, "b", 1);
  int64_t c = store_contact_insert(st, 0, bot, "+15550001", 1);
  journal j = {0};
  journal_contact_add(&j, 50, bot, "+15550050", 1);
  journal_bot_store(&j, bot, "{\"n\":1}", 0);
  const char *pids[] = {"SM-a", "SM-b", "SM-a", "SM-c"};
  for (int i = 0; i < 4; i++) {
    message_row m = in_row(100 + i, bot, c, pids[i]);
    journal_message(&j, &m);
    journal_conversation(&j, c, "{\"seen\":true}", NULL, 1000 + i);
  }
  CHECK_INT(journal_apply(st, &j, err, sizeof err), -1, "the journal fails");
  CHECK(strstr(err, "SM-a") && strstr(err, "102"),
        "the error names the message and its provider id: %s", err);
  CHECK_INT(sql_int(path, "SELECT count(*) FROM messages"), 0, "no message is kept");
  CHECK_INT(sql_int(path, "SELECT count(*) FROM conversations"), 0,
            "no conversation is kept");
  CHECK_INT(sql_int(path, "SELECT count(*) FROM contacts"), 1, "no contact is added");
  char *json = store_bot_store_get(store_reads(st), bot, NULL);
  CHECK_STR(json, "{}", "bot.store is as it was");
  free(json);

  journal_clear(&j);
  message_row m = in_row(100, bot, c, "SM-a");
  journal_message(&j, &m);
  CHECK_INT(journal_apply(st, &j, err, sizeof err), 0, "the next journal applies: %s",
            err);
  CHECK_INT(sql_int(path, "SELECT count(*) FROM messages"), 1, "... and is kept");
  journal_free(&j);
  store_close(st);
  free(path);
}

/* A journal keeps its own copy of every string, whatever their number and
 * size, through appends and after the journals they came from are gone. */
static void test_journal_keeps_copies_of_strings(void) {
  enum { COUNT = 5000, BIG = 300000 };
  journal j = {0}, other = {0};
  char text[64];
  for (int i = 0; i < COUNT; i++) {
    snprintf(text, sizeof text, "message number %d", i);
    message_row m = out_row(1, 2, text, i % 2 ? "queued" : "sent");
    journal_message(i % 3 ? &j : &other, &m);
    text[0] = 'X'; /* the caller's buffer changes: the journal's copy does not */
  }
  char *big = xmalloc(BIG + 1);
  memset(big, 'b', BIG);
  big[BIG] = 0;
  journal_bot_store(&other, 1, big, 0);
  big[0] = 'X';
  journal_contact_update(&other, 2, NULL, "{\"a\":1}", NULL, NULL);
  journal_append(&j, &other);
  journal_free(&other); /* nothing of j's may go with it */
  CHECK_INT((int)j.n, COUNT + 2, "every op is in the journal");
  int bad = 0, in_j = 0, in_other = 0, j_own = COUNT - (COUNT + 2) / 3;
  for (int i = 0; i < COUNT; i++) {
    int k = i % 3 ? in_j++ : j_own + in_other++;
    snprintf(text, sizeof text, "message number %d", i);
    if (strcmp(j.ops[k].u.message.text, text) != 0 ||
        j.ops[k].u.message.provider_id != NULL)
      bad++;
  }
  CHECK_INT(bad, 0, "every message keeps its text, and a NULL stays NULL");
  big[0] = 'b';
  CHECK(strcmp(j.ops[COUNT].u.bot_store.json, big) == 0,
        "a string larger than any block is kept whole");
  CHECK(
      j.ops[COUNT + 1].u.contact_update.status == NULL &&
          strcmp(j.ops[COUNT + 1].u.contact_update.fields, "{\"a\":1}") == 0,
      "the op after it keeps its strings");
  journal_clear(&j);
  message_row m = out_row(1, 2, "after the clear", "sent");
  journal_message(&j, &m);
  CHECK_STR(j.ops[0].u.message.text, "after the clear",
            "a cleared journal records again");
  journal_free(&j);
  free(big);
}

/* The writer's thread applies one journal while the engine's thread fills
 * the next (the buffers of the last one given back): every string reaches
 * the store as journaled. */
static void test_writer_thread_stores_every_string(const char *dir) {
  char *path = xasprintf("%s/strings.db", dir), err[512] = "";
  store *st = store_open(path, err, sizeof err);
  CHECK(st != NULL, "the store opens: %s", err);
  if (!st) return;
  int64_t bot = store_bot_ensure(st, "b", 1);
  int64_t c = store_contact_insert(st, 0, bot, "+15550001", 1);
  store_close(st);
  writer *w = writer_open(path, 1, err, sizeof err);
  journal j = {0};
  char text[64];
  int failed = 0;
  for (int round = 0; round < 20; round++) {
    for (int i = 0; i < 300; i++) {
      snprintf(text, sizeof text, "round %d message %d", round, i);
      message_row m = out_row(bot, c, text, "sent");
      m.id = round * 1000 + i + 1;
      journal_message(&j, &m);
      journal_conversation(&j, c, text, NULL, m.id);
    }
    failed += writer_submit(w, &j, err, sizeof err) != 0;
  }
  failed += writer_wait(w, err, sizeof err) != 0;
  CHECK_INT(failed, 0, "every journal applies: %s", err);
  writer_close(w);
  CHECK_INT(sql_int(path, "SELECT count(*) FROM messages"), 6000,
            "every message is stored");
  CHECK_INT(sql_int(path,
                    "SELECT count(*) FROM messages WHERE text != 'round ' ||"
                    " (id / 1000) || ' message ' || (id % 1000 - 1)"),
            0, "each with its own text");
  char *state = sql_text(path, "SELECT state FROM conversations");
  CHECK_STR(state, "round 19 message 299", "the conversation has the last state");
  free(state);
  journal_free(&j);
  free(path);
}

int main(void) {
  char dir[] = "/tmp/parley-test-writer-XXXXXX";
  if (!mkdtemp(dir)) return 1;
  test_apply_answers_after_the_journal_in_flight(dir);
  test_append_moves_ops_in_order();
  test_apply_keeps_message_order(dir);
  test_apply_duplicate_rolls_back_everything(dir);
  test_journal_keeps_copies_of_strings();
  test_writer_thread_stores_every_string(dir);
  test_rmtree(dir);
  return test_done();
}
