/* test.h: the few helpers parley's C unit tests share.
 *
 * Every check prints "ok N - description" or "not ok N - description"
 * followed by "#   ..." lines saying what was expected and what happened;
 * test_done() prints the one summary line "N passed, N failed" and returns
 * the exit status (1 if anything failed). Temporary files live in a mkdtemp
 * folder that test_rmtree() removes. */
#ifndef PARLEY_TEST_H
#define PARLEY_TEST_H

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int test_passed, test_failed;

/* Prints one result line; returns ok so callers can add detail lines. */
static inline int test_vresult(int ok, const char *fmt, va_list ap) {
  if (ok) test_passed++;
  else test_failed++;
  printf("%s %d - ", ok ? "ok" : "not ok", test_passed + test_failed);
  vprintf(fmt, ap);
  putchar('\n');
  fflush(stdout);
  return ok;
}

static inline int test_result(int ok, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static inline int test_result(int ok, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  test_vresult(ok, fmt, ap);
  va_end(ap);
  return ok;
}

/* A "#   ..." detail line under the last result. */
static inline void test_note(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static inline void test_note(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("#   ", stdout);
  vprintf(fmt, ap);
  putchar('\n');
  va_end(ap);
  fflush(stdout);
}

/* A check that cannot run here: "ok N - description # SKIP reason" (the
 * suite counts it as skipped, not passed). */
static inline void test_skip(const char *description, const char *reason) {
  test_passed++;
  printf("ok %d - %s # SKIP %s\n", test_passed + test_failed, description, reason);
  fflush(stdout);
}

/* CHECK(cond, "description", ...): a failure names the condition. */
#define CHECK(cond, ...)                                                    \
  do {                                                                      \
    if (!test_result(!!(cond), __VA_ARGS__))                                \
      test_note("expected %s (%s:%d)", #cond, __FILE__, __LINE__);          \
  } while (0)

/* CHECK_INT(actual, expected, "description", ...) */
#define CHECK_INT(actual, expected, ...)                                    \
  do {                                                                      \
    long long test_a_ = (long long)(actual), test_e_ = (long long)(expected); \
    if (!test_result(test_a_ == test_e_, __VA_ARGS__))                      \
      test_note("expected %s = %lld, got %lld (%s:%d)", #actual, test_e_,   \
                test_a_, __FILE__, __LINE__);                               \
  } while (0)

/* CHECK_STR(actual, expected, "description", ...); NULL compares as NULL. */
#define CHECK_STR(actual, expected, ...)                                    \
  do {                                                                      \
    const char *test_a_ = (actual), *test_e_ = (expected);                  \
    int test_ok_ = (test_a_ && test_e_) ? strcmp(test_a_, test_e_) == 0     \
                                        : test_a_ == test_e_;               \
    if (!test_result(test_ok_, __VA_ARGS__))                                \
      test_note("expected %s = \"%s\", got \"%s\" (%s:%d)", #actual,        \
                test_e_ ? test_e_ : "(null)", test_a_ ? test_a_ : "(null)", \
                __FILE__, __LINE__);                                        \
  } while (0)

/* CHECK_HAS(text, part, "description", ...): text contains part. */
#define CHECK_HAS(text, part, ...)                                          \
  do {                                                                      \
    const char *test_a_ = (text), *test_e_ = (part);                        \
    if (!test_result(test_a_ && strstr(test_a_, test_e_) != NULL,           \
                     __VA_ARGS__))                                          \
      test_note("expected %s to contain \"%s\", got \"%s\" (%s:%d)", #text, \
                test_e_, test_a_ ? test_a_ : "(null)", __FILE__, __LINE__); \
  } while (0)

static inline int test_done(void) {
  printf("%d passed, %d failed\n", test_passed, test_failed);
  return test_failed ? 1 : 0;
}

/* ---------------------------------------------------------------- files */

/* A new empty folder under $TMPDIR (or /tmp); exits if it cannot. Returns
 * a copy the caller frees. */
static inline char *test_tmpdir(void) {
  const char *base = getenv("TMPDIR");
  static char path[4096];
  snprintf(path, sizeof path, "%s/parley-test-XXXXXX",
           base && *base ? base : "/tmp");
  if (!mkdtemp(path)) {
    perror("mkdtemp");
    exit(2);
  }
  return strdup(path);
}

/* path joined with name; caller frees. */
static inline char *test_path(const char *dir, const char *name) {
  size_t n = strlen(dir) + strlen(name) + 2;
  char *p = malloc(n);
  snprintf(p, n, "%s/%s", dir, name);
  return p;
}

static inline int test_write_file(const char *path, const void *data,
                                  size_t len) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  size_t w = fwrite(data, 1, len, f);
  return fclose(f) == 0 && w == len ? 0 : -1;
}

/* The whole file (NUL-terminated, *len without the NUL); NULL if unreadable. */
static inline char *test_read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 4096, n = 0;
  char *data = malloc(cap + 1);
  size_t r;
  while ((r = fread(data + n, 1, cap - n, f)) > 0) {
    n += r;
    if (n == cap) data = realloc(data, (cap *= 2) + 1);
  }
  fclose(f);
  data[n] = 0;
  if (len) *len = n;
  return data;
}

static inline int test_file_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

/* Removes a file or a folder with everything in it. */
static inline void test_rmtree(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0) return;
  if (S_ISDIR(st.st_mode)) {
    DIR *d = opendir(path);
    struct dirent *e;
    while (d && (e = readdir(d))) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
        continue;
      char *child = test_path(path, e->d_name);
      test_rmtree(child);
      free(child);
    }
    if (d) closedir(d);
    rmdir(path);
  } else {
    unlink(path);
  }
}

#endif
