/* make bench: the in-process workload of shared/bench/WORKLOAD.md.
 *
 * 200,000 messages over 10,000 contacts through the engine (no HTTP) into a
 * file-backed SQLite database, every message, reply and state change
 * persisted; the totals are checked against the workload's expected counts
 * by querying what was stored. Prints messages/second, peak RSS and latency
 * percentiles, then the memory cost of idle contacts (1,000,000 in store). */
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

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
  int64_t *lat = xcalloc(N / BATCH + 1, sizeof *lat);
  size_t nlat = 0;
  int64_t t0 = mono_ns();
  for (long i = 0; i < N; i += BATCH) {
    long n = N - i < BATCH ? N - i : BATCH;
    for (long j = 0; j < n; j++) {
      const char *text = message_text(i + j);
      batch[j] = (inbound){.from = numbers[(i + j) % U], .text = text, .len = strlen(text)};
    }
    int64_t b0 = mono_ns();
    if (engine_handle(e, b, batch, (size_t)n, err, sizeof err)) {
      fprintf(stderr, "bench: %s\n", err);
      return 1;
    }
    lat[nlat++] = mono_ns() - b0;
  }
  double secs = (double)(mono_ns() - t0) / 1e9;
  qsort(lat, nlat, sizeof *lat, cmp_i64);
  engine_stats st = engine_stats_of(e);
  printf("workload: %ld messages over %d contacts, batches of %d, file-backed SQLite (WAL)\n", N, U, BATCH);
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
  int bad = N == 200000 ? verify(db_path) : 0;
  free(db_path);
  return bad;
}

/* 1,000,000 contacts in the store; RSS and Lua heap before and after. */
static int run_idle(const char *dir) {
  char *db_path = xasprintf("%s/idle.db", dir);
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
  long rss0 = rss_kib();
  size_t lua0 = sandbox_stats_of(bot_sandbox(b)).memory;
  store *st = engine_store(e);
  int64_t now = engine_now(e);
  int64_t t0 = mono_ns();
  store_begin(st);
  for (long i = 0; i < IDLE; i++) {
    char number[20];
    snprintf(number, sizeof number, "+1666%07ld", i);
    if (store_contact_insert(st, bot_id(b), number, now) < 0) {
      fprintf(stderr, "bench: %s\n", store_error(st));
      return 1;
    }
  }
  store_commit(st);
  double secs = (double)(mono_ns() - t0) / 1e9;
  /* a message from one of them: the others stay idle */
  inbound in = {.from = "+16660000001", .text = "hello", .len = 5};
  engine_handle(e, b, &in, 1, err, sizeof err);
  long rss1 = rss_kib();
  size_t lua1 = sandbox_stats_of(bot_sandbox(b)).memory;
  printf("idle contacts: %d in the store (inserted in %.2f s)\n", IDLE, secs);
  printf("  RAM per idle contact                   %8.2f bytes (RSS %ld -> %ld KiB; SQLite page cache included)\n",
         (rss1 - rss0) * 1024.0 / IDLE, rss0, rss1);
  printf("  Lua heap per idle contact              %8.4f bytes (Lua heap %zu -> %zu bytes)\n",
         ((double)lua1 - (double)lua0) / IDLE, lua0, lua1);
  engine_close(e);
  free(db_path);
  return 0;
}

int main(int argc, char **argv) {
  int only_workload = argc > 1 && strcmp(argv[1], "workload") == 0;
  if (only_workload && argc > 2) N = atol(argv[2]);
  char tmpl[] = "/tmp/parley-bench-XXXXXX";
  char *dir = mkdtemp(tmpl);
  if (!dir) {
    perror("mkdtemp");
    return 1;
  }
  int bad = run_workload(dir);
  if (!only_workload) bad |= run_idle(dir);
  char *cmd = xasprintf("rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "bench: could not remove %s\n", dir);
  free(cmd);
  printf("%s\n", bad ? "bench: totals WRONG" : "bench: totals correct");
  return bad;
}
