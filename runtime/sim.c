/* sim: `parley sim BOTDIR`, a REPL where you text a bot as a fan.
 *
 * Lines are messages from the current fan; /commands drive the simulator.
 * Replies print as the phone shows them; side effects print as dimmed
 * action lines. Piped input works too: no prompt, and an unknown command
 * makes the exit status non-zero. */
#include <editline/readline.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"
#include "engine.h"
#include "http_client.h"
#include "http_mock.h"
#include "store.h"
#include "util.h"

typedef struct sim {
  engine *e;
  bot *b;
  const char *dir;
  const char *db;
  int64_t now;
  char fan[32];
  int tty;
  int errors;
  char *zone;
  http_mocks *http;     /* /http answers; other requests really go out */
  http_fetched *fetched; /* the last real answer */
  bot_env env;          /* --env NAME=value: over PARLEY_BOT_<BOT>_<NAME> */
} sim;

/* A request no /http line answers goes out for real (private addresses
 * allowed: the simulator runs on the author's own machine). */
static int sim_fetch(void *ud, const engine_http_request *r, engine_http_result *res) {
  sim *s = ud;
  http_fetch_free(s->fetched);
  s->fetched = http_fetch(r, 1, res);
  return 0;
}

/* Answers the requests handlers made, then runs what waited for them. */
static void answer_http(sim *s) {
  char err[1024];
  if (engine_http_waiting(s->e) && http_mocks_answer(s->http, s->e, err, sizeof err))
    fprintf(stderr, "parley sim: %s\n", err);
}

static int64_t sim_clock(void *ud) { return ((sim *)ud)->now; }

static const char *dim_on(sim *s) { return s->tty ? "\033[2m" : ""; }
static const char *dim_off(sim *s) { return s->tty ? "\033[0m" : ""; }

static void on_message(void *ud, const char *botname, const char *to,
                       const char *text, const char *status, void *tag, int64_t id) {
  (void)tag;
  (void)id;
  sim *s = ud;
  (void)botname;
  (void)status;
  const char *name = bot_display_name(s->b);
  if (strcmp(to, s->fan) == 0)
    printf("%s: %s\n", name, text);
  else
    printf("%s -> %s: %s\n", name, to, text);
}

static void on_action(void *ud, const char *botname, const char *number,
                      const char *what) {
  sim *s = ud;
  (void)botname;
  if (strcmp(number, s->fan) == 0 || !*number)
    printf("%s  . %s%s\n", dim_on(s), what, dim_off(s));
  else
    printf("%s  . [%s] %s%s\n", dim_on(s), number, what, dim_off(s));
}

static int sim_start(sim *s, const char *db) {
  engine_observer obs = {on_message, on_action, s, NULL};
  engine_options opt = {.db_path = db, .clock = sim_clock, .clock_ud = s,
                        .observer = &obs, .bot_env = bot_env_from_process,
                        .bot_env_ud = &s->env};
  char err[4096];
  s->e = engine_open(&opt, err, sizeof err);
  if (!s->e) {
    fprintf(stderr, "parley sim: %s\n", err);
    return -1;
  }
  s->b = engine_load_bot(s->e, s->dir, err, sizeof err);
  if (!s->b) {
    fprintf(stderr, "%s\n", err);
    engine_close(s->e);
    s->e = NULL;
    return -1;
  }
  engine_on_http(s->e, http_mocks_start, s->http);
  return 0;
}

static void print_contact(void *ud, const contact_row *r) {
  sim *s = ud;
  printf("%s%s  %s  fields %s  tags %s%s%s\n", strcmp(r->number, s->fan) == 0 ? "* " : "  ",
         r->number, r->status, r->fields, r->tags, r->timezone ? "  tz " : "",
         r->timezone ? r->timezone : "");
}

static void show_state(sim *s) {
  contact_row r = {0};
  if (store_contact_get(engine_store(s->e), bot_id(s->b), s->fan, &r) <= 0) {
    printf("%s has not texted this bot yet\n", s->fan);
    return;
  }
  printf("contact  %s (%s)\n", r.number, r.status);
  printf("fields   %s\n", r.fields);
  printf("tags     %s\n", r.tags);
  printf("state    %s\n", r.state);
  printf("expect   %s\n", r.expect ? r.expect : "-");
  if (r.timezone) printf("timezone %s\n", r.timezone);
  char *st = store_bot_store_get(engine_store(s->e), bot_id(s->b));
  printf("bot.store %s\n", st);
  free(st);
  contact_row_free(&r);
}

static void help(void) {
  puts("Type a message to send it as the current fan. Commands:\n"
       "  /as NUMBER      become another fan (E.164, like +15550002)\n"
       "  /advance DUR    move the clock on (90s, 15m, 2h, 3d, 1w)\n"
       "  /clock          show the simulated time\n"
       "  /state          the current fan's fields, tags, state and pending expect\n"
       "  /contacts       every contact of this bot\n"
       "  /broadcasts     every broadcast of this bot and its progress\n"
       "  /http GET URL -> 200 BODY\n"
       "                  answer http.get/post of that URL (a URL ending in * is a\n"
       "                  prefix; also -> timeout, -> error TEXT); other requests\n"
       "                  really go out\n"
       "  /reset          start over with an empty in-memory store\n"
       "  /help           this text\n"
       "  /quit           leave (Ctrl-D works too)");
}

static int valid_fan(const char *n) {
  size_t len = strlen(n);
  if (len < 5 || len > 16 || n[0] != '+') return 0;
  for (size_t i = 1; i < len; i++)
    if (n[i] < '0' || n[i] > '9') return 0;
  return 1;
}

static void complain(sim *s, int line, const char *fmt, const char *arg) {
  if (!s->tty) fprintf(stderr, "stdin:%d: ", line);
  fprintf(stderr, fmt, arg);
  fputc('\n', stderr);
  s->errors++;
}

/* Returns 1 to quit. */
static int command(sim *s, char *line, int lineno) {
  char *arg = line + 1;
  while (*arg && *arg != ' ') arg++;
  if (*arg) *arg++ = 0;
  while (*arg == ' ') arg++;
  char *end = arg + strlen(arg);
  while (end > arg && end[-1] == ' ') *--end = 0;
  const char *cmd = line + 1;
  if (strcmp(cmd, "quit") == 0 || strcmp(cmd, "exit") == 0) return 1;
  if (strcmp(cmd, "help") == 0) {
    help();
  } else if (strcmp(cmd, "as") == 0) {
    if (!valid_fan(arg))
      complain(s, lineno, "/as: '%s' is not a number like +15550002", arg);
    else
      snprintf(s->fan, sizeof s->fan, "%s", arg);
  } else if (strcmp(cmd, "advance") == 0) {
    int64_t d = clock_parse_duration(arg);
    if (d < 0) {
      complain(s, lineno, "/advance: '%s' is not a duration like 90s, 15m, 2h, 3d, 1w", arg);
    } else if (s->now + d > CLOCK_MAX_SECONDS * 1000) {
      complain(s, lineno, "/advance: %s would move the clock past the end of 9999", arg);
    } else {
      char err[1024];
      if (http_mocks_advance(s->http, s->e, s->now + d, err, sizeof err))
        fprintf(stderr, "parley sim: %s\n", err);
      s->now += d;
      char t[64];
      clock_format_local(s->now, s->zone, t, sizeof t);
      printf("%s  . clock: %s %s%s\n", dim_on(s), t, s->zone, dim_off(s));
    }
  } else if (strcmp(cmd, "clock") == 0) {
    char t[64];
    clock_format_local(s->now, s->zone, t, sizeof t);
    printf("%s %s\n", t, s->zone);
  } else if (strcmp(cmd, "state") == 0) {
    show_state(s);
  } else if (strcmp(cmd, "contacts") == 0) {
    long n = store_contact_count(engine_store(s->e), bot_id(s->b));
    printf("%ld contact%s\n", n, n == 1 ? "" : "s");
    store_contacts_each(engine_store(s->e), bot_id(s->b), print_contact, s);
  } else if (strcmp(cmd, "broadcasts") == 0) {
    int shown = 0;
    for (int64_t id = 1;; id++) {
      broadcast_row br = {0};
      int found = store_broadcast_get(engine_store(s->e), bot_id(s->b), id, &br);
      if (found <= 0) {
        if (id > store_max_broadcast(engine_store(s->e))) break;
        continue;
      }
      char when[64];
      clock_format_local(br.next_at, s->zone, when, sizeof when);
      printf("#%lld %s: sent %ld, held %ld, suppressed %ld, failed %ld (next turn %s) %s\n",
             (long long)br.id, br.status, br.sent, br.held, br.suppressed, br.failed, when,
             br.text);
      broadcast_row_free(&br);
      shown++;
    }
    if (!shown) printf("no broadcasts\n");
  } else if (strcmp(cmd, "http") == 0) {
    char err[1024];
    if (http_mocks_add(s->http, arg, err, sizeof err)) complain(s, lineno, "/http: %s", err);
  } else if (strcmp(cmd, "reset") == 0) {
    engine_close(s->e);
    s->e = NULL;
    if (sim_start(s, ":memory:")) return 1;
    printf("%s  . reset: empty in-memory store%s%s%s\n", dim_on(s),
           strcmp(s->db, ":memory:") ? " (" : "", strcmp(s->db, ":memory:") ? s->db : "",
           strcmp(s->db, ":memory:") ? " is left as it was)" : "");
    printf("%s", dim_off(s));
    s->db = ":memory:";
  } else {
    complain(s, lineno, "unknown command '/%s' (type /help for the list)", cmd);
  }
  return 0;
}

int cli_sim(int argc, char **argv) {
  sim s = {.db = ":memory:", .now = 0};
  snprintf(s.fan, sizeof s.fan, "+15550001");
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
      s.db = argv[++i];
    } else if (strcmp(argv[i], "--as") == 0 && i + 1 < argc) {
      if (!valid_fan(argv[i + 1])) {
        fprintf(stderr, "parley sim: --as '%s' is not a number like +15550002\n", argv[i + 1]);
        return 2;
      }
      snprintf(s.fan, sizeof s.fan, "%s", argv[++i]);
    } else if (strcmp(argv[i], "--env") == 0 && i + 1 < argc) {
      char err[256];
      if (bot_env_assign(&s.env, argv[++i], err, sizeof err)) {
        fprintf(stderr, "parley sim: --env: %s\n", err);
        return 2;
      }
    } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
      printf("usage: parley sim BOTDIR [--db FILE] [--as NUMBER] [--env NAME=value]...\n");
      return 0;
    } else if (argv[i][0] == '-') {
      fprintf(stderr,
              "parley sim: unknown option '%s' (known: --db FILE, --as NUMBER, --env "
              "NAME=value)\n",
              argv[i]);
      return 2;
    } else if (!s.dir) {
      s.dir = argv[i];
    } else {
      fprintf(stderr, "parley sim: one bot folder at a time ('%s' and '%s')\n", s.dir, argv[i]);
      return 2;
    }
  }
  if (!s.dir) {
    fprintf(stderr, "usage: parley sim BOTDIR [--db FILE] [--as NUMBER] [--env NAME=value]...\n");
    return 2;
  }
  s.now = wall_ms();
  s.tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
  s.http = http_mocks_new();
  http_mocks_fallback(s.http, sim_fetch, &s);
  if (sim_start(&s, s.db)) return 1;
  s.zone = xstrdup("UTC");
  if (s.tty)
    printf("parley sim: %s (%s). You are %s. /help for commands.\n",
           bot_display_name(s.b), s.dir, s.fan);
  setvbuf(stdout, NULL, _IOLBF, 0);
  int lineno = 0;
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
    lineno++;
    char *p = line;
    while (*p == ' ' || *p == '\t') p++;
    if (!*p) {
      free(line);
      continue;
    }
    if (s.tty) add_history(p);
    if (*p == '/') {
      int quit = command(&s, p, lineno);
      free(line);
      if (quit) break;
      continue;
    }
    inbound in = {.from = s.fan, .text = p, .len = strlen(p)};
    char err[1024];
    if (engine_handle(s.e, s.b, &in, 1, err, sizeof err)) {
      fprintf(stderr, "parley sim: %s\n", err);
      s.errors++;
    }
    answer_http(&s);
    free(line);
  }
  engine_close(s.e);
  http_mocks_free(s.http);
  http_fetch_free(s.fetched);
  free(s.zone);
  return s.errors && !s.tty ? 1 : 0;
}
