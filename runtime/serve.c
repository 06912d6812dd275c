/* serve: `parley serve`, the bots of a folder behind HTTP.
 *
 * Configuration: built-in defaults, then a config file (--config FILE, lines
 * of key = value), then environment variables (PARLEY_*), then flags; later
 * ones win. Secrets (tokens) are read from the environment or a file, never
 * from flags, and never printed: --print-config shows every setting with its
 * source and secrets masked. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "engine.h"
#include "http_server.h"
#include "log.h"
#include "util.h"

typedef struct setting {
  const char *key;     /* in the file, and --key */
  const char *env;     /* PARLEY_... */
  const char *value;   /* effective */
  const char *source;  /* default, file, env, flag */
  int secret;
  const char *help;
} setting;

static setting settings[] = {
    {"listen", "PARLEY_LISTEN", "127.0.0.1:8080", "default", 0,
     "address:port to listen on"},
    {"db", "PARLEY_DB", "var/parley.db", "default", 0, "the SQLite database file"},
    {"scripts", "PARLEY_SCRIPTS", "scripts", "default", 0,
     "folder of bot folders (each with a bot.lua) to serve"},
    {"public_url", "PARLEY_PUBLIC_URL", "http://127.0.0.1:8080", "default", 0,
     "how providers reach this server (Twilio signs the URL they call)"},
    {"twilio_auth_token", "PARLEY_TWILIO_AUTH_TOKEN", NULL, "unset", 1,
     "Twilio auth token: checks X-Twilio-Signature (requests are refused without)"},
    {"webhook_token", "PARLEY_WEBHOOK_TOKEN", NULL, "unset", 1,
     "bearer token of the JSON webhook, and ?token= of the Kannel get-url"},
    {"webhook_secret", "PARLEY_WEBHOOK_SECRET", NULL, "unset", 1,
     "HMAC-SHA256 key of signed JSON webhooks (X-Parley-Signature)"},
    {"admin_token", "PARLEY_ADMIN_TOKEN", NULL, "unset", 1,
     "bearer token of the admin API (script reload, versions, rollback)"},
    {"log_level", "PARLEY_LOG", "info", "default", 0,
     "debug (also every message sent), info, warn or error"},
    {"log_format", "PARLEY_LOG_FORMAT", "logfmt", "default", 0, "logfmt or json, one line per event"},
    {"max_body", "PARLEY_MAX_BODY", "1048576", "default", 0, "largest request body, bytes"},
};
enum { NSETTINGS = sizeof settings / sizeof *settings };

static setting *find_setting(const char *key) {
  for (int i = 0; i < NSETTINGS; i++)
    if (strcmp(settings[i].key, key) == 0) return &settings[i];
  return NULL;
}

static char *trim(char *s) {
  while (*s == ' ' || *s == '\t') s++;
  char *e = s + strlen(s);
  while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r')) *--e = 0;
  return s;
}

static int read_config(const char *path) {
  size_t len;
  char *text = read_file(path, &len);
  if (!text) {
    fprintf(stderr, "parley serve: %s: cannot read: %s\n", path, strerror(errno));
    return -1;
  }
  int line = 0, rc = 0;
  for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
    line++;
    char *t = trim(l);
    if (!*t || *t == '#') continue;
    char *eq = strchr(t, '=');
    if (!eq) {
      fprintf(stderr, "%s:%d: '%s' is not key = value\n", path, line, t);
      rc = -1;
      continue;
    }
    *eq = 0;
    char *key = trim(t), *value = trim(eq + 1);
    setting *st = find_setting(key);
    if (!st) {
      fprintf(stderr, "%s:%d: unknown setting '%s' (parley serve --help lists them)\n", path,
              line, key);
      rc = -1;
      continue;
    }
    if (st->secret) {
      fprintf(stderr, "%s:%d: %s is a secret: give it by %s (or %s_FILE), not in the "
                      "config file\n", path, line, key, st->env, st->env);
      rc = -1;
      continue;
    }
    st->value = xstrdup(value);
    st->source = "file";
  }
  free(text);
  return rc;
}

/* PARLEY_X, or the first line of the file named by PARLEY_X_FILE. */
static void read_env(void) {
  for (int i = 0; i < NSETTINGS; i++) {
    const char *v = getenv(settings[i].env);
    char *name = xasprintf("%s_FILE", settings[i].env);
    const char *file = getenv(name);
    free(name);
    if (v && *v) {
      settings[i].value = v;
      settings[i].source = "env";
    } else if (file && *file) {
      char *text = read_file(file, NULL);
      if (text) {
        settings[i].value = xstrdup(trim(text));
        settings[i].source = "file (env _FILE)";
        free(text);
      }
    }
  }
}

/* A bot's own secrets: PARLEY_WEBHOOK_TOKEN_FANCLUB (the bot's name in
 * capitals, other characters than letters and digits as _), or the file
 * named by PARLEY_WEBHOOK_TOKEN_FANCLUB_FILE; the same for
 * PARLEY_WEBHOOK_SECRET_ and PARLEY_TWILIO_AUTH_TOKEN_. Read once at start. */
typedef struct bot_secret {
  const setting *of; /* the server-wide setting it replaces */
  char *bot;         /* FANCLUB */
  char *value;
} bot_secret;
static bot_secret *bot_secrets;
static size_t nbot_secrets;

extern char **environ;

static void read_bot_secrets(void) {
  for (int pass = 0; pass < 2; pass++) /* values first: they win over _FILE */
    for (char **ev = environ; *ev; ev++)
      for (int i = 0; i < NSETTINGS; i++) {
        const setting *st = &settings[i];
        size_t n = strlen(st->env);
        const char *eq = strchr(*ev, '=');
        if (!st->secret || strcmp(st->key, "admin_token") == 0 || !eq ||
            strncmp(*ev, st->env, n) != 0 || (*ev)[n] != '_')
          continue;
        char *bot = xstrndup(*ev + n + 1, (size_t)(eq - *ev) - n - 1);
        size_t bl = strlen(bot);
        int file = bl > 5 && strcmp(bot + bl - 5, "_FILE") == 0;
        if (file) bot[bl - 5] = 0;
        char *value = NULL;
        if (!*bot || strcmp(bot, "FILE") == 0 || file != pass || !eq[1]) {
          /* the server-wide _FILE, or not this pass */
        } else if (!file) {
          value = xstrdup(eq + 1);
        } else if ((value = read_file(eq + 1, NULL))) {
          char *t = trim(value);
          memmove(value, t, strlen(t) + 1);
        } else {
          fprintf(stderr, "parley serve: %.*s: cannot read %s: %s\n", (int)(eq - *ev), *ev,
                  eq + 1, strerror(errno));
        }
        int known = 0;
        for (size_t k = 0; value && k < nbot_secrets; k++)
          known |= bot_secrets[k].of == st && strcmp(bot_secrets[k].bot, bot) == 0;
        if (value && !known && *value) {
          bot_secrets = xrealloc(bot_secrets, (nbot_secrets + 1) * sizeof *bot_secrets);
          bot_secrets[nbot_secrets++] = (bot_secret){st, bot, value};
          bot = value = NULL;
        }
        free(bot);
        free(value);
      }
}

static const char *bot_secret_of(const char *bot, const char *key) {
  char up[256];
  size_t n = 0;
  for (; bot[n] && n + 1 < sizeof up; n++)
    up[n] = isalnum((unsigned char)bot[n]) ? (char)toupper((unsigned char)bot[n]) : '_';
  up[n] = 0;
  for (size_t i = 0; i < nbot_secrets; i++)
    if (strcmp(bot_secrets[i].of->key, key) == 0 && strcmp(bot_secrets[i].bot, up) == 0)
      return bot_secrets[i].value;
  return NULL;
}

static void print_config(void) {
  for (int i = 0; i < NSETTINGS; i++) {
    const setting *st = &settings[i];
    const char *shown = !st->value ? "(unset)" : st->secret ? "********" : st->value;
    printf("%-18s = %-28s # %s; %s; env %s\n", st->key, shown, st->source, st->help, st->env);
  }
  for (size_t i = 0; i < nbot_secrets; i++)
    printf("%-18s = %-28s # env; bot %s's own; env %s_%s\n", bot_secrets[i].of->key, "********",
           bot_secrets[i].bot, bot_secrets[i].of->env, bot_secrets[i].bot);
}

static void usage(FILE *f) {
  fputs("usage: parley serve [--config FILE] [--listen ADDR:PORT] [--db FILE]\n"
        "                    [--scripts DIR] [--public-url URL] [--watch] [--print-config]\n"
        "--watch reloads a bot when its files in the scripts folder change.\n"
        "Serves every bot folder in the scripts folder over HTTP:\n"
        "  POST /twilio/BOT               Twilio messaging webhook (TwiML reply)\n"
        "  POST /v1/bots/BOT/messages     JSON {\"from\",\"to\",\"text\",\"id\"}, bearer token\n"
        "                                 or X-Parley-Signature (docs/serve.md)\n"
        "  GET|POST /kannel/BOT?token=... Kannel sms-service get-url / post-url\n"
        "  PUT /v1/bots/BOT/script        a new version (bot.lua, or JSON {\"files\":{...}}),\n"
        "  GET /v1/bots/BOT/versions      POST /v1/bots/BOT/rollback  (admin token)\n"
        "  POST /v1/bots/BOT/events       {\"type\",\"contact\",\"data\"} -> bot.on_event\n"
        "  GET /healthz, GET /metrics (Prometheus)\n"
        "Settings (file key, flag, environment):\n", f);
  for (int i = 0; i < NSETTINGS; i++)
    fprintf(f, "  %-18s %s%s (%s)\n", settings[i].key, settings[i].help,
            settings[i].secret ? "; environment only" : "", settings[i].env);
}

static server *running;

static void on_signal(int sig) {
  (void)sig;
  if (running) server_stop(running);
}

static int watch;

static int load_bots(engine *e, const char *dir, server *s) {
  DIR *d = opendir(dir);
  if (!d) {
    fprintf(stderr, "parley serve: %s: cannot open the scripts folder: %s\n", dir,
            strerror(errno));
    return -1;
  }
  int loaded = 0, failed = 0;
  struct dirent *ent;
  while ((ent = readdir(d))) {
    if (ent->d_name[0] == '.') continue;
    char *path = xasprintf("%s/%s", dir, ent->d_name);
    char *lua = xasprintf("%s/bot.lua", path);
    struct stat st;
    if (stat(lua, &st) == 0) {
      char err[4096];
      if (s) {
        server_watch(s, path);
      } else if (engine_load_bot(e, path, err, sizeof err)) {
        loaded++;
        fprintf(stderr, "parley serve: loaded %s\n", path);
      } else {
        fprintf(stderr, "%s\n", err);
        failed++;
      }
    }
    free(path);
    free(lua);
  }
  closedir(d);
  if (failed) return -1;
  if (!loaded) {
    fprintf(stderr, "parley serve: %s has no bot folders (a folder with a bot.lua)\n", dir);
    return -1;
  }
  return 0;
}

int cli_serve(int argc, char **argv) {
  int print = 0;
  const char *config = NULL;
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) config = argv[++i];
  if (config && read_config(config)) return 2;
  read_env();
  read_bot_secrets();
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--config") == 0) {
      i++;
    } else if (strcmp(a, "--print-config") == 0) {
      print = 1;
    } else if (strcmp(a, "--watch") == 0) {
      watch = 1;
    } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      usage(stdout);
      return 0;
    } else if (strncmp(a, "--", 2) == 0) {
      char *key = xstrdup(a + 2);
      for (char *p = key; *p; p++)
        if (*p == '-') *p = '_';
      setting *st = find_setting(key);
      free(key);
      if (!st || st->secret || i + 1 >= argc) {
        fprintf(stderr, "parley serve: %s '%s'%s\n",
                !st ? "unknown option" : st->secret ? "a secret cannot be a flag:" : "missing a value for",
                a, st && st->secret ? " (use the environment)" : "");
        return 2;
      }
      st->value = argv[++i];
      st->source = "flag";
    } else {
      fprintf(stderr, "parley serve: unexpected argument '%s'\n", a);
      return 2;
    }
  }
  if (print) {
    print_config();
    return 0;
  }
  char host[64];
  int port;
  const char *listen = find_setting("listen")->value;
  if (sscanf(listen, "%63[^:]:%d", host, &port) != 2 || port < 1 || port > 65535) {
    fprintf(stderr, "parley serve: listen = '%s' is not ADDRESS:PORT like 127.0.0.1:8080\n",
            listen);
    return 2;
  }
  long max_body = atol(find_setting("max_body")->value);
  if (max_body < 1024 || max_body > 16 << 20) {
    fprintf(stderr, "parley serve: max_body must be between 1024 and 16777216 bytes\n");
    return 2;
  }
  if (log_setup(find_setting("log_level")->value, find_setting("log_format")->value)) {
    fprintf(stderr, "parley serve: log_level must be debug, info, warn or error and log_format "
                    "logfmt or json (got '%s', '%s')\n",
            find_setting("log_level")->value, find_setting("log_format")->value);
    return 2;
  }
  const char *db = find_setting("db")->value;
  char *slash = strrchr(db, '/');
  if (slash) {
    char *dir = xstrndup(db, (size_t)(slash - db));
    mkdir(dir, 0700);
    free(dir);
  }
  char err[4096];
  engine_options opt = {.db_path = db};
  engine *e = engine_open(&opt, err, sizeof err);
  if (!e) {
    fprintf(stderr, "parley serve: %s\n", err);
    return 1;
  }
  if (load_bots(e, find_setting("scripts")->value, NULL)) {
    engine_close(e);
    return 1;
  }
  server_config cfg = {.host = host, .port = port,
                       .public_url = find_setting("public_url")->value,
                       .twilio_auth_token = find_setting("twilio_auth_token")->value,
                       .webhook_token = find_setting("webhook_token")->value,
                       .webhook_secret = find_setting("webhook_secret")->value,
                       .bot_secret = bot_secret_of,
                       .admin_token = find_setting("admin_token")->value,
                       .max_body = (size_t)max_body};
  server *s = server_start(&cfg, e, err, sizeof err);
  if (!s) {
    fprintf(stderr, "parley serve: %s\n", err);
    engine_close(e);
    return 1;
  }
  if (watch) load_bots(e, find_setting("scripts")->value, s);
  running = s;
  struct sigaction sa = {0};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  fprintf(stderr, "parley serve: listening on http://%s:%d (database %s)\n", host, port, db);
  server_run(s);
  fprintf(stderr, "parley serve: stopping\n");
  server_free(s);
  running = NULL;
  engine_close(e); /* the last batch is committed; WAL checkpointed on close */
  return 0;
}
