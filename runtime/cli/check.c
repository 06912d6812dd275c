/* check: load a bot in the sandbox without running a handler, and report
 * every problem found, one "file:line: message" per line. */
#include <getopt.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "engine.h"
#include "util.h"

/* Prints the strings of the list at idx, one a line; returns how many. */
static int print_list(lua_State *co, int idx) {
  if (lua_type(co, idx) != LUA_TTABLE) return 0;
  lua_Integer n = (lua_Integer)lua_rawlen(co, idx);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(co, idx, i);
    fprintf(stderr, "%s\n", lua_tostring(co, -1));
    lua_pop(co, 1);
  }
  return (int)n;
}

/* dir is the lib/ folder the bots share (no bot.lua): its modules are
 * checked with the bots that require them. */
static int is_shared_lib(const char *dir) {
  size_t n = strlen(dir);
  while (n > 1 && dir[n - 1] == '/') n--;
  char lua[4096];
  snprintf(lua, sizeof lua, "%.*s/bot.lua", (int)n, dir);
  return n >= 3 && strncmp(dir + n - 3, "lib", 3) == 0 &&
         (n == 3 || dir[n - 4] == '/') && access(lua, F_OK) != 0;
}

static int check_one(const char *dir) {
  char err[4096];
  if (is_shared_lib(dir)) {
    printf("%s: shared modules (checked with each bot that requires them)\n", dir);
    return 0;
  }
  /* bot.env from the environment, as parley sim reads it */
  engine_options opt = {.db_path = ":memory:", .bot_env = bot_env_from_process};
  engine *e = engine_open(&opt, err, sizeof err);
  if (!e) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  bot *b = engine_load_bot(e, dir, err, sizeof err);
  if (!b) {
    fprintf(stderr, "%s\n", err);
    engine_close(e);
    return 1;
  }
  sandbox *sb = bot_sandbox(b);
  int nargs, nres;
  lua_State *co = sandbox_prepare(sb, "check", NULL, NULL, &nargs, err, sizeof err);
  if (!co) {
    fprintf(stderr, "%s\n", err);
    engine_close(e);
    return 1;
  }
  sandbox_status st = sandbox_call(sb, co, nargs, &nres, NULL, err, sizeof err);
  int problems = 0;
  if (st != SANDBOX_OK) {
    fprintf(stderr, "%s\n", err);
    problems++;
  } else if (nres >= 2) {
    int base = lua_gettop(co) - nres;
    problems += print_list(co, base + 1); /* problems */
    print_list(co, base + 2);             /* warnings: reported, not failed */
  }
  sandbox_release(sb, co, st);
  if (!problems) printf("%s: ok (bot '%s')\n", dir, bot_display_name(b));
  engine_close(e);
  return problems ? 1 : 0;
}

static const struct option check_options[] = {{"help", no_argument, NULL, 'h'},
                                              {NULL, 0, NULL, 0}};

int cli_check(int argc, char **argv) {
  cli_options o = {.argc = argc,
                   .argv = argv,
                   .verb = "check",
                   .shorts = "h",
                   .longs = check_options,
                   .known = "--help"};
  const char **dirs = xcalloc((size_t)argc, sizeof *dirs);
  int ndirs = 0, rc = 0;
  for (int c; !rc && (c = cli_option(&o)) != -1;) {
    if (c == 1) {
      dirs[ndirs++] = o.arg;
    } else if (c == 'h') {
      printf(
          "usage: parley check BOTDIR...\n"
          "Loads each bot (its files, bot.config, handlers and templates) without\n"
          "running a handler, and prints every problem as file:line: message; a\n"
          "warning is printed and the bot still passes.\n");
      free(dirs);
      return 0;
    } else {
      rc = 2;
    }
  }
  if (!rc && ndirs == 0) {
    fprintf(stderr, "usage: parley check BOTDIR...\n");
    rc = 2;
  }
  int failed = 0; /* every bot is checked, whichever fail */
  for (int i = 0; !rc && i < ndirs; i++) failed |= check_one(dirs[i]);
  free(dirs);
  return rc ? rc : failed;
}
