/* test_pg.h: a throwaway PostgreSQL server for a C unit test, started and
 * stopped through tests/pg_server.sh (the tests run from the repository's
 * top folder). */
#ifndef PARLEY_TEST_PG_H
#define PARLEY_TEST_PG_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sql_db.h"

typedef struct test_pg {
  char dir[512]; /* the server's folder, "" when none was started */
  char url[512]; /* postgresql://parley@127.0.0.1:PORT/parley, "" when none */
} test_pg;

/* Starts a server: 0, or -1 with what tests/pg_server.sh said in err. */
static inline int test_pg_start(test_pg *pg, char *err, size_t errlen) {
  *pg = (test_pg){0};
  char cmd[96]; /* this process its owner: stopped even if the test crashes */
  snprintf(cmd, sizeof cmd, "sh tests/pg_server.sh start %ld 2>&1", (long)getpid());
  FILE *p = popen(cmd, "r");
  if (!p) {
    snprintf(err, errlen, "cannot run tests/pg_server.sh");
    return -1;
  }
  char out[2048] = "";
  size_t n = fread(out, 1, sizeof out - 1, p);
  out[n] = 0;
  pclose(p);
  char *dir = strstr(out, "PG_DIR=");
  char *url = strstr(out, "PG_URL=");
  if (!dir || !url || sscanf(dir + 7, "%511s", pg->dir) != 1 ||
      sscanf(url + 7, "%511s", pg->url) != 1) {
    snprintf(err, errlen, "tests/pg_server.sh start: %.900s", out);
    *pg = (test_pg){0};
    return -1;
  }
  snprintf(err, errlen, "%s", pg->url);
  return 0;
}

/* A fast shutdown and a start again on the same port and data: 0 or -1. */
static inline int test_pg_restart(test_pg *pg) {
  char cmd[640];
  snprintf(cmd, sizeof cmd, "sh tests/pg_server.sh restart '%s' >/dev/null 2>&1", pg->dir);
  return system(cmd) == 0 ? 0 : -1;
}

/* A new empty database NAME (letters, digits, _) on the server base_url
 * names (dropped first if it is there): its URL in out. 0, or -1. */
static inline int test_pg_database(const char *base_url, const char *name, char *out,
                                   size_t n) {
  char err[512];
  int rc = sql_fresh_database(base_url, name, 0, out, n, err, sizeof err);
  if (rc) fprintf(stderr, "%s\n", err);
  return rc;
}

/* Stops it (by its PID) and removes its folder. */
static inline void test_pg_stop(test_pg *pg) {
  if (!pg->dir[0]) return;
  char cmd[640];
  snprintf(cmd, sizeof cmd, "sh tests/pg_server.sh stop '%s'", pg->dir);
  if (system(cmd) != 0) fprintf(stderr, "could not stop the server in %s\n", pg->dir);
  *pg = (test_pg){0};
}

#endif
