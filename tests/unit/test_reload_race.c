/* The writer's connection has one owner: a bot reloaded 300 times on the
 * engine's thread while another thread (as the sender does) commits side
 * journals through the writer. Each reload's writes (the bot, its version,
 * its active mark) and each side journal commit whole, none mixed into
 * another's transaction, and nothing crashes. Run under ThreadSanitizer by
 * `make test-tsan`.
 *
 *   make build/test_reload_race && ./build/test_reload_race */
#include <pthread.h>

#include "engine.h"
#include "journal.h"
#include "script.h"
#include "store.h"
#include "test.h"
#include "test_sql.h"

enum { RELOADS = 300 };

struct side_writer {
  engine *e;
  int64_t bot;
  _Atomic int stop;
  _Atomic long applied, failed;
  char err[512];
};

/* Commits side journals, one after the other, until told to stop. */
static void *write_sides(void *arg) {
  struct side_writer *s = arg;
  journal j = {0};
  char json[64];
  while (!s->stop) {
    snprintf(json, sizeof json, "{\"n\":%ld}", s->applied + 1);
    journal_bot_store(&j, s->bot, json, 0);
    if (engine_apply_side(s->e, &j, s->err, sizeof s->err))
      s->failed++;
    else
      s->applied++;
    journal_clear(&j);
  }
  journal_free(&j);
  return NULL;
}

static script *version(const char *name, int i) {
  char json[256], err[256];
  snprintf(json, sizeof json,
           "{\"bot.lua\": \"bot.config{ name = '%s' }\\n"
           "bot.keyword('v', function() return 'version %d' end)\\n\"}",
           name, i);
  script *s = script_from_json(name, name, json, err, sizeof err);
  if (!s) test_note("script_from_json: %s", err);
  return s;
}

int main(void) {
  char dir[] = "/tmp/parley-test-reload-race-XXXXXX";
  if (!mkdtemp(dir)) return 1;
  char path[256], err[1024] = "";
  snprintf(path, sizeof path, "%s/race.db", dir);
  engine_options opt = {.db_path = path, .serving = 1, .engine_threads = 1};
  engine *e = engine_open(&opt, err, sizeof err);
  CHECK(e != NULL, "the engine opens on a file store: %s", err);
  if (!e) return test_done();
  bot *other = engine_install(e, version("other", 0), NULL, err, sizeof err);
  CHECK(other != NULL, "a second bot installs: %s", err);
  if (!other) return test_done();

  struct side_writer s = {.e = e, .bot = bot_id(other)};
  pthread_t t;
  pthread_create(&t, NULL, write_sides, &s);
  int installed = 0;
  char first_err[1024] = "";
  for (int i = 1; i <= RELOADS; i++) {
    if (engine_install(e, version("fan", i), NULL, err, sizeof err))
      installed++;
    else if (!*first_err)
      snprintf(first_err, sizeof first_err, "%s", err);
  }
  /* the side writer goes on until the reloads are done, then one more */
  long before = s.applied;
  while (s.applied == before && !s.failed) sched_yield();
  s.stop = 1;
  pthread_join(t, NULL);

  CHECK_INT(installed, RELOADS, "every reload installs (first failure: %s)", first_err);
  CHECK(s.failed == 0, "every side journal commits (%ld failed: %s)", s.failed, s.err);
  CHECK(s.applied > 0, "side journals were committed during the reloads (%ld)",
        s.applied);
  bot *fan = engine_find_bot(e, "fan");
  CHECK_INT(fan ? (int)bot_version(fan) : -1, RELOADS, "the last reload is version %d",
            RELOADS);
  engine_close(e);

  char sql[256];
  snprintf(sql, sizeof sql,
           "SELECT count(*) FROM script_versions v JOIN bots b ON b.id = v.bot_id"
           " WHERE b.name = 'fan'");
  CHECK_INT(sql_int(path, sql), RELOADS, "the store holds every version");
  CHECK_INT(
      sql_int(path,
              "SELECT count(*) FROM bots b JOIN script_versions v"
              " ON v.bot_id = b.id AND v.id <= b.active_version WHERE b.name = 'fan'"),
      RELOADS, "... and the last one is the active version");
  snprintf(sql, sizeof sql,
           "SELECT json_extract(store, '$.n') FROM bots WHERE name = 'other'");
  CHECK_INT(sql_int(path, sql), (int)s.applied,
            "the last side journal is the one kept");
  test_rmtree(dir);
  return test_done();
}
