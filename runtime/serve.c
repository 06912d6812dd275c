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
#include "settings.h"
#include "util.h"

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
        "Settings (file key, flag, environment; docs/serve.md):\n", f);
  settings_usage(f);
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
  if (config && settings_read_file(config)) return 2;
  settings_read_env();
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
      if (settings_set_flag(a, i + 1 < argc ? argv[i + 1] : NULL)) return 2;
      i++;
    } else {
      fprintf(stderr, "parley serve: unexpected argument '%s'\n", a);
      return 2;
    }
  }
  if (print) {
    settings_print(stdout);
    return 0;
  }
  char host[64];
  int port;
  const char *listen = setting("listen");
  if (sscanf(listen, "%63[^:]:%d", host, &port) != 2 || port < 1 || port > 65535) {
    fprintf(stderr, "parley serve: listen = '%s' is not ADDRESS:PORT like 127.0.0.1:8080\n",
            listen);
    return 2;
  }
  long max_body = atol(setting("max_body"));
  if (max_body < 1024 || max_body > 16 << 20) {
    fprintf(stderr, "parley serve: max_body must be between 1024 and 16777216 bytes\n");
    return 2;
  }
  if (log_setup(setting("log_level"), setting("log_format"))) {
    fprintf(stderr, "parley serve: log_level must be debug, info, warn or error and log_format "
                    "logfmt or json (got '%s', '%s')\n",
            setting("log_level"), setting("log_format"));
    return 2;
  }
  const char *db = setting("db");
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
  if (load_bots(e, setting("scripts"), NULL)) {
    engine_close(e);
    return 1;
  }
  server_config cfg = {.host = host, .port = port,
                       .public_url = setting("public_url"),
                       .twilio_auth_token = setting("twilio_auth_token"),
                       .webhook_token = setting("webhook_token"),
                       .webhook_secret = setting("webhook_secret"),
                       .bot_secret = setting_own,
                       .admin_token = setting("admin_token"),
                       .max_body = (size_t)max_body};
  server *s = server_start(&cfg, e, err, sizeof err);
  if (!s) {
    fprintf(stderr, "parley serve: %s\n", err);
    engine_close(e);
    return 1;
  }
  if (watch) load_bots(e, setting("scripts"), s);
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
