/* sim: `parley sim BOTDIR`, a REPL where you text a bot as a fan.
 *
 * Lines are messages from the current fan; /commands (sim_commands.c) drive
 * the simulator. Replies print as the phone shows them; side effects print
 * as dimmed action lines, the rule that took each message among them. Piped
 * input works too: no prompt, each line is echoed after the prompt it would
 * have had, and a bad command makes the exit status non-zero. The session is
 * recorded as a transcript for /save (sim_record.c). */
#include "sim.h"

#include <editline/readline.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"

/* A line that is not a command: a message from the current fan. */
static const struct option sim_options[] = {{"db", required_argument, NULL, 'd'},
                                            {"as", required_argument, NULL, 'a'},
                                            {"env", required_argument, NULL, 'e'},
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};

/* Reads the options into s (its --env values into s->env): -1 to go on, or
 * the exit status (the usage printed, or the reason). */
static int sim_options_read(sim *s, int argc, char **argv) {
  cli_options o = {.argc = argc,
                   .argv = argv,
                   .verb = "sim",
                   .shorts = "h",
                   .longs = sim_options,
                   .known = "--db FILE, --as NUMBER, --env NAME=value"};
  for (int c; (c = cli_option(&o)) != -1;) {
    char err[256];
    switch (c) {
      case 'd':
        s->db = o.arg;
        break;
      case 'a':
        if (!sim_valid_number(o.arg)) {
          fprintf(stderr, "parley sim: --as '%s' is not a number like +15550002\n",
                  o.arg);
          return 2;
        }
        snprintf(s->fan, sizeof s->fan, "%s", o.arg);
        break;
      case 'e':
        if (bot_env_assign(&s->env, o.arg, err, sizeof err)) {
          fprintf(stderr, "parley sim: --env: %s\n", err);
          return 2;
        }
        break;
      case 'h':
        printf(
            "usage: parley sim BOTDIR [--db FILE] [--as NUMBER] [--env "
            "NAME=value]...\n");
        return 0;
      case 1:
        if (s->dir) {
          fprintf(stderr, "parley sim: one bot folder at a time ('%s' and '%s')\n",
                  s->dir, o.arg);
          return 2;
        }
        s->dir = o.arg;
        break;
      default:
        return 2;
    }
  }
  if (!s->dir) {
    fprintf(stderr, "usage: parley sim BOTDIR [--db FILE] [--as NUMBER] [--env NAME=value]...\n");
    return 2;
  }
  return -1;
}

int cli_sim(int argc, char **argv) {
  sim s = {.db = ":memory:", .now = 0, .out = stdout, .err = stderr};
  snprintf(s.fan, sizeof s.fan, "+15550001");
  int rc = sim_options_read(&s, argc, argv);
  if (rc >= 0) {
    bot_env_clear(&s.env);
    return rc;
  }
  s.now = wall_ms() / 1000 * 1000; /* whole seconds: a transcript's @clock says them */
  record_init(&s.rec, s.now);
  s.tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
  s.http = http_mocks_new();
  http_mocks_fallback(s.http, sim_fetch, &s);
  if (sim_start(&s, s.db)) {
    http_mocks_free(s.http);
    record_free(&s.rec);
    bot_env_clear(&s.env);
    return 1;
  }
  s.zone = xstrdup("UTC");
  if (s.tty)
    printf("parley sim: %s (%s). You are %s. /help for commands.\n",
           bot_display_name(s.b), s.dir, s.fan);
  setvbuf(stdout, NULL, _IOLBF, 0);
  for (;;) {
    char *line;
    if (s.tty) {
      char prompt[48];
      snprintf(prompt, sizeof prompt, "%s> ", s.fan);
      line = readline(prompt);
    } else {
      size_t cap = 0;
      line = NULL;
      ssize_t n = getline(&line, &cap, stdin);
      if (n < 0) {
        free(line);
        line = NULL;
      } else if (n > 0 && line[n - 1] == '\n') {
        line[n - 1] = 0;
      }
    }
    if (!line) break;
    s.lineno++;
    char *p = line;
    while (*p == ' ' || *p == '\t') p++;
    if (!*p) {
      free(line);
      continue;
    }
    if (s.tty) {
      add_history(p);
    } else { /* as a terminal would have shown it */
      printf("%s> %s\n", s.fan, p);
    }
    if (*p == '/') {
      int quit = sim_command(&s, p);
      free(line);
      if (quit) break;
      continue;
    }
    sim_send(&s, p);
    free(line);
  }
  engine_close(s.e);
  http_mocks_free(s.http);
  http_fetch_free(s.fetched);
  record_free(&s.rec);
  free(s.zone);
  bot_env_clear(&s.env);
  return s.errors && !s.tty ? 1 : 0;
}
