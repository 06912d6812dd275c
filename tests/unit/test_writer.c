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

int main(void) {
  char dir[] = "/tmp/parley-test-writer-XXXXXX";
  if (!mkdtemp(dir)) return 1;
  test_exclusive_holds_side_journals_back(dir);
  test_rmtree(dir);
  return test_done();
}
