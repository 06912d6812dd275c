/* A broadcast killed mid-way (SIGKILL, any moment) and resumed sends every
 * recipient exactly one message: the cursor and the sends commit together.
 *
 *   make build/test_broadcast_crash && ./build/test_broadcast_crash */
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <time.h>

#include "engine.h"
#include "test.h"

enum { FANS = 2000 };

static const char *const BOT_LUA =
    "bot.config{ name = 'Crash', quiet_hours = false, broadcast_rate = 1000 }\n"
    "bot.keyword('join', function(c, msg) c.fields.city = 'austin' end)\n"
    "bot.keyword('go', function(c, msg)\n"
    "  bot.broadcast{ segment = { city = 'austin' }, text = 'Hi {{fields.city}}' }\n"
    "end)\n";

static int64_t now_ms = 1772445600000; /* 2026-03-02 10:00 UTC */
static int64_t clock_fn(void *ud) {
  (void)ud;
  return now_ms;
}

static engine *open_engine(const char *db, const char *dir, bot **b) {
  char err[1024];
  engine_options opt = {.db_path = db, .clock = clock_fn};
  engine *e = engine_open(&opt, err, sizeof err);
  if (!e) {
    printf("# %s\n", err);
    return NULL;
  }
  *b = engine_load_bot(e, dir, err, sizeof err);
  if (!*b) printf("# %s\n", err);
  return e;
}

static long query(const char *db, const char *sql) {
  sqlite3 *h;
  sqlite3_stmt *s;
  long v = -1;
  if (sqlite3_open(db, &h) == SQLITE_OK &&
      sqlite3_prepare_v2(h, sql, -1, &s, NULL) == SQLITE_OK) {
    if (sqlite3_step(s) == SQLITE_ROW) v = (long)sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
  }
  sqlite3_close(h);
  return v;
}

/* The child: run the broadcast in small steps until killed. */
static void run_until_killed(const char *db, const char *dir) {
  bot *b;
  engine *e = open_engine(db, dir, &b);
  if (!e || !b) _exit(2);
  char err[1024];
  for (int step = 0; step < 100000; step++) {
    now_ms += 2; /* two sends a commit: a long, killable run */
    if (engine_advance(e, now_ms, err, sizeof err)) _exit(3);
  }
  _exit(0);
}

int main(void) {
  char *tmp = test_tmpdir();
  char *dir = test_path(tmp, "bot");
  mkdir(dir, 0700);
  char *lua = test_path(dir, "bot.lua");
  test_write_file(lua, BOT_LUA, strlen(BOT_LUA));
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  srand((unsigned)ts.tv_nsec);
  for (int round = 0; round < 4; round++) {
    char name[32];
    snprintf(name, sizeof name, "crash%d.db", round);
    char *db = test_path(tmp, name);
    bot *b;
    engine *e = open_engine(db, dir, &b);
    CHECK(e && b, "round %d: the bot loads", round);
    if (!e || !b) break;
    char err[1024];
    for (int i = 0; i < FANS; i++) {
      char number[20];
      snprintf(number, sizeof number, "+1555%07d", i);
      inbound in = {.from = number, .text = "join", .len = 4};
      engine_submit(e, b, &in, 1, err, sizeof err);
    }
    inbound go = {.from = "+15550000000", .text = "go", .len = 2};
    engine_handle(e, b, &go, 1, err, sizeof err);
    engine_close(e);
    pid_t pid = fork();
    if (pid == 0) run_until_killed(db, dir);
    /* kill it at a random moment, most often in the middle of the run */
    struct timespec nap = {0, (long)(10 + rand() % 150) * 1000000L};
    nanosleep(&nap, NULL);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    long before = query(db, "SELECT count(*) FROM messages WHERE text = 'Hi austin'");
    /* resume */
    e = open_engine(db, dir, &b);
    /* it resumes from now at its rate: give it the minutes it needs */
    now_ms += 3600 * 1000;
    CHECK(engine_advance(e, now_ms + 600 * 1000, err, sizeof err) == 0,
          "round %d: the broadcast resumes", round);
    engine_close(e);
    long total = query(db, "SELECT count(*) FROM messages WHERE text = 'Hi austin'");
    long distinct = query(db, "SELECT count(DISTINCT contact_id) FROM messages WHERE text = 'Hi austin'");
    long sent = query(db, "SELECT sent FROM broadcasts WHERE id = 1");
    printf("# round %d: killed after %ld of %d sends\n", round, before, FANS);
    CHECK_INT(total, FANS, "round %d: every recipient got the broadcast", round);
    CHECK_INT(distinct, FANS, "round %d: nobody got it twice", round);
    CHECK_INT(sent, FANS, "round %d: the broadcast counted each send once", round);
    {
      sqlite3 *h;
      sqlite3_stmt *st;
      const char *ok = "";
      char result[64] = "";
      if (sqlite3_open(db, &h) == SQLITE_OK &&
          sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
          snprintf(result, sizeof result, "%s", (const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
      }
      sqlite3_close(h);
      ok = result;
      CHECK_STR(ok, "ok", "round %d: the database passes integrity_check", round);
    }
    free(db);
  }
  test_rmtree(tmp);
  free(lua);
  free(dir);
  free(tmp);
  return test_done();
}
