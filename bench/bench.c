/* make bench: the in-process workload of shared/bench/WORKLOAD.md.
 *
 * 200,000 messages over 10,000 contacts through the engine (no HTTP) into a
 * file-backed SQLite database, every message, reply and state change
 * persisted; the totals are checked against the workload's expected counts
 * by querying what was stored. Prints messages/second, peak RSS and latency
 * percentiles, then the memory cost of idle contacts (1,000,000 in store),
 * then durable timers (bench/timers): 1,000,000 scheduled over 100,000
 * contacts, a restart with them pending, 100,000 firing at once.
 *
 * Then a contacts import (contacts_file.h): 100,000 CSV rows into the
 * store, the same file again (nothing changes), and the export.
 *
 *   bench                 every section
 *   bench workload [N]    the workload alone (N messages: for profiling)
 *   bench timers [N]      the timers alone (N contacts, 10 timers each)
 *   bench import [N]      the contacts import alone (N rows) */
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "contacts_file.h"
#include "engine.h"
#include "store.h"
#include "util.h"

enum { U = 10000, BATCH = 256, IDLE = 1000000 };
/* The workload's size; `bench workload N` runs a shorter one for profiling
 * (the expected totals are only checked for the full 200,000). */
static long N = 200000;

static const char *STOP_TEXTS[] = {"STOP", " unsubscribe", "Cancel ", "end", "\tQUIT\n"};
static const char *START_TEXTS[] = {"START", " start ", "Start"};
static const char *TOUR_TEXTS[] = {"When is the next tour?", "TOUR dates please",
                                   "tour merch?", "Tour!"};
static const char *MERCH_TEXTS[] = {"where can I buy merch", "MERCH?", "any merch left"};
static const char *FREE_TEXTS[] = {"hello", "I love the new album",
                                   "please stop by the store", "detour on the highway",
                                   "see you at the show", "merchandise?",
                                   "start the show already", "thanks!"};

static uint32_t lowbias32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  x *= 0x846ca68bU;
  x ^= x >> 16;
  return x;
}

static const char *message_text(long i) {
  long slot = ((i % 100) + (long)(lowbias32((uint32_t)(i / 100)) % 100)) % 100;
  if (slot <= 1) return STOP_TEXTS[i % 5];
  if (slot == 2) return START_TEXTS[i % 3];
  if (slot <= 12) return TOUR_TEXTS[i % 4];
  if (slot <= 17) return MERCH_TEXTS[i % 3];
  return FREE_TEXTS[i % 8];
}

static long rss_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long v = -1;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "VmRSS: %ld kB", &v) == 1) break;
  if (f) fclose(f);
  return v;
}

static long peak_rss_kib(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

static long query_long(sqlite3 *db, const char *sql) {
  sqlite3_stmt *s;
  long v = -1;
  if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
    v = (long)sqlite3_column_int64(s, 0);
  else
    fprintf(stderr, "bench: query failed: %s: %s\n", sql, sqlite3_errmsg(db));
  sqlite3_finalize(s);
  return v;
}

static int check(const char *what, long got, long want) {
  printf("  %-38s %8ld  %s\n", what, got, got == want ? "ok" : "WRONG");
  if (got != want) printf("    expected %ld\n", want);
  return got == want ? 0 : 1;
}

static int verify(const char *db_path) {
  sqlite3 *db;
  if (sqlite3_open(db_path, &db) != SQLITE_OK) return 1;
  int bad = 0;
  printf("totals (read back from the database):\n");
  bad |= check("messages in", query_long(db, "SELECT count(*) FROM messages WHERE direction='in'"), 200000);
  bad |= check("handled stop (opt-out confirmations)",
               query_long(db, "SELECT count(*) FROM messages WHERE direction='out' AND text LIKE '%unsubscribed%'"), 4000);
  bad |= check("handled start (opt-in + Welcome back!)",
               query_long(db, "SELECT count(*) FROM messages WHERE direction='out' AND (text LIKE '%subscribed again%' OR text = 'Welcome back!')"), 2000);
  bad |= check("handled tour", query_long(db, "SELECT count(*) FROM messages WHERE direction='out' AND text LIKE 'Tour dates:%'"), 16649);
  bad |= check("handled merch", query_long(db, "SELECT count(*) FROM messages WHERE direction='out' AND text LIKE 'Shop:%'"), 8378);
  bad |= check("handled thanks", query_long(db, "SELECT count(*) FROM messages WHERE direction='out' AND text LIKE 'Thanks %'"), 137548);
  long replies = query_long(db, "SELECT count(*) FROM messages WHERE direction='out' AND status='sent'");
  bad |= check("replies", replies, 168575);
  bad |= check("no reply (silenced)", 200000 - replies, 31425);
  bad |= check("opted-out contacts at the end", query_long(db, "SELECT count(*) FROM contacts WHERE status='opted_out'"), 3083);
  bad |= check("sum of all counters", query_long(db, "SELECT coalesce(sum(json_extract(state,'$.n')),0) FROM conversations"), 137548);
  bad |= check("START from an opted-out contact", query_long(db, "SELECT count(*) FROM consent WHERE action='optin'"), 306);
  sqlite3_close(db);
  return bad;
}

static int run_workload(const char *dir) {
  char *db_path = xasprintf("%s/bench.db", dir);
  char err[4096];
  engine_options opt = {.db_path = db_path};
  engine *e = engine_open(&opt, err, sizeof err);
  if (!e) {
    fprintf(stderr, "bench: %s\n", err);
    return 1;
  }
  bot *b = engine_load_bot(e, "bench/workload", err, sizeof err);
  if (!b) {
    fprintf(stderr, "bench: %s\n", err);
    return 1;
  }
  static char numbers[U][16];
  for (int u = 0; u < U; u++) snprintf(numbers[u], sizeof numbers[u], "+1555%07d", u);
  inbound *batch = xcalloc(BATCH, sizeof *batch);
  size_t nbatches = (size_t)(N + BATCH - 1) / BATCH;
  int64_t *start = xcalloc(nbatches, sizeof *start);
  int64_t *lat = xcalloc(nbatches, sizeof *lat);
  size_t nlat = 0;
  int64_t t0 = mono_ns();
  /* engine_submit returns once the batch before is durable: the latency of a
   * message is from its batch's start to the commit of that batch */
  for (long i = 0, k = 0; i < N; i += BATCH, k++) {
    long n = N - i < BATCH ? N - i : BATCH;
    for (long j = 0; j < n; j++) {
      const char *text = message_text(i + j);
      batch[j] = (inbound){.from = numbers[(i + j) % U], .text = text, .len = strlen(text)};
    }
    start[k] = mono_ns();
    if (engine_submit(e, b, batch, (size_t)n, err, sizeof err)) {
      fprintf(stderr, "bench: %s\n", err);
      return 1;
    }
    if (k > 0) lat[nlat++] = mono_ns() - start[k - 1];
  }
  if (engine_flush(e, err, sizeof err)) {
    fprintf(stderr, "bench: %s\n", err);
    return 1;
  }
  lat[nlat] = mono_ns() - start[nlat];
  nlat++;
  double secs = (double)(mono_ns() - t0) / 1e9;
  qsort(lat, nlat, sizeof *lat, cmp_i64);
  engine_stats st = engine_stats_of(e);
  printf("workload: %ld messages over %d contacts, batches of %d, file-backed SQLite (WAL),\n"
         "  scripts on the engine thread while a writer thread commits the batch before\n", N, U, BATCH);
  printf("  messages/second                        %8.0f   (target >= 100000)\n", N / secs);
  printf("  wall time                              %8.2f s\n", secs);
  printf("  latency per message, p50 (its batch, arrival to commit) %.2f ms\n", lat[nlat / 2] / 1e6);
  printf("  latency per message, p99 (its batch, arrival to commit) %.2f ms\n", lat[nlat * 99 / 100] / 1e6);
  printf("  mean handling time per message         %8.2f us\n", secs * 1e6 / N);
  printf("  peak RSS                               %8.1f MiB\n", peak_rss_kib() / 1024.0);
  printf("  handler errors %ld, limit hits %ld\n", st.errors, st.limit_hits);
  engine_close(e);
  free(batch);
  free(lat);
  free(start);
  int bad = N == 200000 ? verify(db_path) : 0;
  free(db_path);
  return bad;
}

/* Opens an engine on db, texts it from `senders` numbers (existing contacts
 * when prefix names them), and reports RSS growth and Lua heap. Runs in a
 * child process so each measurement starts from the same memory. */
typedef struct footprint {
  long rss_kib;
  size_t lua_bytes;
} footprint;

static int measure(const char *db, const char *prefix, long senders, footprint *out) {
  int fd[2];
  if (pipe(fd)) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    close(fd[0]);
    footprint f = {0};
    long rss0 = rss_kib();
    char err[4096];
    engine_options opt = {.db_path = db};
    engine *e = engine_open(&opt, err, sizeof err);
    bot *b = e ? engine_load_bot(e, "bench/workload", err, sizeof err) : NULL;
    if (!b) {
      fprintf(stderr, "bench: %s\n", err);
      _exit(1);
    }
    for (long i = 0; i < senders; i++) {
      char number[20];
      snprintf(number, sizeof number, "%s%07ld", prefix, i * (IDLE / senders));
      inbound in = {.from = number, .text = "hello", .len = 5};
      if (engine_submit(e, b, &in, 1, err, sizeof err)) _exit(1);
    }
    engine_flush(e, err, sizeof err);
    f.rss_kib = rss_kib() - rss0;
    f.lua_bytes = sandbox_stats_of(bot_sandbox(b)).memory;
    if (write(fd[1], &f, sizeof f) != sizeof f) _exit(1);
    _exit(0);
  }
  close(fd[1]);
  ssize_t got = read(fd[0], out, sizeof *out);
  close(fd[0]);
  int status;
  waitpid(pid, &status, 0);
  return got == sizeof *out && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* The cost of idle conversations: the same traffic against a store with
 * 1,000,000 contacts and against an empty one. */
static int run_idle(const char *dir) {
  char *full = xasprintf("%s/idle.db", dir), *empty = xasprintf("%s/empty.db", dir);
  char err[4096];
  store *st = store_open(full, err, sizeof err);
  if (!st) {
    fprintf(stderr, "bench: %s\n", err);
    return 1;
  }
  int64_t t0 = mono_ns();
  int64_t bot = store_bot_ensure(st, "workload", wall_ms());
  store_begin(st);
  for (long i = 0; i < IDLE; i++) {
    char number[20];
    snprintf(number, sizeof number, "+1666%07ld", i);
    if (store_contact_insert(st, 0, bot, number, wall_ms()) < 0) {
      fprintf(stderr, "bench: %s\n", store_error(st));
      return 1;
    }
  }
  store_commit(st);
  store_close(st);
  double secs = (double)(mono_ns() - t0) / 1e9;
  enum { SENDERS = 10000 };
  footprint with, without;
  if (measure(full, "+1666", SENDERS, &with) || measure(empty, "+1777", SENDERS, &without)) {
    fprintf(stderr, "bench: the idle-contact measurement failed\n");
    return 1;
  }
  printf("idle contacts: %d in the store (inserted in %.2f s); %d of them text once\n", IDLE,
         secs, SENDERS);
  printf("  RSS growth, store with 1,000,000 contacts  %8ld KiB\n", with.rss_kib);
  printf("  RSS growth, empty store (same traffic)     %8ld KiB\n", without.rss_kib);
  printf("  RAM per idle contact                   %8.2f bytes (the difference is SQLite's page cache, capped at 64 MiB a connection)\n",
         (with.rss_kib - without.rss_kib) * 1024.0 / IDLE);
  printf("  Lua heap, 1,000,000 contacts / empty   %zu / %zu bytes (idle contacts cost no Lua memory)\n",
         with.lua_bytes, without.lua_bytes);
  free(full);
  free(empty);
  return 0;
}

/* ---------------------------------------------------------------- timers */

/* The engine's clock in the timers section: virtual, so time can jump. */
static int64_t vclock_ms;
static int64_t vclock(void *ud) {
  (void)ud;
  return vclock_ms;
}

enum { TIMERS_PER_CONTACT = 10 };
/* Contacts in the timers section; `bench timers N` runs a smaller one. */
static long TC = 100000;
/* 2026-03-02 10:00 UTC: the virtual clock while the timers are scheduled */
static const int64_t T0 = 1772445600000LL;
/* "tick" timers are due 30 minutes on; the spread-out ones from 1h */
static const int64_t TICK_MS = 30 * 60 * 1000LL;

static void timer_number(char *out, size_t n, long i) {
  snprintf(out, n, "+1888%07ld", i);
}

/* Every contact texts `text` once, in batches, at the virtual clock's time. */
static int timers_traffic(engine *e, bot *b, const char *text, char *err, size_t errlen) {
  static char numbers[BATCH][32];
  inbound batch[BATCH];
  for (long i = 0; i < TC; i += BATCH) {
    long n = TC - i < BATCH ? TC - i : BATCH;
    for (long j = 0; j < n; j++) {
      timer_number(numbers[j], sizeof numbers[j], i + j);
      batch[j] = (inbound){.from = numbers[j], .text = text, .len = strlen(text)};
    }
    if (engine_submit(e, b, batch, (size_t)n, err, errlen)) return -1;
  }
  return engine_flush(e, err, errlen);
}

static engine *timers_open(const char *db_path, bot **b, char *err, size_t errlen) {
  engine_options opt = {.db_path = db_path, .clock = vclock};
  engine *e = engine_open(&opt, err, errlen);
  if (e && !(*b = engine_load_bot(e, "bench/timers", err, errlen))) {
    engine_close(e);
    e = NULL;
  }
  return e;
}

static int verify_timers(const char *db_path) {
  sqlite3 *db;
  if (sqlite3_open(db_path, &db) != SQLITE_OK) return 1;
  int bad = 0;
  printf("timers (read back from the database):\n");
  bad |= check("timers done", query_long(db, "SELECT count(*) FROM timers WHERE status='done'"), TC);
  bad |= check("tick timers done",
               query_long(db, "SELECT count(*) FROM timers WHERE status='done' AND handler='tick'"), TC);
  bad |= check("sum of ticks",
               query_long(db, "SELECT coalesce(sum(json_extract(state,'$.ticks')),0) FROM conversations"), TC);
  bad |= check("timers still pending",
               query_long(db, "SELECT count(*) FROM timers WHERE status='pending'"), TC * TIMERS_PER_CONTACT);
  bad |= check("handler errors", query_long(db, "SELECT count(*) FROM errors"), 0);
  sqlite3_close(db);
  return bad;
}

static int run_timers(const char *dir) {
  char *db_path = xasprintf("%s/timers.db", dir);
  char err[4096];
  int bad = 1;
  bot *b = NULL;
  long rss0 = rss_kib();
  vclock_ms = T0;
  engine *e = timers_open(db_path, &b, err, sizeof err);
  if (!e) goto fail;
  long ntimers = TC * TIMERS_PER_CONTACT;
  printf("timers: %ld over %ld contacts (%d each, due 1h..10d on), file-backed SQLite (WAL)\n",
         ntimers, TC, TIMERS_PER_CONTACT);

  /* 1. schedule: every contact texts SCHEDULE; its handler calls bot.after 10 times */
  int64_t t0 = mono_ns();
  if (timers_traffic(e, b, "schedule", err, sizeof err)) goto fail;
  double secs = (double)(mono_ns() - t0) / 1e9;
  printf("  scheduling: messages/second            %8.0f\n", TC / secs);
  printf("  scheduling: timers/second              %8.0f   (%.2f s for %ld)\n", ntimers / secs,
         secs, ntimers);
  printf("  RSS after scheduling                   %8.1f MiB (%+.1f MiB in this section)\n",
         rss_kib() / 1024.0, (rss_kib() - rss0) / 1024.0);

  /* 2. restart with them pending: open, load, and serve a new message */
  t0 = mono_ns();
  engine_close(e);
  e = NULL;
  double close_secs = (double)(mono_ns() - t0) / 1e9;
  t0 = mono_ns();
  engine_options opt = {.db_path = db_path, .clock = vclock};
  e = engine_open(&opt, err, sizeof err);
  if (!e) goto fail;
  int64_t t_open = mono_ns();
  if (!(b = engine_load_bot(e, "bench/timers", err, sizeof err))) goto fail;
  int64_t t_load = mono_ns();
  inbound hello = {.from = "+15550000000", .text = "hello", .len = 5};
  if (engine_handle(e, b, &hello, 1, err, sizeof err)) goto fail;
  int64_t t_served = mono_ns();
  double restart = (double)(t_served - t0) / 1e9;
  printf("  restart with %ld pending: open + load + first message %.3f s   (target < 2 s)\n",
         ntimers, restart);
  printf("    (engine_open %.3f s, engine_load_bot %.3f s, first message %.3f s; close before %.3f s)\n",
         (t_open - t0) / 1e9, (t_load - t_open) / 1e9, (t_served - t_load) / 1e9, close_secs);

  /* 3. every contact texts TICK at the same moment: TC timers due at T0 + 30m,
   * before all of the spread-out ones */
  if (timers_traffic(e, b, "tick", err, sizeof err)) goto fail;
  t0 = mono_ns();
  if (engine_advance(e, T0 + TICK_MS, err, sizeof err)) goto fail;
  secs = (double)(mono_ns() - t0) / 1e9;
  vclock_ms = T0 + TICK_MS;
  printf("  %ld timers due at once: fires/second %8.0f   (target >= 50000; %.2f s, each\n"
         "    through a Lua handler that updates c.state, committed)\n", TC, TC / secs, secs);
  engine_stats st = engine_stats_of(e);
  printf("  handler errors %ld, limit hits %ld\n", st.errors, st.limit_hits);
  engine_close(e);
  e = NULL;
  bad = verify_timers(db_path);
  free(db_path);
  return bad;
fail:
  fprintf(stderr, "bench: timers: %s\n", err);
  engine_close(e);
  free(db_path);
  return 1;
}

static long IMPORT_ROWS = 100000;

/* One import of the file; its seconds, or -1. */
static double timed_import(store *st, int64_t bot, const char *csv, size_t len,
                           import_report *rep) {
  int64_t last = 0, m, t;
  if (store_max_ids(st, &last, &m, &t)) return -1;
  import_options opt = {.format = IMPORT_CSV, .now = 1767225600000};
  char err[512];
  int64_t t0 = mono_ns();
  if (contacts_import(st, bot, &last, csv, len, &opt, rep, err, sizeof err)) {
    fprintf(stderr, "bench: import: %s\n", err);
    return -1;
  }
  json_decref(rep->errors);
  return (double)(mono_ns() - t0) / 1e9;
}

static int run_import(const char *dir) {
  buf csv = {0};
  buf_puts(
      &csv,
      "number,fields.city,fields.age,fields.birthday,tags,consent_source,consent_at\n");
  static const char *cities[] = {"Austin", "Dallas", "Houston", "San Antonio, TX"};
  for (long i = 0; i < IMPORT_ROWS; i++)
    buf_printf(
        &csv,
        "+1777%07ld,\"%s\",%ld,%04ld-%02ld-%02ld,vip;fan%ld,web form,2025-%02ld-01\n",
        i, cities[i % 4], 18 + i % 60, 1950 + i % 60, 1 + i % 12, 1 + i % 28, i % 10,
        1 + i % 12);
  char *path = xasprintf("%s/import.db", dir);
  char err[512];
  store *st = store_open(path, err, sizeof err);
  free(path);
  if (!st) {
    fprintf(stderr, "bench: %s\n", err);
    buf_free(&csv);
    return 1;
  }
  int64_t bot = store_bot_ensure(st, "import", 0);
  import_report first, again;
  double s1 = timed_import(st, bot, csv.data, csv.len, &first);
  double s2 = s1 < 0 ? -1 : timed_import(st, bot, csv.data, csv.len, &again);
  buf out = {0};
  int64_t t0 = mono_ns();
  int exported = s2 >= 0 && contacts_export_csv(st, bot, &out) == 0;
  double s3 = (double)(mono_ns() - t0) / 1e9;
  int bad = s1 < 0 || s2 < 0 || !exported;
  if (!bad) {
    printf(
        "contacts import: %ld CSV rows (%.1f MiB), batches of %d, file-backed "
        "SQLite:\n",
        IMPORT_ROWS, csv.len / 1048576.0, IMPORT_BATCH);
    printf("  rows/second, new contacts              %8.0f   (%.2f s)\n",
           IMPORT_ROWS / s1, s1);
    printf("  rows/second, the same file again       %8.0f   (%.2f s)\n",
           IMPORT_ROWS / s2, s2);
    printf("  rows/second, export                    %8.0f   (%.2f s, %.1f MiB)\n",
           IMPORT_ROWS / s3, s3, out.len / 1048576.0);
    bad |= check("contacts created", first.created, IMPORT_ROWS);
    bad |= check("opt-ins in the ledger", first.opted_in, IMPORT_ROWS);
    bad |= check("unchanged on the second run", again.unchanged, IMPORT_ROWS);
    bad |= check("rows refused", first.failed + again.failed, 0);
  }
  buf_free(&out);
  buf_free(&csv);
  store_close(st);
  return bad;
}

int main(int argc, char **argv) {
  const char *only = argc > 1 ? argv[1] : NULL;
  if (only && strcmp(only, "workload") != 0 && strcmp(only, "timers") != 0 &&
      strcmp(only, "import") != 0) {
    fprintf(stderr, "usage: bench [workload [N] | timers [N] | import [N]]\n");
    return 2;
  }
  if (only && argc > 2 && strcmp(only, "workload") == 0) N = atol(argv[2]);
  if (only && argc > 2 && strcmp(only, "timers") == 0) TC = atol(argv[2]);
  if (only && argc > 2 && strcmp(only, "import") == 0) IMPORT_ROWS = atol(argv[2]);
  if (N <= 0 || TC <= 0 || TC > 9999999 || IMPORT_ROWS <= 0 || IMPORT_ROWS > 9999999) {
    fprintf(stderr, "bench: N must be a positive number\n");
    return 2;
  }
  char tmpl[] = "/tmp/parley-bench-XXXXXX";
  char *dir = mkdtemp(tmpl);
  if (!dir) {
    perror("mkdtemp");
    return 1;
  }
  int bad = 0;
  if (!only || strcmp(only, "workload") == 0) bad |= run_workload(dir);
  if (!only) bad |= run_idle(dir);
  if (!only || strcmp(only, "timers") == 0) bad |= run_timers(dir);
  if (!only || strcmp(only, "import") == 0) bad |= run_import(dir);
  char *cmd = xasprintf("rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "bench: could not remove %s\n", dir);
  free(cmd);
  printf("%s\n", bad ? "bench: totals WRONG" : "bench: totals correct");
  return bad;
}
