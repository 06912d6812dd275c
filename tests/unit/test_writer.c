/* Unit tests for runtime/journal.h's writer: the engine's thread owning the
 * writer's connection (writer_exclusive_begin/end) holds other threads'
 * journals back, so two threads never use the connection at once. */
#include <pthread.h>
#include <unistd.h>

#include "journal.h"
#include "store.h"
#include "test.h"
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

static void test_exclusive_holds_side_journals_back(const char *dir) {
  char *path = xasprintf("%s/writer.db", dir), err[512];
  store *st = store_open(path, err, sizeof err);
  CHECK(st != NULL, "the store opens: %s", err);
  if (!st) return;
  int64_t bot = store_bot_ensure(st, "b", 1);
  writer *w = writer_open(st, 1, NULL);

  writer_exclusive_begin(w);
  struct side_call sc = {.w = w};
  journal_bot_store(&sc.j, bot, "{\"n\":1}");
  pthread_t t;
  pthread_create(&t, NULL, apply_side, &sc);
  usleep(200 * 1000); /* time for the other thread to reach the writer */
  CHECK(!__atomic_load_n(&sc.done, __ATOMIC_SEQ_CST),
        "a side journal waits while the engine's thread owns the connection");
  /* meanwhile the engine's thread writes on it itself */
  CHECK_INT(store_begin(st), 0, "the owner begins a transaction");
  CHECK_INT(store_bot_ensure(st, "c", 2) > 0, 1, "... writes");
  CHECK_INT(store_commit(st), 0, "... and commits, alone on the connection");
  writer_exclusive_end(w);
  pthread_join(t, NULL);
  CHECK(sc.done && sc.rc == 0, "after the end the side journal is applied");
  char *json = store_bot_store_get(st, bot);
  CHECK_STR(json, "{\"n\":1}", "... and committed");
  free(json);

  /* an idle writer: begin and end at once, and side journals go on */
  writer_exclusive_begin(w);
  writer_exclusive_end(w);
  struct side_call again = {.w = w};
  journal_bot_store(&again.j, bot, "{\"n\":2}");
  apply_side(&again);
  CHECK_INT(again.rc, 0, "a side journal after an exclusive section is applied");
  writer_close(w);
  journal_free(&sc.j);
  journal_free(&again.j);
  store_close(st);
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
  journal_bot_store(&dst, 1, "{\"dst\":1}");
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
    CHECK_STR(dst.ops[0].s[2], "first", "dst's own ops come first");
    CHECK_STR(dst.ops[1].s[0], "{\"dst\":1}", "... in their order");
    CHECK_STR(dst.ops[2].s[2], "second", "then src's, in order");
    CHECK_STR(dst.ops[3].s[2], "third", "...");
    CHECK_INT(dst.ops[4].kind == J_CONTACT_SEEN && dst.ops[4].id == 3, 1, "...");
  }
  /* src is reusable, and what it records later is its own */
  message_row d = out_row(1, 4, "fourth", "queued");
  journal_message(&src, &d);
  CHECK_INT((int)src.n, 1, "src records again after the append");
  CHECK_STR(src.ops[0].s[2], "fourth", "... its own strings");
  CHECK_STR(dst.ops[2].s[2], "second", "dst's moved strings are untouched");
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

int main(void) {
  char dir[] = "/tmp/parley-test-writer-XXXXXX";
  if (!mkdtemp(dir)) return 1;
  test_exclusive_holds_side_journals_back(dir);
  test_append_moves_ops_in_order();
  test_rmtree(dir);
  return test_done();
}
