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
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"
#include "cluster.h"
#include "deploy.h"
#include "engine.h"
#include "http_server.h"
#include "log.h"
#include "http_client.h"
#include "outbox.h"
#include "provider_registry.h"
#include "settings.h"
#include "sql_db.h"
#include "util.h"

/* "POST /twilio/BOT": how a provider's route is called. */
static char *route_usage(const provider_registration *p, const provider_route *r) {
  return xasprintf("%s %sBOT%s", p->takes_get ? "GET|POST" : "POST", r->prefix,
                   r->suffix ? r->suffix : "");
}

/* "  WHAT" and its help in the column after it, help's "\n" lines under
 * each other. */
static void usage_line(FILE *f, const char *what, const char *help) {
  fprintf(f, "  %-30s ", what);
  for (const char *p = help; *p; p++) {
    fputc(*p, f);
    if (*p == '\n') fprintf(f, "%33s", "");
  }
  fputc('\n', f);
}

/* The providers' messages routes, the server's own, then the providers'
 * delivery reports routes: all from the registrations but the server's. */
static void usage_routes(FILE *f) {
  for (size_t i = 0; provider_registrations[i]; i++) {
    const provider_registration *p = provider_registrations[i];
    if (!p->messages.prefix) continue;
    char *what = route_usage(p, &p->messages);
    usage_line(f, what, p->messages_help ? p->messages_help : "its messages");
    free(what);
  }
  fputs("  PUT /v1/bots/BOT/script        a new version (bot.lua, or JSON {\"files\":{...}}),\n"
        "  GET /v1/bots/BOT/versions      POST /v1/bots/BOT/rollback  (admin token)\n"
        "  POST /v1/bots/BOT/events       {\"type\",\"contact\",\"data\"} -> bot.on_event\n",
        f);
  int reports = 0;
  for (size_t i = 0; provider_registrations[i]; i++) {
    const provider_registration *p = provider_registrations[i];
    if (!p->reports.prefix) continue;
    char *what = route_usage(p, &p->reports);
    fprintf(f, "%s%s", reports++ ? ", " : "  ", what);
    free(what);
  }
  if (reports)
    fprintf(f, "\n%33sdelivery reports of sent messages (docs/providers.md)\n", "");
  fputs("  GET /healthz, GET /metrics (Prometheus)\n", f);
}

static void usage(FILE *f) {
  fputs("usage: parley serve [--config FILE] [--listen ADDR:PORT] [--db FILE]\n"
        "                    [--scripts DIR] [--public-url URL] [--watch] [--print-config]\n"
        "--watch reloads a bot when its files in the scripts folder change.\n"
        "Serves every bot folder in the scripts folder over HTTP:\n", f);
  usage_routes(f);
  fputs("Settings (file key, flag, environment; docs/serve.md):\n", f);
  settings_usage(f);
  fputs("A bot's script reads bot.env.NAME: env.NAME = value under [bot BOT] in the config\n"
        "file, or PARLEY_BOT_<BOT>_<NAME> (wins); secrets, never printed (docs/serve.md).\n",
        f);
}

/* ---------------------------------------------------------------- sending */

/* bot.env of a version about to load: the config file as it is now, and
 * the environment (settings.h). */
static int serve_bot_env(void *ud, const char *bot, const char *dir, bot_env *out, char *err,
                         size_t errlen) {
  (void)ud, (void)dir;
  return settings_bot_env(bot, out, err, errlen);
}

/* A bot's sending settings, built from its settings on first use and kept
 * (the sender holds on to them). */
typedef struct bot_sending {
  char *bot;
  char *status_url;
  outbox_bot_config cfg;
  const char *problem; /* NULL: usable */
} bot_sending;
static bot_sending **sendings; /* each allocated once: the sender keeps pointers */
static size_t nsendings;
static pthread_mutex_t sendings_mu = PTHREAD_MUTEX_INITIALIZER;

/* Where a provider's delivery reports for the bot come back, or NULL. */
static char *status_url(const provider_registration *p, const char *bot) {
  if (!p->reports.prefix) return NULL;
  return xasprintf("%s%s%s%s", setting("public_url"), p->reports.prefix, bot,
                   p->reports.suffix ? p->reports.suffix : "");
}

/* What a provider reads of a bot's settings. */
/* The replay setting as a count: -1 if it is not one. */
static long replay_count(const char *v) {
  char *end;
  long n = v && *v >= '0' && *v <= '9' ? strtol(v, &end, 10) : -1;
  return n < 0 || *end || n > 100000 ? -1 : n;
}

static const char *bot_setting(void *ud, const char *key) { return setting_for(ud, key); }

/* The server's view of the secrets providers check requests with. */
static const char *secret_setting(const char *bot, const char *key) {
  const char *own = setting_own(bot, key);
  return own ? own : setting(key);
}

/* A whole-number setting from min to max: 0 with *out, or -1 with the
 * problem printed ("3s", "abc" or an overflow are not read as 3 or 0). */
static int whole_setting(const char *key, long min, long max, long *out) {
  const char *v = setting(key);
  char *end;
  errno = 0;
  long n = strtol(v, &end, 10);
  if (end == v || *end || errno || n < min || n > max) {
    fprintf(stderr, "parley serve: %s = '%s' must be a whole number from %ld to %ld\n", key, v,
            min, max);
    return -1;
  }
  *out = n;
  return 0;
}

static double rate_setting(const char *bot, const char *key, const char **problem) {
  char *end;
  const char *v = setting_for(bot, key);
  double r = strtod(v, &end);
  if (end == v || *end || !(r > 0) || r > 100000) *problem = "a rate must be a number of messages a second above 0";
  return r;
}

/* The bot's other channels (WhatsApp...): those its settings set up. */
static void configure_channels(bot_sending *b) {
  for (size_t i = 0; provider_registrations[i]; i++) {
    const provider_registration *reg = provider_registrations[i];
    if (reg->channel == CHANNEL_SMS) continue;
    provider_config *c = &b->cfg.channels[reg->channel];
    c->kind = reg->name;
    const char *problem = reg->configure(c, bot_setting, b->bot);
    if (c->kind && !problem) problem = reg->ops->check(c);
    if (problem && !b->problem) b->problem = problem;
  }
}

static bot_sending *sending_of(const char *bot) {
  for (size_t i = 0; i < nsendings; i++)
    if (strcmp(sendings[i]->bot, bot) == 0) return sendings[i];
  bot_sending *b = xcalloc(1, sizeof *b);
  sendings = xrealloc(sendings, (nsendings + 1) * sizeof *sendings);
  sendings[nsendings++] = b;
  b->bot = xstrdup(bot);
  provider_config *p = &b->cfg.provider;
  p->kind = setting_for(bot, "provider");
  const provider_registration *reg = provider_sms_find(p->kind);
  if (!reg) {
    b->problem = provider_names_problem();
    return b;
  }
  const char *reports = setting_for(bot, "delivery_reports");
  if (strcmp(reports, "on") != 0 && strcmp(reports, "off") != 0)
    b->problem = "delivery_reports must be on or off";
  b->status_url = strcmp(reports, "on") == 0 ? status_url(reg, bot) : NULL;
  p->status_url = b->status_url;
  const char *reports_problem = reg->configure ? reg->configure(p, bot_setting, b->bot) : NULL;
  b->cfg.rate_long_code = rate_setting(bot, "rate_long_code", &b->problem);
  b->cfg.rate_toll_free = rate_setting(bot, "rate_toll_free", &b->problem);
  b->cfg.rate_short_code = rate_setting(bot, "rate_short_code", &b->problem);
  const char *unit = setting_for(bot, "rate_unit");
  b->cfg.per_segment = strcmp(unit, "segments") == 0;
  if (!b->cfg.per_segment && strcmp(unit, "messages") != 0)
    b->problem = "rate_unit must be messages or segments";
  const char *inl = setting_for(bot, "inline_replies");
  if (strcmp(inl, "on") != 0 && strcmp(inl, "off") != 0)
    b->problem = "inline_replies must be on or off";
  if (replay_count(setting_for(bot, "replay")) < 0)
    b->problem = "replay must be a number of messages from 0 to 100000";
  const char *priv = setting_for(bot, "http_allow_private");
  if (strcmp(priv, "on") != 0 && strcmp(priv, "off") != 0)
    b->problem = "http_allow_private must be on or off";
  if (!b->problem) b->problem = reg->ops->check(p);
  /* delivery reports come back authenticated like the bot's webhooks */
  if (!b->problem) b->problem = reports_problem;
  configure_channels(b);
  return b;
}

/* The sender's view: NULL (its messages wait, logged) if the settings are
 * not usable. */
static const outbox_bot_config *config_for(void *ud, const char *bot) {
  (void)ud;
  pthread_mutex_lock(&sendings_mu);
  bot_sending *b = sending_of(bot);
  pthread_mutex_unlock(&sendings_mu);
  if (b->problem) {
    log_event(LOG_ERROR, "provider_settings", "bot", bot, "problem", b->problem, NULL);
    return NULL;
  }
  return &b->cfg;
}

static int inline_replies(const char *bot) {
  return strcmp(setting_for(bot, "inline_replies"), "on") == 0;
}

static long replay_of(const char *bot) {
  long n = replay_count(setting_for(bot, "replay"));
  return n < 0 ? 0 : n;
}

/* Every loaded bot's sending settings must be usable before we listen. */
typedef struct check_ctx {
  int bad;
} check_ctx;
/* Where a bot's short links point: its link_url, else public_url. Read
 * from the engine's workers at once: the settings do not change after
 * the start. */
static const char *link_base(void *ud, const char *bot) {
  (void)ud;
  const char *v = setting_for(bot, "link_url");
  return v ? v : setting("public_url");
}

/* A base of short links: http(s)://, a host, no query or fragment. */
static int link_base_ok(const char *v) {
  size_t scheme = strncmp(v, "https://", 8) == 0 ? 8 : strncmp(v, "http://", 7) == 0 ? 7 : 0;
  return scheme && v[scheme] && v[scheme] != '/' && !strpbrk(v, "?# \t\"<>");
}

static void check_bot_sending(void *ud, const char *bot, const bot_counts *c) {
  (void)c;
  check_ctx *ctx = ud;
  if (!link_base_ok(link_base(NULL, bot))) {
    fprintf(stderr, "parley serve: bot %s: link_url = '%s' is not a base of short links like "
            "https://go.shop.example (http or https, no query)\n", bot, link_base(NULL, bot));
    ctx->bad = 1;
  }
  pthread_mutex_lock(&sendings_mu);
  bot_sending *b = sending_of(bot);
  pthread_mutex_unlock(&sendings_mu);
  if (b->problem) {
    fprintf(stderr, "parley serve: bot %s: %s (provider = %s; docs/providers.md)\n", bot,
            b->problem, setting_for(bot, "provider"));
    ctx->bad = 1;
  }
}

static void free_sendings(void) {
  for (size_t i = 0; i < nsendings; i++) {
    free(sendings[i]->bot);
    free(sendings[i]->status_url);
    free(sendings[i]);
  }
  free(sendings);
  sendings = NULL;
  nsendings = 0;
}

static server *running;
static outbox *sender;
static cluster *nodes; /* on PostgreSQL: this node's membership */

/* The sender's share: the numbers of the partitions this node holds. */
static int sender_partitions(void *ud, char *mask) {
  (void)ud;
  cluster_held_mask(nodes, mask);
  return 1;
}

static http_client *fetcher; /* http.get/post from handlers */

static void on_http_done(void *ud, uint64_t id, const engine_http_result *r) {
  (void)ud;
  server_report_http(running, id, r);
}

static void on_http_start(void *ud, const engine_http_request *r) {
  (void)ud;
  http_client_start(fetcher, r, strcmp(setting_for(r->bot, "http_allow_private"), "on") == 0);
}

/* The sender's reports go to the engine as delivery reports. */
static void on_report(void *ud, const outbox_report *r) {
  (void)ud;
  delivery d = {.message_id = r->message_id, .status = r->status, .error = r->error,
                .from_sender = 1, .carrier_optout = r->opted_out,
                .undeliverable = r->undeliverable};
  server_report_delivery(running, r->bot, &d); /* set before the sender can report */
}

static void sender_metrics(void *ud, buf *out) {
  engine *e = ud;
  if (!sender) return;
  outbox_stats st = outbox_stats_of(sender);
  buf_printf(out,
             "# HELP parley_sends_total Requests to providers by result (a retried message "
             "counts each try).\n"
             "# TYPE parley_sends_total counter\n"
             "parley_sends_total{result=\"sent\"} %ld\n"
             "parley_sends_total{result=\"retried\"} %ld\n"
             "parley_sends_total{result=\"failed\"} %ld\n"
             "# HELP parley_sends_in_flight Requests to providers not answered yet.\n"
             "# TYPE parley_sends_in_flight gauge\n"
             "parley_sends_in_flight %ld\n",
             st.sent, st.retried, st.failed, st.in_flight);
  if (fetcher)
    buf_printf(out,
               "# HELP parley_http_in_flight Requests from handlers (http.get/post) not "
               "answered yet.\n"
               "# TYPE parley_http_in_flight gauge\n"
               "parley_http_in_flight %ld\n"
               "# HELP parley_handlers_waiting Handlers waiting for an http.get/post "
               "response.\n"
               "# TYPE parley_handlers_waiting gauge\n"
               "parley_handlers_waiting %zu\n",
               http_client_in_flight(fetcher), engine_http_waiting(e));
}

static void on_signal(int sig) {
  (void)sig;
  if (running) server_stop(running);
}

static int watch;

/* test_clock = "2026-03-02 15:00 [ZONE]": the whole server's clock (timers,
 * quiet hours, bot.now(), the sender) starts there. */
static int start_test_clock(const char *value) {
  if (!value || !*value) return 0;
  char date[32], hour[32], zone[128] = "UTC", err[256];
  int64_t ms;
  int n = sscanf(value, "%31s %31s %127s", date, hour, zone);
  char *when = n >= 2 ? xasprintf("%s %s", date, hour) : NULL;
  int bad = !when || clock_parse_local(when, zone, &ms, err, sizeof err);
  free(when);
  if (bad) {
    fprintf(stderr,
            "parley serve: test_clock = '%s' is not a time like \"2026-03-02 15:00\" or "
            "\"2026-03-02 10:00 America/New_York\"%s%s\n",
            value, n >= 2 ? ": " : "", n >= 2 ? err : "");
    return -1;
  }
  wall_clock_start_at(ms);
  log_event(LOG_WARN, "test_clock", "starts_at", value, NULL);
  return 0;
}

/* --watch: each bot folder in dir is watched for changes (with the shared
 * lib/ folder beside them). */
static void watch_bot_folders(const char *dir, server *s) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *ent;
  while ((ent = readdir(d))) {
    if (ent->d_name[0] == '.' || strcmp(ent->d_name, "lib") == 0)
      continue; /* lib/: shared */
    char *path = xasprintf("%s/%s", dir, ent->d_name);
    char *lua = xasprintf("%s/bot.lua", path);
    struct stat st;
    if (stat(lua, &st) == 0) server_watch(s, path);
    free(path);
    free(lua);
  }
  closedir(d);
}

/* serve's own options; a setting's flag is OPT_SETTING + its place in
 * the table serve_options makes */
enum { OPT_CONFIG = 256, OPT_PRINT_CONFIG, OPT_WATCH, OPT_SETTING = 512 };

/* The getopt_long table: serve's own options, then each setting's key as
 * --key VALUE, written with '-' for '_' (--public-url) or as the key is
 * (--public_url). Secrets are in it too, so that settings_set_flag refuses
 * them by name. flags[i] is the table's i-th option as written ("--db"). */
typedef struct serve_options {
  struct option *longs;
  char **flags;
  int n;
} serve_options;

static void add_option(serve_options *t, const char *name, int has_arg, int val) {
  t->longs = xrealloc(t->longs, (size_t)(t->n + 2) * sizeof *t->longs);
  t->flags = xrealloc(t->flags, (size_t)(t->n + 1) * sizeof *t->flags);
  t->flags[t->n] = xasprintf("--%s", name);
  t->longs[t->n] = (struct option){t->flags[t->n] + 2, has_arg, NULL, val};
  t->n++;
  t->longs[t->n] = (struct option){0};
}

static serve_options serve_options_make(void) {
  serve_options t = {0};
  add_option(&t, "config", required_argument, OPT_CONFIG);
  add_option(&t, "print-config", no_argument, OPT_PRINT_CONFIG);
  add_option(&t, "watch", no_argument, OPT_WATCH);
  add_option(&t, "help", no_argument, 'h');
  const char *key;
  for (int i = 0; (key = settings_key(i)); i++) {
    char *dashed = xstrdup(key);
    for (char *p = dashed; *p; p++)
      if (*p == '_') *p = '-';
    add_option(&t, dashed, required_argument, OPT_SETTING + t.n);
    if (strcmp(dashed, key) != 0) add_option(&t, key, required_argument, OPT_SETTING + t.n);
    free(dashed);
  }
  return t;
}

static void serve_options_free(serve_options *t) {
  for (int i = 0; i < t->n; i++) free(t->flags[i]);
  free(t->flags);
  free(t->longs);
}

/* An unknown option as written, without what follows '=' (a mistyped
 * secret's flag must not print the secret). */
static void unknown_option(const char *element) {
  const char *eq = strncmp(element, "--", 2) == 0 ? strchr(element, '=') : NULL;
  int n = eq ? (int)(eq - element) : (int)strlen(element);
  fprintf(stderr, "parley serve: unknown option '%.*s'\n", n, element);
}

/* The command line, then the config file and the environment (a flag wins
 * over both). 0 to serve; 1 when done (--help: exit 0); -1 on a problem,
 * on stderr (exit 2). */
static int read_options(int argc, char **argv, int *print) {
  serve_options t = serve_options_make();
  cli_options o = {.argc = argc, .argv = argv, .verb = "serve", .shorts = "h",
                   .longs = t.longs, .quiet = 1};
  const char *config = NULL;
  int rc = 0, c;
  while (!rc && (c = cli_option(&o)) != -1) {
    switch (c) {
    case 'h':
      usage(stdout);
      rc = 1;
      break;
    case OPT_CONFIG:
      config = o.arg;
      break;
    case OPT_PRINT_CONFIG:
      *print = 1;
      break;
    case OPT_WATCH:
      watch = 1;
      break;
    case 1:
      fprintf(stderr, "parley serve: unexpected argument '%s'\n", o.arg);
      rc = -1;
      break;
    case ':': /* --config, or a setting, without its value */
      if (strcmp(o.arg, "--config") == 0)
        fprintf(stderr, "parley serve: missing a value for '%s'\n", o.arg);
      else
        settings_set_flag(o.arg, NULL);
      rc = -1;
      break;
    case '?':
      unknown_option(o.arg);
      rc = -1;
      break;
    default: /* a setting */
      if (settings_set_flag(t.flags[c - OPT_SETTING], o.arg)) rc = -1;
    }
  }
  serve_options_free(&t);
  if (rc) return rc;
  if (config && settings_read_file(config)) return -1;
  settings_read_env();
  return 0;
}

int cli_serve(int argc, char **argv) {
  int print = 0;
  int read = read_options(argc, argv, &print);
  if (read) return read > 0 ? 0 : 2;
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
  if (start_test_clock(setting("test_clock"))) return 2;
  long max_body, deadline, concurrency, attempts, send_timeout, session_hours;
  long body_memory, max_connections, per_address, request_deadline, lease_ms;
  if (whole_setting("max_body", 1024, 16 << 20, &max_body) ||
      whole_setting("reply_deadline_ms", 0, 600000, &deadline) ||
      whole_setting("send_concurrency", 1, 1024, &concurrency) ||
      whole_setting("send_attempts", 1, 100, &attempts) ||
      whole_setting("send_timeout_ms", 1, 300000, &send_timeout) ||
      whole_setting("max_body_memory", max_body + 1, 1L << 40, &body_memory) ||
      whole_setting("max_connections", 1, 1000000, &max_connections) ||
      whole_setting("max_connections_per_address", 0, max_connections, &per_address) ||
      whole_setting("request_deadline_ms", 100, 3600000, &request_deadline) ||
      whole_setting("node_lease_ms", 300, 60000, &lease_ms) ||
      whole_setting("console_session_hours", 1, 720, &session_hours))
    return 2;
  long threads = engine_threads_auto();
  if (strcmp(setting("engine_threads"), "auto") != 0 &&
      whole_setting("engine_threads", 1, 64, &threads))
    return 2;
  if (log_setup(setting("log_level"), setting("log_format"))) {
    fprintf(stderr, "parley serve: log_level must be debug, info, warn or error and log_format "
                    "logfmt or json (got '%s', '%s')\n",
            setting("log_level"), setting("log_format"));
    return 2;
  }
  const char *db = setting("db");
  char *slash = sql_is_postgres_target(db) ? NULL : strrchr(db, '/');
  if (slash) {
    char *dir = xstrndup(db, (size_t)(slash - db));
    mkdir(dir, 0700);
    free(dir);
  }
  char err[4096];
  engine_options opt = {.db_path = db, .outbox = 1, .serving = 1, .bot_env = serve_bot_env,
                        .engine_threads = (int)threads, .link_base = link_base};
  engine *e = engine_open(&opt, err, sizeof err);
  if (!e) {
    fprintf(stderr, "parley serve: %s\n", err);
    return 1;
  }
  /* on PostgreSQL, one node of several: it runs the partitions it holds */
  char node_id[128];
  if (setting("node_id")) snprintf(node_id, sizeof node_id, "%s", setting("node_id"));
  else if (gethostname(node_id, sizeof node_id - 8) == 0)
    snprintf(node_id + strlen(node_id), 8, ":%d", port);
  /* where the other nodes relay this node's conversations' messages */
  const char *address = setting("node_address");
  char relay_host[64];
  int relay_port;
  if (address && (sscanf(address, "%63[^:]:%d", relay_host, &relay_port) != 2 ||
                  relay_port < 1 || relay_port > 65535)) {
    fprintf(stderr, "parley serve: node_address = '%s' is not HOST:PORT like 10.0.0.5:8080\n",
            address);
    engine_close(e);
    return 2;
  }
  if (!address) address = strcmp(host, "0.0.0.0") == 0 ? "" : listen;
  cluster_config cc = {.db_url = db, .node_id = node_id, .address = address,
                       .lease_ms = lease_ms};
  nodes = sql_is_postgres_target(db) ? cluster_start(&cc, e, err, sizeof err) : NULL;
  if (sql_is_postgres_target(db) && !nodes) {
    fprintf(stderr, "parley serve: %s\n", err);
    engine_close(e);
    return 1;
  }
  check_ctx checked = {0};
  int started = deploy_start(e, setting("scripts"), err, sizeof err);
  if (started) fprintf(stderr, "parley serve: %s\n", err);
  if (started || (engine_each_bot_counts(e, check_bot_sending, &checked), checked.bad)) {
    cluster_stop(nodes);
    engine_close(e);
    free_sendings();
    return 1;
  }
  server_config cfg = {.host = host, .port = port,
                       .public_url = setting("public_url"),
                       .secret = secret_setting,
                       .admin_token = setting("admin_token"),
                       .console_session_ms = (int64_t)session_hours * 3600000,
                       .max_body = (size_t)max_body,
                       .max_body_memory = (size_t)body_memory,
                       .max_connections = (unsigned)max_connections,
                       .max_connections_per_address =
                           (unsigned)(per_address ? per_address : max_connections),
                       .request_deadline_ms = request_deadline,
                       .inline_replies = inline_replies,
                       .replay = replay_of,
                       .reply_deadline_ms = deadline,
                       .more_metrics = sender_metrics,
                       .metrics_ud = e,
                       .nodes = nodes};
  server *s = server_start(&cfg, e, err, sizeof err);
  if (!s) {
    fprintf(stderr, "parley serve: %s\n", err);
    cluster_stop(nodes);
    engine_close(e);
    free_sendings();
    return 1;
  }
  running = s; /* before the sender starts: it reports here */
  if (nodes) cluster_on_inbox(nodes, server_inbox_news, s);
  outbox_options oo = {.db_path = db,
                       .max_in_flight = (int)concurrency,
                       .max_attempts = (int)attempts,
                       .timeout_ms = send_timeout,
                       .config_for = config_for,
                       .report = on_report,
                       .apply = engine_apply_side,
                       .partitions = nodes ? sender_partitions : NULL,
                       .ud = e};
  sender = outbox_start(&oo, err, sizeof err);
  if (!sender) {
    fprintf(stderr, "parley serve: %s\n", err);
    server_free(s);
    cluster_stop(nodes);
    engine_close(e);
    free_sendings();
    return 1;
  }
  engine_on_queued(e, outbox_wake, sender);
  fetcher = http_client_open(on_http_done, NULL, err, sizeof err);
  if (fetcher) engine_on_http(e, on_http_start, NULL);
  else fprintf(stderr, "parley serve: %s; http.get/post will refuse\n", err);

  if (watch) watch_bot_folders(setting("scripts"), s);
  struct sigaction sa = {0};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  char shown[512]; /* a database URL's password is not shown */
  sql_shown_target(db, shown, sizeof shown);
  fprintf(stderr, "parley serve: listening on http://%s:%d (database %s)\n", host, port, shown);
  server_run(s);
  fprintf(stderr, "parley serve: stopping\n");
  /* answers in flight are recorded if they come within 5 s (the rest are
   * sent again at the next start); meanwhile what comes in (the sender's
   * reports, requests on connections still open) is handled */
  outbox_begin_stop(sender, 5000);
  while (!outbox_stopped(sender)) server_pump(s, 50);
  /* handlers still waiting for a response run again at the next start */
  engine_on_http(e, NULL, NULL);
  http_client_close(fetcher);
  fetcher = NULL;
  server_pump(s, 0);
  engine_flush(e, err, sizeof err);
  engine_on_queued(e, NULL, NULL);
  outbox_stop(sender, 0);
  sender = NULL;
  server_finish(s);
  running = NULL;
  if (nodes) cluster_on_inbox(nodes, NULL, NULL);
  server_free(s);
  cluster_stop(nodes); /* its partitions are free at once for the other nodes */
  nodes = NULL;
  engine_close(e); /* the last batch is committed; WAL checkpointed on close */
  free_sendings();
  return 0;
}
