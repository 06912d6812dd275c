/* The workload of shared/bench/WORKLOAD.md for bench/bench.c: its input
 * (message i of N over U contacts), the totals its rules give (computed by
 * a model of the rules, for any N and U), one run through the engine, and
 * the totals read back from what the run stored. */
#ifndef PARLEY_BENCH_WORKLOAD_H
#define PARLEY_BENCH_WORKLOAD_H

#include <stdint.h>

/* WORKLOAD.md's standard size, the one its expected totals are given for */
enum { WORKLOAD_N = 200000, WORKLOAD_U = 10000 };

/* Message i's text (contact(i) is "+1555" and i mod U on 7 digits). */
const char *workload_text(long i);

typedef struct workload_totals {
  long in, stop, start, silenced, tour, merch, thanks, replies, no_reply, opted_out,
      counters, optin_from_opted_out;
} workload_totals;

/* What the rules give for n messages over u contacts. */
workload_totals workload_model(long n, long u);
/* The totals WORKLOAD.md writes down for its standard size. */
workload_totals workload_published(void);

typedef struct workload_result {
  double secs;           /* first message submitted to the last one durable */
  double p50_ms, p99_ms; /* a message's batch, submitted to committed */
  long errors, limit_hits;
  /* CPU time per message (us) over the same span, by thread: the writer
   * ("parley-writer"), the checkpointer ("parley-checkpt"), and the rest
   * (the caller's thread, which is the primary engine worker, and the other
   * workers); -1 where the kernel does not say (no schedstat) */
  double cpu_engine_us, cpu_writer_us, cpu_checkpoint_us;
} workload_result;

/* Runs n messages over u contacts through a new engine on db_path with
 * engine_threads = threads, bench/workload as the bot. 0, or -1 with the
 * reason on stderr. */
int workload_run(const char *db_path, long n, long u, int threads,
                 workload_result *out);

/* One node of `nodes` on one PostgreSQL database: its engine runs the
 * partitions p with p % nodes == node and is given only the messages of
 * their conversations (the workload's others go to the other nodes),
 * in the workload's order. ready() is called once the engine is open and
 * the bot loaded, before the clock starts (the caller lines the nodes up
 * there). out counts this node's messages (out->messages). */
typedef struct workload_part {
  int node, nodes;
  void (*ready)(void *ud);
  void *ud;
  long messages; /* out: how many were this node's */
} workload_part;
int workload_run_part(const char *db_path, long n, long u, int threads, workload_part *part,
                      workload_result *out);

/* Reads the totals back from db_path and checks them against want, one
 * line each (verbose) or only those that differ. 0 if all are right. */
int workload_verify(const char *db_path, const workload_totals *want, int verbose);

/* Shared by bench.c's other sections: the first column of the first row
 * of sql (-1 and a line on stderr if it fails); a check line "what got ok"
 * (or WRONG and what was expected; only those when not verbose), 0 if
 * right. */
struct sqlite3;
long bench_query_long(struct sqlite3 *db, const char *sql);
int bench_check(const char *what, long got, long want, int verbose);

/* Peak resident set of this process, KiB. */
long workload_peak_rss_kib(void);

#endif
