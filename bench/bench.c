/* make bench: the in-process workload of shared/bench/WORKLOAD.md.
 *
 * 200,000 messages over 10,000 contacts through the engine (no HTTP) into a
 * file-backed SQLite database, every message, reply and state change
 * persisted; the totals are checked against the workload's expected counts
 * by querying what was stored. Prints messages/second, peak RSS and latency
 * percentiles, then the same workload run by Hubot 14 in memory
 * (bench/hubot/workload.mjs) and the ratio; then the cost curve (10k, 100k
 * and 1M contacts) and the engine's scaling with engine_threads, each run
 * in a fresh process; then the memory cost of idle contacts (1,000,000 in
 * store), then durable timers (bench/timers): 1,000,000 scheduled over
 * 100,000 contacts, a restart with them pending, 100,000 firing at once.
 *
 * Then a contacts import (contacts_file.h): 100,000 CSV rows into the
 * store, the same file again (nothing changes), and the export. Then a
 * reload's replay (transcript/replay.h): 1,000 real messages handled again
 * by the running version and a changed one, in memory, and compared.
 *
 *   bench                 every section
 *   bench workload [N]    the workload alone (N messages: for profiling),
 *                         with the Hubot peer when N is 200,000
 *   bench curve [MAX_U]   msgs/s and peak RSS with 10k, 100k, 1M contacts
 *                         (those up to MAX_U)
 *   bench threads [N]     msgs/s with engine_threads 1, 2 (and the cores)
 *   bench timers [N]      the timers alone (N contacts, 10 timers each)
 *   bench import [N]      the contacts import alone (N rows)
 *   bench replay [N]      a reload's replay of N real messages (default 1000)
 *
 * A total that differs from what the rules give is WRONG and the exit
 * status is 1; a missed performance target is printed as MISSED. */
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "contacts_file.h"
#include "replay.h"
#include "engine.h"
#include "store.h"
#include "../tests/unit/test_pg.h"
#include "util.h"
#include "workload.h"

enum { BATCH = 256, IDLE = 1000000 };
/* The in-process target of issue 13: parley >= 2x Hubot in the same run. */
static const double PEER_RATIO_TARGET = 2.0;
/* The workload's size; `bench workload N` runs a shorter one for profiling. */
static long N = WORKLOAD_N;
/* `bench threads N`: the size of each run of the threads section. */
static long THREADS_N = WORKLOAD_N;

static long rss_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long v = -1;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "VmRSS: %ld kB", &v) == 1) break;
  if (f) fclose(f);
  return v;
}

static long query_long(sqlite3 *db, const char *sql) { return bench_query_long(db, sql); }
static int check(const char *what, long got, long want) { return bench_check(what, got, want, 1); }

static int cores(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

/* The totals n messages over u contacts must give: the model of the
 * rules, which must itself give WORKLOAD.md's published totals for the
 * standard size. */
static int expected_totals(long n, long u, workload_totals *out) {
  workload_totals pub = workload_published(), model = workload_model(WORKLOAD_N, WORKLOAD_U);
  *out = n == WORKLOAD_N && u == WORKLOAD_U ? pub : workload_model(n, u);
  if (memcmp(&pub, &model, sizeof pub) != 0) {
    printf("  the model of the rules does not give WORKLOAD.md's totals: WRONG\n");
    return 1;
  }
  return 0;
}

static void remove_db(const char *db_path) {
  static const char *suffixes[] = {"", "-wal", "-shm", "-journal"};
  for (size_t k = 0; k < sizeof suffixes / sizeof *suffixes; k++) {
    char *p = xasprintf("%s%s", db_path, suffixes[k]);
    unlink(p);
    free(p);
  }
}

/* The standard workload in this process; its messages/second in *rate. */
static int run_workload(const char *dir, double *rate) {
  char *db_path = xasprintf("%s/bench.db", dir);
  workload_result r;
  workload_totals want;
  int bad = expected_totals(N, WORKLOAD_U, &want);
  if (workload_run(db_path, N, WORKLOAD_U, engine_threads_auto(), &r)) {
    free(db_path);
    return 1;
  }
  *rate = N / r.secs;
  printf("workload: %ld messages over %d contacts, batches of %d, file-backed SQLite (WAL),\n"
         "  engine_threads %d (what parley serve runs on these %d cores)\n", N, WORKLOAD_U,
         BATCH, engine_threads_auto(), cores());
  printf("  messages/second                        %8.0f   (target >= 100000%s)\n", *rate,
         *rate >= 100000 ? "" : ": MISSED");
  printf("  wall time                              %8.2f s\n", r.secs);
  printf("  latency per message, p50 (its batch, arrival to commit) %.2f ms\n", r.p50_ms);
  printf("  latency per message, p99 (its batch, arrival to commit) %.2f ms\n", r.p99_ms);
  printf("  mean handling time per message         %8.2f us\n", r.secs * 1e6 / N);
  if (r.cpu_engine_us >= 0) {
    double all = r.cpu_engine_us + r.cpu_writer_us + r.cpu_checkpoint_us;
    printf("  CPU per message: engine workers %.2f us, writer %.2f us, checkpointer %.2f us;\n"
           "    all threads %.2f us: %.0f messages/second per core of CPU\n",
           r.cpu_engine_us, r.cpu_writer_us, r.cpu_checkpoint_us, all, 1e6 / all);
  }
  printf("  peak RSS                               %8.1f MiB\n", workload_peak_rss_kib() / 1024.0);
  printf("  handler errors %ld, limit hits %ld\n", r.errors, r.limit_hits);
  bad |= workload_verify(db_path, &want, 1);
  remove_db(db_path);
  free(db_path);
  return bad;
}

/* A command's output, its lines indented, and the fields of its line that
 * starts with `key` (up to `size` bytes). Its exit status, or -1. */
static int run_reporting(const char *cmd, const char *key, char *line, size_t size) {
  FILE *p = popen(cmd, "r");
  if (!p) return -1;
  char buf[1024];
  line[0] = 0;
  size_t klen = strlen(key);
  while (fgets(buf, sizeof buf, p)) {
    if (strncmp(buf, key, klen) == 0)
      snprintf(line, size, "%s", buf + klen);
    else
      printf("  | %s", buf);
    fflush(stdout);
  }
  int status = pclose(p);
  return status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* A number from "name=value" fields; -1 if missing. */
static double field(const char *line, const char *name) {
  char pat[64];
  snprintf(pat, sizeof pat, " %s=", name);
  const char *at = strstr(line, pat);
  return at ? atof(at + strlen(pat)) : -1;
}

/* One run of n messages over u contacts with engine_threads `threads` in a
 * fresh process (this program, `bench _one`), so that its peak RSS is its
 * own. Its totals are checked there; *rate and *peak_kib get its figures. */
static int run_fresh(const char *dir, long n, long u, int threads, double *rate,
                     long *peak_kib) {
  char self[4096];
  ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
  if (len <= 0) {
    perror("bench: /proc/self/exe");
    return 1;
  }
  self[len] = 0;
  char *cmd = xasprintf("'%s' _one %ld %ld %d '%s'", self, n, u, threads, dir);
  char line[512];
  int rc = run_reporting(cmd, "result:", line, sizeof line);
  free(cmd);
  double secs = field(line, "secs");
  *rate = secs > 0 ? n / secs : 0;
  *peak_kib = (long)field(line, "peak_kib");
  return rc != 0 || secs <= 0;
}

/* One run of the peer, bench/hubot/workload.mjs (bench/hubot/peer.sh
 * installs Hubot once). Its messages/second; 0 when it is left out (exit
 * 3: node or npm cannot be had), -1 when it failed or its totals are
 * WRONG. */
static double hubot_run(void) {
  char line[512];
  int rc = run_reporting("sh bench/hubot/peer.sh workload.mjs --brief 2>&1", "hubot-workload:",
                         line, sizeof line);
  double rate = field(line, "msgs_per_s");
  if (rc == 3) return 0;
  if (rc != 0 || rate <= 0) {
    printf("  the Hubot run failed or its totals are WRONG (exit %d)\n", rc);
    return -1;
  }
  return rate;
}

/* The peer: the same workload by Hubot 14 in memory. Two rounds, parley
 * and Hubot alternating (parley's first run is the workload section's, its
 * second a fresh process with its totals checked), so that a burst of
 * other work on a shared machine does not land on one side only; the
 * ratio is of the better run of each. */
static int run_peer(const char *dir, double parley_first) {
  printf("peer: the same workload by Hubot 14 in memory, in-process adapter\n"
         "  (bench/hubot/workload.mjs), two rounds alternating with parley:\n");
  double hubot[2], parley[2] = {parley_first, 0};
  long peak;
  if ((hubot[0] = hubot_run()) <= 0) {
    if (hubot[0] == 0) printf("  Hubot left out (see above): parley / Hubot not measured\n");
    return hubot[0] < 0;
  }
  if (run_fresh(dir, N, WORKLOAD_U, 0, &parley[1], &peak)) {
    printf("  parley's second run: totals WRONG\n");
    return 1;
  }
  if ((hubot[1] = hubot_run()) <= 0) return 1;
  double p = parley[0] > parley[1] ? parley[0] : parley[1];
  double h = hubot[0] > hubot[1] ? hubot[0] : hubot[1];
  printf("  in-process messages/second, each round: parley %.0f / %.0f, Hubot %.0f / %.0f\n",
         parley[0], parley[1], hubot[0], hubot[1]);
  printf("  parley / Hubot (the better run of each) %7.2fx  (target >= %.1fx%s)\n", p / h,
         PEER_RATIO_TARGET, p / h >= PEER_RATIO_TARGET ? "" : ": MISSED");
  return 0;
}

/* `bench _one N U THREADS DIR`: what run_fresh runs. */
static int one_run(long n, long u, int threads, const char *dir) {
  char *db_path = xasprintf("%s/one-%ld-%d.db", dir, u, threads);
  workload_totals want;
  workload_result r;
  int bad = expected_totals(n, u, &want);
  if (workload_run(db_path, n, u, threads, &r)) {
    remove_db(db_path);
    free(db_path);
    return 1;
  }
  long peak = workload_peak_rss_kib();
  bad |= workload_verify(db_path, &want, 0);
  remove_db(db_path);
  free(db_path);
  if (r.errors || r.limit_hits)
    printf("handler errors %ld, limit hits %ld\n", r.errors, r.limit_hits);
  printf("result: secs=%.6f peak_kib=%ld errors=%ld bad=%d\n", r.secs, peak, r.errors, bad);
  return bad || r.errors;
}

/* PostgreSQL, one node (`bench postgres [N]`): the workload's rules with N
 * messages over min(10,000, N/2) contacts on a throwaway server
 * (tests/pg_server.sh), totals checked, next to SQLite's figure for the
 * same messages in the same run. The target for one node: 20,000
 * messages/s. */
static long PG_N = 20000;
static const double PG_TARGET = 20000;

/* One node's run of the two, reported to the parent through a pipe. */
typedef struct node_report {
  int rc;
  long messages;
  double secs, cpu_engine_us, cpu_writer_us;
} node_report;

typedef struct line_up {
  int ready, go; /* pipe ends: this node is ready (or failed); all may start */
  int told;
} line_up;

static void node_ready(void *ud) {
  line_up *l = ud;
  char c = 'r';
  l->told = 1;
  if (write(l->ready, &c, 1) != 1 || read(l->go, &c, 1) != 1) _exit(3);
}

/* Two nodes at once on a fresh database of the server: two processes (as
 * two machines would be), each running half of the partitions and given
 * the messages of their conversations alone (what a load balancer that
 * knew the partitions would send each; bench/cluster.sh measures the
 * webhooks spread without it, handed over through the inbox). Both start
 * together; the rate is all messages over the slower node's time. */
static int run_postgres_two(const char *server, long n, long u, const workload_totals *want,
                            double one_rate) {
  char url[600];
  if (test_pg_database(server, "two_nodes", url, sizeof url)) return 1;
  int ready[2], go[2], results[2];
  if (pipe(ready) || pipe(go) || pipe(results)) return 1;
  pid_t pids[2];
  for (int k = 0; k < 2; k++) {
    pids[k] = fork();
    if (pids[k] < 0) return 1;
    if (pids[k] == 0) {
      close(ready[0]), close(go[1]), close(results[0]);
      line_up l = {ready[1], go[0], 0};
      workload_part part = {.node = k, .nodes = 2, .ready = node_ready, .ud = &l};
      workload_result r = {0};
      node_report rep = {0};
      rep.rc = workload_run_part(url, n, u, engine_threads_auto(), &part, &r);
      if (!l.told && write(l.ready, "f", 1) != 1) _exit(3); /* failed before: not waited for */
      rep.messages = part.messages, rep.secs = r.secs;
      rep.cpu_engine_us = r.cpu_engine_us, rep.cpu_writer_us = r.cpu_writer_us;
      _exit(write(results[1], &rep, sizeof rep) == (ssize_t)sizeof rep && rep.rc == 0 ? 0 : 1);
    }
  }
  close(ready[1]), close(go[0]), close(results[1]);
  char c;
  int lined = read(ready[0], &c, 1) == 1 && read(ready[0], &c, 1) == 1;
  if (lined && write(go[1], "gg", 2) != 2) lined = 0;
  close(go[1]);
  node_report reps[2] = {{.rc = -1}, {.rc = -1}};
  for (int k = 0; k < 2 && lined; k++)
    if (read(results[0], &reps[k], sizeof reps[k]) != (ssize_t)sizeof reps[k]) reps[k].rc = -1;
  int failed = !lined;
  for (int k = 0; k < 2; k++) {
    int status = 0;
    waitpid(pids[k], &status, 0);
    failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0 || reps[k].rc != 0;
  }
  close(ready[0]), close(results[0]);
  if (failed) {
    printf("  the two nodes' run failed\n");
    return 1;
  }
  double slower = reps[0].secs > reps[1].secs ? reps[0].secs : reps[1].secs;
  double rate = (reps[0].messages + reps[1].messages) / slower;
  printf("  two nodes, messages/second             %8.0f   (%.2fx one node; target > 1:%s)\n",
         rate, one_rate > 0 ? rate / one_rate : 0, rate > one_rate ? " met" : " MISSED");
  for (int k = 0; k < 2; k++)
    printf("    node %d: %ld messages in %.2f s; CPU per message: engine workers %.2f us,"
           " writer %.2f us\n",
           k, reps[k].messages, reps[k].secs, reps[k].cpu_engine_us, reps[k].cpu_writer_us);
  return workload_verify(url, want, 0);
}

static int run_postgres(const char *dir) {
  long n = PG_N, u = PG_N / 2 < WORKLOAD_U ? PG_N / 2 : WORKLOAD_U;
  printf("PostgreSQL, one node and two: the workload's rules, %ld messages over %ld contacts,\n"
         "  batches of %d, a throwaway server on 127.0.0.1 (tests/pg_server.sh), engine_threads\n"
         "  %d; SQLite with the same messages in the same run\n",
         n, u, BATCH, engine_threads_auto());
  char err[1024];
  test_pg pg;
  if (test_pg_start(&pg, err, sizeof err)) {
    printf("  PostgreSQL left out: its server did not start (%s)\n", err);
    return 0;
  }
  workload_totals want;
  int bad = expected_totals(n, u, &want);
  workload_result r;
  int failed = workload_run(pg.url, n, u, engine_threads_auto(), &r) != 0;
  if (!failed) bad |= workload_verify(pg.url, &want, 0);
  double rate = failed ? 0 : n / r.secs;
  if (!failed) {
    printf("  one node, messages/second              %8.0f   (target >= %.0f%s)\n", rate,
           PG_TARGET, rate >= PG_TARGET ? "" : ": MISSED");
    if (r.cpu_engine_us >= 0)
      printf("    CPU per message in parley: engine workers %.2f us, writer %.2f us\n",
             r.cpu_engine_us, r.cpu_writer_us);
    bad |= run_postgres_two(pg.url, n, u, &want, rate);
  }
  test_pg_stop(&pg);
  double lite = 0;
  long peak;
  bad |= run_fresh(dir, n, u, engine_threads_auto(), &lite, &peak);
  if (failed) {
    printf("  the PostgreSQL run failed\n");
    return 1;
  }
  printf("  SQLite, one node, messages/second      %8.0f   (PostgreSQL's one node %.2fx of it)\n",
         lite, lite > 0 ? rate / lite : 0);
  printf("  totals %s\n", bad ? "WRONG" : "correct on both");
  return bad;
}

/* The largest U of the cost curve (`bench curve MAX_U`). */
static long CURVE_MAX_U = 1000000;

/* The cost curve: the workload with more contacts; contact(i) = i mod U,
 * N = max(200,000, 2U), so that every contact texts at least twice and the
 * 100k and 1M runs have the same mix of first and returning messages. */
static int run_curve(const char *dir) {
  static const long sizes[] = {10000, 100000, 1000000};
  printf("cost curve: the workload's rules with U contacts, N = max(200000, 2U) messages,\n"
         "  each run in a fresh process (its own peak RSS), engine_threads %d (%d cores);\n"
         "  totals checked against the rules' model\n", engine_threads_auto(), cores());
  printf("  %10s %10s %14s %14s  %s\n", "contacts", "messages", "messages/s", "peak RSS MiB",
         "totals");
  fflush(stdout);
  int bad = 0;
  for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
    long u = sizes[k], n = 2 * u > WORKLOAD_N ? 2 * u : WORKLOAD_N;
    if (u > CURVE_MAX_U) break;
    double rate;
    long peak;
    int wrong = run_fresh(dir, n, u, engine_threads_auto(), &rate, &peak);
    printf("  %10ld %10ld %14.0f %14.1f  %s\n", u, n, rate, peak / 1024.0,
           wrong ? "WRONG" : "correct");
    fflush(stdout);
    bad |= wrong;
  }
  return bad;
}

/* msgs/s of the standard workload by the number of engine workers: two
 * rounds, alternating the counts, so that a burst of other work on a
 * shared machine does not land on one count only; the better run counts. */
static int run_threads(const char *dir) {
  enum { ROUNDS = 2 };
  int counts[3] = {1, 2, cores()}, ncounts = cores() > 2 ? 3 : 2;
  double rate[3][ROUNDS];
  printf("engine threads: the workload (%ld messages over %d contacts) with engine_threads =\n"
         "  1, 2%s, each run in a fresh process, %d rounds alternating; totals checked\n",
         THREADS_N, WORKLOAD_U,
         ncounts > 2 ? " and the number of cores" : " (no more cores here)", ROUNDS);
  int bad = 0;
  for (int r = 0; r < ROUNDS; r++)
    for (int k = 0; k < ncounts; k++) {
      long peak;
      int wrong = run_fresh(dir, THREADS_N, WORKLOAD_U, counts[k], &rate[k][r], &peak);
      if (wrong) printf("  engine_threads %d, round %d: totals WRONG\n", counts[k], r + 1);
      bad |= wrong;
    }
  printf("  %14s %14s %10s  %s\n", "engine_threads", "messages/s", "vs 1", "each round");
  double best[3] = {0, 0, 0};
  for (int k = 0; k < ncounts; k++) {
    for (int r = 0; r < ROUNDS; r++)
      if (rate[k][r] > best[k]) best[k] = rate[k][r];
    printf("  %14d %14.0f %9.2fx  %.0f / %.0f\n", counts[k], best[k],
           best[0] > 0 ? best[k] / best[0] : 0, rate[k][0], rate[k][1]);
  }
  printf("  totals %s\n", bad ? "WRONG" : "correct in every run");
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
      fprintf(stderr, "bench: %s\n", store_error(store_reads(st)));
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
  printf("  restart with %ld pending: open + load + first message %.3f s   (target < 2 s%s)\n",
         ntimers, restart, restart < 2 ? "" : ": MISSED");
  printf("    (engine_open %.3f s, engine_load_bot %.3f s, first message %.3f s; close before %.3f s)\n",
         (t_open - t0) / 1e9, (t_load - t_open) / 1e9, (t_served - t_load) / 1e9, close_secs);

  /* 3. every contact texts TICK at the same moment: TC timers due at T0 + 30m,
   * before all of the spread-out ones */
  if (timers_traffic(e, b, "tick", err, sizeof err)) goto fail;
  t0 = mono_ns();
  if (engine_advance(e, T0 + TICK_MS, err, sizeof err)) goto fail;
  secs = (double)(mono_ns() - t0) / 1e9;
  vclock_ms = T0 + TICK_MS;
  printf("  %ld timers due at once: fires/second %8.0f   (target >= 50000%s; %.2f s, each\n"
         "    through a Lua handler that updates c.state, committed)\n", TC, TC / secs,
         TC / secs >= 50000 ? "" : ": MISSED", secs);
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

/* An import on the bench's connection: its batches applied there, its
 * new contacts numbered after the highest id. */
typedef struct import_ctx {
  store *st;
  int64_t last;
} import_ctx;

static int import_commit(void *ud, journal *j, char *err, size_t errlen) {
  return journal_apply(((import_ctx *)ud)->st, j, err, errlen);
}

static int64_t import_new_id(void *ud) { return ++((import_ctx *)ud)->last; }

/* One import of the file; its seconds, or -1. */
static double timed_import(store *st, int64_t bot, const char *csv, size_t len,
                           import_report *rep) {
  import_ctx ctx = {st, 0};
  int64_t m, t;
  if (store_max_ids(store_reads(st), &ctx.last, &m, &t)) return -1;
  import_options opt = {.format = IMPORT_CSV, .now = 1767225600000, .commit = import_commit,
                        .new_id = import_new_id, .ud = &ctx};
  char err[512];
  int64_t t0 = mono_ns();
  if (contacts_import(store_reads(st), bot, csv, len, &opt, rep, err, sizeof err)) {
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
  int exported = s2 >= 0 && contacts_export_csv(store_reads(st), bot, &out) == 0;
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

/* PostgreSQL with many contacts (`bench contacts [N]`, 10,000,000 by
 * default): one bot's N contacts made by the server (generate_series), a
 * city among 50 each and a tag on one in ten; then timed: a contact looked
 * up by its number one at a time (a webhook's first read) and 500 at a time
 * (a batch's, store_contacts_get_many), a segment counted (city = X: N/50
 * contacts; tags = vip: N/10) and its first page listed. */
static long PGC_N = 10000000;
enum { PGC_CITIES = 50, PGC_LOOKUPS = 20000, PGC_MANY = 500 };

static void count_taken(void *ud, contact_row *r) {
  ++*(long *)ud;
  (void)r;
}

static void count_listed(void *ud, const contact_row *r) {
  ++*(long *)ud;
  (void)r;
}

/* The number of the contact i (1..N), as the fill made it. */
static void pgc_number(long i, char *out, size_t n) { snprintf(out, n, "+1%010ld", 2000000000L + i); }

static int run_pg_contacts(void) {
  long n = PGC_N;
  printf("PostgreSQL, %ld contacts of one bot (a city of %d each, a tag on one in ten),\n"
         "  a throwaway server on 127.0.0.1 (tests/pg_server.sh):\n",
         n, PGC_CITIES);
  char err[1024];
  test_pg pg;
  if (test_pg_start(&pg, err, sizeof err)) {
    printf("  left out: the PostgreSQL server did not start (%s)\n", err);
    return 0;
  }
  int bad = 1;
  store *st = store_open(pg.url, err, sizeof err);
  sql_db *db = st ? sql_open(pg.url, err, sizeof err) : NULL;
  int64_t bot = st ? store_bot_ensure(st, "big", 1) : -1;
  if (!st || !db || bot <= 0) {
    printf("  the store did not open (%s)\n", err);
    goto out;
  }
  char *fill = xasprintf(
      "INSERT INTO contacts(id, bot_id, number, fields, tags, first_seen, last_seen)"
      " SELECT i, %lld, '+1' || lpad((2000000000 + i)::text, 10, '0'),"
      " '{\"city\":\"city' || (i %% %d) || '\",\"age\":' || (18 + i %% 60) || '}',"
      " CASE WHEN i %% 10 = 0 THEN '[\"vip\"]' ELSE '[]' END, i * 1000, i * 1000"
      " FROM generate_series(1::bigint, %ld) i;"
      " UPDATE parley_ids SET next = %ld WHERE name = 'contacts'; ANALYZE contacts",
      (long long)bot, PGC_CITIES, n, n + 1);
  int64_t t0 = mono_ns();
  int filled = sql_exec(db, fill) == 0;
  free(fill);
  double fill_s = (double)(mono_ns() - t0) / 1e9;
  if (!filled) {
    printf("  the fill failed: %s\n", sql_error(db));
    goto out;
  }
  printf("  made by the server in %.1f s (not parley's own insert path)\n", fill_s);
  bad = 0;
  store_reader *rd = store_reads(st);
  /* one at a time: the numbers of a fixed pseudo-random sequence */
  uint64_t x = 88172645463325252ULL;
  long found = 0;
  char number[32];
  t0 = mono_ns();
  for (int k = 0; k < PGC_LOOKUPS; k++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    pgc_number(1 + (long)(x % (uint64_t)n), number, sizeof number);
    contact_row r = {0};
    found += store_contact_get(rd, bot, number, &r) == 1;
    contact_row_free(&r);
  }
  double one_s = (double)(mono_ns() - t0) / 1e9;
  printf("  contact lookup, one at a time          %8.0f /s   (%.0f us each, %d numbers)\n",
         PGC_LOOKUPS / one_s, one_s * 1e6 / PGC_LOOKUPS, PGC_LOOKUPS);
  bad |= check("contacts found one at a time", found, PGC_LOOKUPS);
  /* PGC_MANY at a time */
  char *numbers[PGC_MANY];
  for (int k = 0; k < PGC_MANY; k++) numbers[k] = xmalloc(32);
  long taken = 0;
  t0 = mono_ns();
  for (int b = 0; b < PGC_LOOKUPS / PGC_MANY; b++) {
    for (int k = 0; k < PGC_MANY; k++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      pgc_number(1 + (long)(x % (uint64_t)n), numbers[k], 32);
    }
    if (store_contacts_get_many(rd, bot, (const char *const *)numbers, PGC_MANY, count_taken,
                                &taken))
      bad = 1;
  }
  double many_s = (double)(mono_ns() - t0) / 1e9;
  for (int k = 0; k < PGC_MANY; k++) free(numbers[k]);
  printf("  contact lookup, %d at a time          %8.0f /s   (%.1f ms a batch)\n", PGC_MANY,
         PGC_LOOKUPS / many_s, many_s * 1e3 / (PGC_LOOKUPS / PGC_MANY));
  /* numbers drawn twice in one batch are one contact: at most, not exactly */
  if (taken > PGC_LOOKUPS || taken < PGC_LOOKUPS * 99L / 100) {
    printf("  contacts found %d at a time: %ld of %d\n", PGC_MANY, taken, PGC_LOOKUPS);
    bad = 1;
  }
  static const struct {
    const char *segment;
    long per; /* one contact in per */
  } segs[] = {{"{\"city\":\"city7\"}", PGC_CITIES}, {"{\"tags\":\"vip\"}", 10}};
  for (size_t k = 0; k < sizeof segs / sizeof *segs; k++) {
    int64_t count = -1;
    t0 = mono_ns();
    int rc = store_segment_count(rd, bot, segs[k].segment, 0, &count);
    double count_s = (double)(mono_ns() - t0) / 1e9;
    long listed = 0;
    t0 = mono_ns();
    rc |= store_contacts_match(rd, bot, segs[k].segment, 0, 100, count_listed, &listed);
    double page_s = (double)(mono_ns() - t0) / 1e9;
    if (rc) {
      printf("  segment %s failed: %s\n", segs[k].segment, store_error(rd));
      bad = 1;
      continue;
    }
    printf("  segment %-18s counted in     %8.2f s    (%lld contacts; its first 100 listed in"
           " %.1f ms)\n",
           segs[k].segment, count_s, (long long)count, page_s * 1e3);
    long want = n / segs[k].per + (k == 0 && n % segs[k].per >= 7);
    bad |= check("contacts in the segment", (long)count, want);
    bad |= check("contacts on its first page", listed, want < 100 ? want : 100);
  }
out:
  sql_close(db);
  store_close(st);
  test_pg_stop(&pg);
  return bad;
}

/* ---------------------------------------------------------------- replay */

static long REPLAY_N = REPLAY_DEFAULT;
static const double REPLAY_TARGET_MS = 5000; /* issue 17: "under a few seconds" */

/* REPLAY_N messages of the workload over 200 contacts into a file store,
 * then the replay a reload runs: the bot against a copy whose merch reply
 * changed. The counts are checked against the workload's texts. */
static int run_replay(const char *dir) {
  char *db_path = xasprintf("%s/replay.db", dir);
  char err[4096];
  int bad = 1;
  engine_options opt = {.db_path = db_path};
  engine *e = engine_open(&opt, err, sizeof err);
  bot *b = e ? engine_load_bot(e, "bench/workload", err, sizeof err) : NULL;
  long merch = 0;
  if (b) {
    enum { U = 200 };
    char numbers[BATCH][16];
    inbound batch[BATCH];
    int failed = 0;
    for (long i = 0; i < REPLAY_N && !failed; i += BATCH) {
      long n = REPLAY_N - i < BATCH ? REPLAY_N - i : BATCH;
      for (long j = 0; j < n; j++) {
        const char *text = workload_text(i + j);
        snprintf(numbers[j], sizeof numbers[j], "+1555%07ld", (i + j) % U);
        batch[j] = (inbound){.from = numbers[j], .text = text, .len = strlen(text)};
      }
      failed = engine_submit(e, b, batch, (size_t)n, err, sizeof err) != 0;
    }
    if (!failed && engine_flush(e, err, sizeof err) == 0) {
      sqlite3 *db;
      if (sqlite3_open(db_path, &db) == SQLITE_OK) {
        merch = query_long(db, "SELECT count(*) FROM messages WHERE direction = 'out'"
                               " AND text = 'Shop: ...'");
        sqlite3_close(db);
      }
      script *changed = script_copy(bot_script(b));
      for (size_t k = 0; k < changed->nfiles; k++)
        if (strcmp(changed->files[k].path, "bot.lua") == 0) {
          char *src = changed->files[k].source, *at = strstr(src, "Shop: ...");
          if (at) memcpy(at, "Shop: new", 9);
        }
      replay_options ro = {.bot_id = bot_id(b), .messages = REPLAY_N,
                           .old_version = bot_script(b), .new_version = changed};
      replay_counts c;
      int64_t t0 = mono_ns();
      json_t *report = replay_run(engine_store(e), &ro, &c, err, sizeof err);
      double ms = (double)(mono_ns() - t0) / 1e6;
      script_free(changed);
      if (report) {
        printf("replay (a reload's, in memory): %ld real messages of %ld conversations on the "
               "running and a changed version\n", c.messages, c.conversations);
        printf("  wall time                              %8.0f ms   (target < %.0f%s)\n", ms,
               REPLAY_TARGET_MS, ms < REPLAY_TARGET_MS ? "" : ": MISSED");
        printf("  per message (both versions)            %8.0f us\n", ms * 1000 / c.messages);
        bad = check("replayed", c.messages, REPLAY_N) |
              check("changed (the merch replies)", c.changed, merch) |
              check("the same", c.identical, REPLAY_N - merch) |
              check("new errors", c.errors, 0);
        json_decref(report);
      } else {
        fprintf(stderr, "bench replay: %s\n", err);
      }
    } else {
      fprintf(stderr, "bench replay: %s\n", err);
    }
  } else {
    fprintf(stderr, "bench replay: %s\n", err);
  }
  if (e) engine_close(e);
  remove_db(db_path);
  free(db_path);
  return bad;
}

int main(int argc, char **argv) {
  static const char *sections[] = {"workload", "curve",  "threads", "timers",
                                   "import",   "postgres", "contacts", "replay", "_one"};
  const char *only = argc > 1 ? argv[1] : NULL;
  int known = !only;
  for (size_t k = 0; only && k < sizeof sections / sizeof *sections; k++)
    known |= strcmp(only, sections[k]) == 0;
  if (!known) {
    fprintf(stderr,
            "usage: bench [workload [N] | curve [MAX_U] | threads [N] | timers [N] | import [N] |"
            " postgres [N] | contacts [N] | replay [N]]\n");
    return 2;
  }
  if (only && strcmp(only, "_one") == 0) {
    if (argc != 6 || atol(argv[2]) <= 0 || atol(argv[3]) <= 0 || atol(argv[3]) > 9999999) {
      fprintf(stderr, "usage: bench _one N U THREADS DIR\n");
      return 2;
    }
    return one_run(atol(argv[2]), atol(argv[3]), atoi(argv[4]), argv[5]);
  }
  if (only && argc > 2 && strcmp(only, "workload") == 0) N = atol(argv[2]);
  if (only && argc > 2 && strcmp(only, "threads") == 0) THREADS_N = atol(argv[2]);
  if (only && argc > 2 && strcmp(only, "curve") == 0) CURVE_MAX_U = atol(argv[2]);
  if (only && argc > 2 && strcmp(only, "timers") == 0) TC = atol(argv[2]);
  if (only && argc > 2 && strcmp(only, "import") == 0) IMPORT_ROWS = atol(argv[2]);
  if (only && argc > 2 && strcmp(only, "postgres") == 0) PG_N = atol(argv[2]);
  if (only && argc > 2 && strcmp(only, "contacts") == 0) PGC_N = atol(argv[2]);
  if (only && argc > 2 && strcmp(only, "replay") == 0) REPLAY_N = atol(argv[2]);
  if (N <= 0 || THREADS_N <= 0 || CURVE_MAX_U <= 0 || TC <= 0 || TC > 9999999 || IMPORT_ROWS <= 0 ||
      IMPORT_ROWS > 9999999 || PG_N < 2 || REPLAY_N < 1 || REPLAY_N > REPLAY_MAX ||
      PGC_N < 100 || PGC_N > 7000000000L) {
    fprintf(stderr, "bench: N must be a positive number\n");
    return 2;
  }
  char tmpl[] = "/tmp/parley-bench-XXXXXX";
  char *dir = mkdtemp(tmpl);
  if (!dir) {
    perror("mkdtemp");
    return 1;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  int bad = 0;
  int all = !only;
  if (all || strcmp(only, "workload") == 0) {
    double rate = 0;
    int wrong = run_workload(dir, &rate);
    bad |= wrong;
    if (!wrong && N == WORKLOAD_N) bad |= run_peer(dir, rate);
  }
  if (all || strcmp(only, "curve") == 0) bad |= run_curve(dir);
  if (all || strcmp(only, "threads") == 0) bad |= run_threads(dir);
  if (all) bad |= run_idle(dir);
  if (all || strcmp(only, "timers") == 0) bad |= run_timers(dir);
  if (all || strcmp(only, "import") == 0) bad |= run_import(dir);
  if (all || strcmp(only, "replay") == 0) bad |= run_replay(dir);
  if (all || strcmp(only, "postgres") == 0) bad |= run_postgres(dir);
  if (all || strcmp(only, "contacts") == 0) bad |= run_pg_contacts();
  char *cmd = xasprintf("rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "bench: could not remove %s\n", dir);
  free(cmd);
  printf("%s\n", bad ? "bench: totals WRONG" : "bench: totals correct");
  return bad;
}
