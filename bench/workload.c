/* The workload of shared/bench/WORKLOAD.md: input, model, run, read-back
 * (see workload.h). */
#include "workload.h"

#include <dirent.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "engine.h"
#include "partition.h"
#include "sql_db.h"
#include "util.h"

enum { BATCH = 256 };

/* What a message is, by the list its text comes from; the rule that takes
 * it follows (WORKLOAD.md: every STOP text is an opt-out keyword, every
 * START text is START, every tour text has the word tour, every merch text
 * the word merch and not tour, no free text has either word). */
typedef enum { STOP_MSG, START_MSG, TOUR_MSG, MERCH_MSG, FREE_MSG } message_kind;

static const char *STOP_TEXTS[] = {"STOP", " unsubscribe", "Cancel ", "end",
                                   "\tQUIT\n"};
static const char *START_TEXTS[] = {"START", " start ", "Start"};
static const char *TOUR_TEXTS[] = {"When is the next tour?", "TOUR dates please",
                                   "tour merch?", "Tour!"};
static const char *MERCH_TEXTS[] = {"where can I buy merch", "MERCH?",
                                    "any merch left"};
static const char *FREE_TEXTS[] = {"hello",
                                   "I love the new album",
                                   "please stop by the store",
                                   "detour on the highway",
                                   "see you at the show",
                                   "merchandise?",
                                   "start the show already",
                                   "thanks!"};

static uint32_t lowbias32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  x *= 0x846ca68bU;
  x ^= x >> 16;
  return x;
}

static message_kind kind_of(long i) {
  long slot = ((i % 100) + (long)(lowbias32((uint32_t)(i / 100)) % 100)) % 100;
  if (slot <= 1) return STOP_MSG;
  if (slot == 2) return START_MSG;
  if (slot <= 12) return TOUR_MSG;
  if (slot <= 17) return MERCH_MSG;
  return FREE_MSG;
}

const char *workload_text(long i) {
  switch (kind_of(i)) {
    case STOP_MSG:
      return STOP_TEXTS[i % 5];
    case START_MSG:
      return START_TEXTS[i % 3];
    case TOUR_MSG:
      return TOUR_TEXTS[i % 4];
    case MERCH_MSG:
      return MERCH_TEXTS[i % 3];
    default:
      return FREE_TEXTS[i % 8];
  }
}

workload_totals workload_model(long n, long u) {
  workload_totals t = {.in = n};
  char *opted_out = xcalloc((size_t)u, 1);
  for (long i = 0; i < n; i++) {
    char *out = &opted_out[i % u];
    message_kind k = kind_of(i);
    if (k == STOP_MSG) {
      *out = 1;
      t.stop++;
    } else if (k == START_MSG) {
      if (*out) t.optin_from_opted_out++;
      *out = 0;
      t.start++;
    } else if (*out) {
      t.silenced++;
    } else if (k == TOUR_MSG) {
      t.tour++;
    } else if (k == MERCH_MSG) {
      t.merch++;
    } else {
      t.thanks++;
    }
  }
  for (long c = 0; c < u; c++) t.opted_out += opted_out[c];
  free(opted_out);
  t.replies = t.stop + t.start + t.tour + t.merch + t.thanks;
  t.no_reply = t.silenced;
  t.counters = t.thanks;
  return t;
}

workload_totals workload_published(void) {
  return (workload_totals){.in = 200000,
                           .stop = 4000,
                           .start = 2000,
                           .silenced = 31425,
                           .tour = 16649,
                           .merch = 8378,
                           .thanks = 137548,
                           .replies = 168575,
                           .no_reply = 31425,
                           .opted_out = 3083,
                           .counters = 137548,
                           .optin_from_opted_out = 306};
}

long workload_peak_rss_kib(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

/* Each thread of this process: its id, name and CPU time so far (ns, from
 * /proc/self/task/TID/schedstat). */
typedef struct thread_cpu {
  long tid;
  char name[16];
  int64_t ns;
} thread_cpu;

enum { MAX_THREADS = 256 };

/* The threads now, in out (at most MAX_THREADS); their count, -1 if the
 * kernel does not keep schedstat. */
static int threads_cpu(thread_cpu *out) {
  DIR *d = opendir("/proc/self/task");
  if (!d) return -1;
  int n = 0;
  struct dirent *ent;
  while (n < MAX_THREADS && (ent = readdir(d))) {
    if (ent->d_name[0] == '.') continue;
    char path[96];
    thread_cpu *t = &out[n];
    t->tid = atol(ent->d_name);
    snprintf(path, sizeof path, "/proc/self/task/%ld/schedstat", t->tid);
    FILE *f = fopen(path, "r");
    long long ns;
    int ok = f && fscanf(f, "%lld", &ns) == 1;
    if (f) fclose(f);
    if (!ok) {
      closedir(d);
      return -1;
    }
    t->ns = ns;
    snprintf(path, sizeof path, "/proc/self/task/%ld/comm", t->tid);
    t->name[0] = 0;
    if ((f = fopen(path, "r"))) {
      if (fgets(t->name, sizeof t->name, f)) t->name[strcspn(t->name, "\n")] = 0;
      fclose(f);
    }
    n++;
  }
  closedir(d);
  return n;
}

/* The CPU each kind of thread used between two snapshots, per message. */
static void cpu_per_message(const thread_cpu *before, int nb, const thread_cpu *after,
                            int na, long messages, workload_result *out) {
  out->cpu_engine_us = out->cpu_writer_us = out->cpu_checkpoint_us = -1;
  if (nb < 0 || na < 0) return;
  int64_t engine = 0, writer = 0, checkpoint = 0;
  for (int i = 0; i < na; i++) {
    int64_t used = after[i].ns;
    for (int j = 0; j < nb; j++)
      if (before[j].tid == after[i].tid) used -= before[j].ns;
    if (strcmp(after[i].name, "parley-writer") == 0) writer += used;
    else if (strcmp(after[i].name, "parley-checkpt") == 0) checkpoint += used;
    else engine += used;
  }
  out->cpu_engine_us = engine / 1e3 / messages;
  out->cpu_writer_us = writer / 1e3 / messages;
  out->cpu_checkpoint_us = checkpoint / 1e3 / messages;
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

int workload_run(const char *db_path, long n, long u, int threads,
                 workload_result *out) {
  return workload_run_part(db_path, n, u, threads, NULL, out);
}

int workload_run_part(const char *db_path, long n, long u, int threads, workload_part *part,
                      workload_result *out) {
  char err[4096];
  engine_options opt = {.db_path = db_path, .engine_threads = threads};
  engine *e = engine_open(&opt, err, sizeof err);
  bot *b = e ? engine_load_bot(e, "bench/workload", err, sizeof err) : NULL;
  unsigned char held[PARTITIONS];
  for (int p = 0; p < PARTITIONS; p++) held[p] = !part || p % part->nodes == part->node;
  if (b && part && engine_set_partitions(e, held, err, sizeof err)) b = NULL;
  if (!b) {
    fprintf(stderr, "bench: %s\n", err);
    if (e) engine_close(e);
    return -1;
  }
  char(*numbers)[16] = xcalloc((size_t)u, sizeof *numbers);
  unsigned char *mine = xcalloc((size_t)u, 1); /* contact c's conversation is this node's */
  for (long c = 0; c < u; c++) {
    snprintf(numbers[c], sizeof numbers[c], "+1555%07d", (int)(c % 10000000));
    mine[c] = held[partition_of(bot_id(b), numbers[c])];
  }
  if (part) {
    part->messages = 0;
    for (long i = 0; i < n; i++) part->messages += mine[i % u];
    n = part->messages;
    part->ready(part->ud);
  }
  inbound *batch = xcalloc(BATCH, sizeof *batch);
  size_t nbatches = (size_t)(n + BATCH - 1) / BATCH;
  int64_t *start = xcalloc(nbatches, sizeof *start);
  int64_t *lat = xcalloc(nbatches, sizeof *lat);
  size_t nlat = 0;
  int rc = 0;
  thread_cpu *cpu_before = xcalloc(MAX_THREADS, sizeof *cpu_before);
  thread_cpu *cpu_after = xcalloc(MAX_THREADS, sizeof *cpu_after);
  int ncpu_before = threads_cpu(cpu_before);
  int64_t t0 = mono_ns();
  /* engine_submit returns once the batch before is durable: the latency of a
   * message is from its batch's start to the commit of that batch */
  for (long i = 0, next = 0, k = 0; i < n && rc == 0; i += BATCH, k++) {
    long m = n - i < BATCH ? n - i : BATCH;
    for (long j = 0; j < m; j++, next++) {
      while (!mine[next % u]) next++; /* another node's conversation */
      const char *text = workload_text(next);
      batch[j] = (inbound){.from = numbers[next % u], .text = text, .len = strlen(text)};
    }
    start[k] = mono_ns();
    rc = engine_submit(e, b, batch, (size_t)m, err, sizeof err);
    if (rc == 0 && k > 0) lat[nlat++] = mono_ns() - start[k - 1];
  }
  if (rc == 0) rc = engine_flush(e, err, sizeof err);
  if (rc == 0) {
    cpu_per_message(cpu_before, ncpu_before, cpu_after, threads_cpu(cpu_after), n, out);
    lat[nlat] = mono_ns() - start[nlat];
    nlat++;
    out->secs = (double)(mono_ns() - t0) / 1e9;
    qsort(lat, nlat, sizeof *lat, cmp_i64);
    out->p50_ms = lat[nlat / 2] / 1e6;
    out->p99_ms = lat[nlat * 99 / 100] / 1e6;
    engine_stats st = engine_stats_of(e);
    out->errors = st.errors;
    out->limit_hits = st.limit_hits;
  } else {
    fprintf(stderr, "bench: %s\n", err);
  }
  engine_close(e);
  free(numbers);
  free(mine);
  free(batch);
  free(start);
  free(lat);
  free(cpu_before);
  free(cpu_after);
  return rc ? -1 : 0;
}

long bench_query_long(sqlite3 *db, const char *sql) {
  sqlite3_stmt *s;
  long v = -1;
  if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK &&
      sqlite3_step(s) == SQLITE_ROW)
    v = (long)sqlite3_column_int64(s, 0);
  else
    fprintf(stderr, "bench: query failed: %s: %s\n", sql, sqlite3_errmsg(db));
  sqlite3_finalize(s);
  return v;
}

int bench_check(const char *what, long got, long want, int verbose) {
  if (verbose || got != want)
    printf("  %-38s %8ld  %s\n", what, got, got == want ? "ok" : "WRONG");
  if (got != want) printf("    expected %ld\n", want);
  return got == want ? 0 : 1;
}

/* The first column of the first row of sql on db, -1 and a line on stderr
 * if it fails. */
static long db_long(sql_db *db, const char *sql) {
  sql_stmt *s = sql_prepare(db, sql);
  long v = s && sql_step(s) == SQL_ROW ? (long)sql_column_int(s, 0) : -1;
  if (v < 0) fprintf(stderr, "bench: query failed: %s: %s\n", sql, sql_error(db));
  sql_finalize(s);
  return v;
}

int workload_verify(const char *db_path, const workload_totals *want, int verbose) {
  char err[1024];
  sql_db *db = sql_open(db_path, err, sizeof err);
  if (!db) {
    printf("  the database: WRONG (%s)\n", err);
    return 1;
  }
  int pg = sql_kind_of(db) == SQL_POSTGRES;
  /* the messages table read once: the runs of the cost curve have millions
   * of rows */
  static const char *per_message =
      "SELECT count(*) FILTER (WHERE direction='in'),"
      " count(*) FILTER (WHERE direction='out' AND text LIKE '%unsubscribed%'),"
      " count(*) FILTER (WHERE direction='out' AND (text LIKE '%subscribed again%'"
      "   OR text = 'Welcome back!')),"
      " count(*) FILTER (WHERE direction='out' AND text LIKE 'Tour dates:%'),"
      " count(*) FILTER (WHERE direction='out' AND text LIKE 'Shop:%'),"
      " count(*) FILTER (WHERE direction='out' AND text LIKE 'Thanks %'),"
      " count(*) FILTER (WHERE direction='out' AND status='sent')"
      " FROM messages";
  long got[7] = {-1, -1, -1, -1, -1, -1, -1};
  sql_stmt *s = sql_prepare(db, per_message);
  if (s && sql_step(s) == SQL_ROW)
    for (int c = 0; c < 7; c++) got[c] = (long)sql_column_int(s, c);
  else
    fprintf(stderr, "bench: query failed: %s\n", sql_error(db));
  sql_finalize(s);
  int bad = 0;
  if (verbose) printf("totals (read back from the database):\n");
  bad |= bench_check("messages in", got[0], want->in, verbose);
  bad |=
      bench_check("handled stop (opt-out confirmations)", got[1], want->stop, verbose);
  bad |= bench_check("handled start (opt-in + Welcome back!)", got[2], want->start,
                     verbose);
  bad |= bench_check("handled tour", got[3], want->tour, verbose);
  bad |= bench_check("handled merch", got[4], want->merch, verbose);
  bad |= bench_check("handled thanks", got[5], want->thanks, verbose);
  bad |= bench_check("replies", got[6], want->replies, verbose);
  /* an inbound message whose conversation's next message is not a reply */
  bad |= bench_check("no reply (silenced)",
                     db_long(db, "SELECT count(*) FROM (SELECT direction d, lead(direction)"
                                 " OVER (PARTITION BY contact_id ORDER BY id) nx FROM messages) t"
                                 " WHERE d = 'in' AND coalesce(nx, 'in') = 'in'"),
                     want->no_reply, verbose);
  bad |= bench_check("opted-out contacts at the end",
                     db_long(db, "SELECT count(*) FROM contacts WHERE status='opted_out'"),
                     want->opted_out, verbose);
  bad |= bench_check(
      "sum of all counters",
      db_long(db, pg ? "SELECT coalesce(sum((state::jsonb ->> 'n')::bigint), 0)"
                       " FROM conversations"
                     : "SELECT coalesce(sum(json_extract(state,'$.n')),0) FROM conversations"),
      want->counters, verbose);
  bad |= bench_check("START from an opted-out contact",
                     db_long(db, "SELECT count(*) FROM consent WHERE action='optin'"),
                     want->optin_from_opted_out, verbose);
  /* a handler that failed (a limit hit on a loaded machine, say) explains
   * totals that differ */
  long errors = db_long(db, "SELECT count(*) FROM errors");
  if (errors > 0 && (s = sql_prepare(db, "SELECT kind, text FROM errors ORDER BY id LIMIT 1"))) {
    if (sql_step(s) == SQL_ROW)
      printf("  %ld handler errors recorded, the first: %s: %s\n", errors,
             sql_column_text(s, 0), sql_column_text(s, 1));
    sql_finalize(s);
  }
  sql_close(db);
  return bad;
}
