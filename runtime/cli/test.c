/* `parley test [--update] [PATH...]`: runs .chat transcripts (files, or
 * folders searched for *.chat) and prints TAP lines and a total. */
#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "chat_test.h"
#include "cli.h"
#include "sql_db.h"
#include "util.h"

/* ---------------------------------------------------------------- discovery */

typedef struct paths {
  char **v;
  size_t n, cap;
} paths;

static void add_path(paths *p, const char *s) {
  if (p->n == p->cap) {
    p->cap = p->cap ? p->cap * 2 : 32;
    p->v = xrealloc(p->v, p->cap * sizeof *p->v);
  }
  p->v[p->n++] = xstrdup(s);
}

static void paths_free(paths *p) {
  for (size_t i = 0; i < p->n; i++) free(p->v[i]);
  free(p->v);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void find_chats(paths *out, const char *dir, int depth) {
  if (depth > 8) return;
  DIR *d = opendir(dir);
  if (!d) return;
  paths found = {0};
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char *full = xasprintf("%s/%s", dir, e->d_name);
    struct stat st;
    if (stat(full, &st) == 0) {
      if (S_ISDIR(st.st_mode) || ends_with(e->d_name, ".chat")) add_path(&found, full);
    }
    free(full);
  }
  closedir(d);
  if (found.n) qsort(found.v, found.n, sizeof *found.v, cmp_str);
  for (size_t i = 0; i < found.n; i++) {
    struct stat st;
    if (stat(found.v[i], &st) == 0 && S_ISDIR(st.st_mode))
      find_chats(out, found.v[i], depth + 1);
    else
      add_path(out, found.v[i]);
    free(found.v[i]);
  }
  free(found.v);
}

/* Adds the transcripts at path (a file, or a folder searched for *.chat);
 * 0, or 2 with the reason printed. */
static int add_target(paths *targets, const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) {
    fprintf(stderr, "parley test: %s: no such file or folder\n", path);
    return 2;
  }
  if (!S_ISDIR(st.st_mode)) {
    add_path(targets, path);
    return 0;
  }
  size_t before = targets->n;
  char *dir = xstrdup(path);
  size_t l = strlen(dir);
  while (l > 1 && dir[l - 1] == '/') dir[--l] = 0;
  find_chats(targets, dir, 0);
  free(dir);
  if (targets->n == before)
    fprintf(stderr, "parley test: %s: no .chat files found\n", path);
  return 0;
}

static const struct option test_options[] = {{"update", no_argument, NULL, 'u'},
                                             {"db", required_argument, NULL, 'd'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};

int cli_test(int argc, char **argv) {
  int update = 0;
  paths targets = {0};
  cli_options o = {.argc = argc,
                   .argv = argv,
                   .verb = "test",
                   .shorts = "h",
                   .longs = test_options,
                   .known = "--update, --db"};
  for (int c; (c = cli_option(&o)) != -1;) {
    switch (c) {
      case 'u':
        update = 1;
        break;
      case 'd':
        if (!sql_is_postgres_target(o.arg)) {
          fprintf(stderr, "parley test: --db takes a PostgreSQL server's URL "
                          "(postgresql://USER@HOST:PORT/DB), not '%s'\n", o.arg);
          return paths_free(&targets), 2;
        }
        chat_test_use_postgres(o.arg);
        break;
      case 'h':
        printf(
            "usage: parley test [--update] [--db URL] [PATH...]\n"
            "Runs .chat transcripts (files, or folders searched for *.chat;\n"
            "default: scripts/ and examples/). --update rewrites the expected\n"
            "lines of each transcript from what the bot actually sent.\n"
            "--db postgresql://USER@HOST:PORT/DB runs each transcript on a new\n"
            "database of that PostgreSQL server (dropped after) instead of in memory.\n");
        return paths_free(&targets), 0;
      case 1:
        if (add_target(&targets, o.arg)) return paths_free(&targets), 2;
        break;
      default:
        return paths_free(&targets), 2;
    }
  }
  if (argc < 2 || (targets.n == 0 && update && argc == 2)) {
    find_chats(&targets, "scripts", 0);
    find_chats(&targets, "examples", 0);
  }
  int passed = 0, failed = 0;
  setvbuf(stdout, NULL, _IOLBF, 0); /* results survive a crash */
  printf("1..%zu\n", targets.n);
  for (size_t i = 0; i < targets.n; i++) {
    char failure[2048] = "";
    int rc = chat_test_file(targets.v[i], update, failure, sizeof failure);
    if (rc < 0) {
      failed++;
      printf("not ok %zu - %s\n", i + 1, targets.v[i]);
      printf("#   %s\n", failure);
    } else {
      passed++;
      printf("ok %zu - %s%s\n", i + 1, targets.v[i], rc == 1 ? " (updated)" : "");
    }
    free(targets.v[i]);
  }
  free(targets.v);
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
