#include "settings.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bot_env.h"
#include "provider_registry.h"
#include "sql_db.h"
#include "util.h"

typedef struct setting_def {
  const char *key;    /* in the file, and --key */
  const char *env;    /* PARLEY_... */
  const char *value;  /* effective, server-wide */
  const char *source; /* default, file, env, flag */
  int secret;
  int per_bot;
  const char *help;
} setting_def;

/* the server's settings, then each provider's, then after_providers */
static const setting_def before_providers[] = {
    {"listen", "PARLEY_LISTEN", "127.0.0.1:8080", "default", 0, 0, "address:port to listen on"},
    {"db", "PARLEY_DB", "var/parley.db", "default", 0, 0,
     "the database: a SQLite file, or a PostgreSQL URL (postgresql://USER@HOST:PORT/DB), "
     "which several nodes may share (docs/deploy.md)"},
    {"node_id", "PARLEY_NODE_ID", NULL, "unset", 0, 0,
     "on PostgreSQL: this node's name among the nodes sharing the database, kept across "
     "restarts; unset: HOSTNAME:PORT"},
    {"node_address", "PARLEY_NODE_ADDRESS", NULL, "unset", 0, 0,
     "on PostgreSQL: HOST:PORT the other nodes reach this one at, to relay it the messages "
     "of the conversations it runs; unset: listen, unless its host is 0.0.0.0 (then they "
     "hand them over through the database)"},
    {"node_lease_ms", "PARLEY_NODE_LEASE_MS", "3000", "default", 0, 0,
     "on PostgreSQL: a node that stops renewing its lease for this long is taken for dead and "
     "its conversations move to the other nodes (300 to 60000)"},
    {"scripts", "PARLEY_SCRIPTS", "scripts", "default", 0, 0,
     "folder of bot folders (each with a bot.lua) to serve"},
    {"public_url", "PARLEY_PUBLIC_URL", "http://127.0.0.1:8080", "default", 0, 0,
     "how providers reach this server (the URLs they call, which some sign; status URLs)"},
    {"link_url", "PARLEY_LINK_URL", NULL, "unset", 0, 1,
     "where tracked short links point ({{link \"URL\"}}, c:link): BASE of BASE/l/CODE, a "
     "name that reaches this server (https://go.shop.example); unset: public_url"},
    {"admin_token", "PARLEY_ADMIN_TOKEN", NULL, "unset", 1, 0,
     "bearer token of the admin API (script reload, versions, rollback) and of the console"},
    {"operator_token", "PARLEY_OPERATOR_TOKEN", NULL, "unset", 1, 1,
     "a bot's own: the token its operators sign in to the console with (they see and act on "
     "the bots whose token it is, nothing else)"},
    {"console_session_hours", "PARLEY_CONSOLE_SESSION_HOURS", "12", "default", 0, 0,
     "how long a sign-in to the console lasts (1 to 720 hours)"},
    {"log_level", "PARLEY_LOG", "info", "default", 0, 0,
     "debug (also every message sent), info, warn or error"},
    {"log_format", "PARLEY_LOG_FORMAT", "logfmt", "default", 0, 0,
     "logfmt or json, one line per event"},
    {"max_body", "PARLEY_MAX_BODY", "1048576", "default", 0, 0, "largest request body, bytes"},
    {"engine_threads", "PARLEY_ENGINE_THREADS", "auto", "default", 0, 0,
     "workers running the bots' handlers in parallel, each owning a share of the "
     "conversations (1 to 64; auto: one per core but one, which the writer keeps "
     "busy, at least 1)"},
    {"test_clock", "PARLEY_TEST_CLOCK", NULL, "unset", 0, 0,
     "for tests only: the server's clock starts at this time (\"2026-03-02 15:00\" UTC, or "
     "\"2026-03-02 10:00 America/New_York\") and runs at real speed; unset: the real clock"},
    {"max_body_memory", "PARLEY_MAX_BODY_MEMORY", "67108864", "default", 0, 0,
     "bytes of request bodies held in memory at once, over all connections (503 above)"},
    {"max_connections", "PARLEY_MAX_CONNECTIONS", "1000", "default", 0, 0,
     "connections open at once; requests on connections past it are answered 503"},
    {"max_connections_per_address", "PARLEY_MAX_CONNECTIONS_PER_ADDRESS", "128", "default", 0,
     0, "connections open at once from one client address; more are closed at once"},
    {"request_deadline_ms", "PARLEY_REQUEST_DEADLINE_MS", "10000", "default", 0, 0,
     "a request's headers and body must arrive within this (from the connection's start or "
     "its previous answer), however steadily the bytes come; else it is closed"},
    /* sending */
    {"provider", "PARLEY_PROVIDER", "sim", "default", 0, 1,
     NULL /* made from the registrations: provider_help */},
    {"replay", "PARLEY_REPLAY", "1000", "default", 0, 1,
     "how many real messages (the most recent conversations') a new version is replayed on, "
     "against the running one, before a reload activates it (0 to 100000; 0: none)"},
    {"inline_replies", "PARLEY_INLINE_REPLIES", "on", "default", 0, 1,
     "on: replies to a webhook go back in its answer (in the provider's format); off: "
     "through the provider"},
    {"reply_deadline_ms", "PARLEY_REPLY_DEADLINE_MS", "3000", "default", 0, 0,
     "a webhook still waiting this long for its handler is answered without its replies, "
     "which then go through the provider"},
    {"delivery_reports", "PARLEY_DELIVERY_REPORTS", "on", "default", 0, 1,
     "on: ask the provider for delivery reports (status callbacks, DLRs) at public_url; off: "
     "a message ends at 'sent'"},
};

/* after the providers' own settings (provider_registry.h) */
static const setting_def after_providers[] = {
    {"rate_long_code", "PARLEY_RATE_LONG_CODE", "1", "default", 0, 1,
     "messages a second from one long code (10-digit) number"},
    {"rate_toll_free", "PARLEY_RATE_TOLL_FREE", "3", "default", 0, 1,
     "messages a second from one toll-free number"},
    {"rate_short_code", "PARLEY_RATE_SHORT_CODE", "100", "default", 0, 1,
     "messages a second from one short code"},
    {"rate_unit", "PARLEY_RATE_UNIT", "messages", "default", 0, 1,
     "messages, or segments (a 3-segment message counts 3)"},
    {"send_concurrency", "PARLEY_SEND_CONCURRENCY", "64", "default", 0, 0,
     "requests to providers in flight at once"},
    {"send_attempts", "PARLEY_SEND_ATTEMPTS", "6", "default", 0, 0,
     "tries (with exponential backoff) before a message fails"},
    {"send_timeout_ms", "PARLEY_SEND_TIMEOUT_MS", "15000", "default", 0, 0,
     "how long one request to a provider may take"},
    /* http from scripts */
    {"http_allow_private", "PARLEY_HTTP_ALLOW_PRIVATE", "off", "default", 0, 1,
     "on: http.get/post may reach loopback and private addresses (127.0.0.1, 10.x, ...); "
     "off: only public ones"},
};
static setting_def *defs;
static int ndefs;
/* owned[i]: what defs[i].value points to when it is ours to free (read
 * from a file), else NULL (a default, the environment's, a flag's). */
static char **owned;
static pthread_once_t defs_once = PTHREAD_ONCE_INIT;

/* A setting several providers read is listed once, where the first names it. */
static void add_def(setting_def d) {
  for (int i = 0; i < ndefs; i++)
    if (strcmp(defs[i].key, d.key) == 0) return;
  defs = xrealloc(defs, (size_t)(ndefs + 1) * sizeof *defs);
  defs[ndefs++] = d;
}

static void add_provider_setting(const provider_setting *p) {
  add_def((setting_def){p->key, p->env, p->value, p->value ? "default" : "unset", p->secret,
                        p->per_bot, p->help});
}

/* The provider setting's help: "how SMS go out: sim (what it is),
 * twilio, ... or webhook", from the registrations of SMS providers (other
 * channels are set up by their own settings). */
static char *provider_help(void) {
  buf b = {0};
  buf_puts(&b, "how SMS go out: ");
  size_t n = 0, k = 0;
  for (size_t i = 0; provider_registrations[i]; i++)
    n += provider_registrations[i]->channel == CHANNEL_SMS;
  for (size_t i = 0; provider_registrations[i]; i++) {
    const provider_registration *p = provider_registrations[i];
    if (p->channel != CHANNEL_SMS) continue;
    if (k++) buf_puts(&b, k < n ? ", " : " or ");
    buf_puts(&b, p->name);
    if (p->about) buf_printf(&b, " (%s)", p->about);
  }
  return b.data;
}

/* The table: ours, and the settings each registered provider reads (its
 * own, then those it shares with others). */
static void defs_make(void) {
  for (size_t i = 0; i < sizeof before_providers / sizeof *before_providers; i++)
    add_def(before_providers[i]);
  for (size_t i = 0; provider_registrations[i]; i++) {
    const provider_registration *r = provider_registrations[i];
    for (const provider_setting *p = r->settings; p && p->key; p++) add_provider_setting(p);
    for (const provider_setting *const *p = r->shared_settings; p && *p; p++)
      add_provider_setting(*p);
  }
  for (size_t i = 0; i < sizeof after_providers / sizeof *after_providers; i++)
    add_def(after_providers[i]);
  for (int i = 0; i < ndefs; i++) /* kept: the table lives as long as the process */
    if (strcmp(defs[i].key, "provider") == 0) defs[i].help = provider_help();
  owned = xcalloc((size_t)ndefs, sizeof *owned);
}

static int defs_count(void) {
  pthread_once(&defs_once, defs_make);
  return ndefs;
}
#define NDEFS defs_count()

/* values given for one bot */
typedef struct bot_value {
  const setting_def *of;
  char *bot;          /* normalized: FANCLUB */
  char *value;
  const char *source;
} bot_value;
static bot_value *bot_values;
static size_t nbot_values;

/* The config file (read again for each bot version: its env.NAME lines),
 * and the env.NAME lines it had at start, for --print-config: names only. */
static char *config_path;
typedef struct file_env {
  char *bot;  /* normalized */
  char *name; /* normalized */
} file_env;
static file_env *file_envs;
static size_t nfile_envs;

/* A new server-wide value (mine: value when it is ours, else NULL): the one
 * it replaces is freed if it was ours. */
static void set_value(setting_def *d, const char *value, char *mine, const char *source) {
  size_t i = (size_t)(d - defs);
  free(owned[i]);
  owned[i] = mine;
  d->value = value;
  d->source = source;
}

static setting_def *find(const char *key) {
  for (int i = 0; i < NDEFS; i++)
    if (strcmp(defs[i].key, key) == 0) return &defs[i];
  return NULL;
}

/* FANCLUB for fanclub, SHOP_EU for shop-eu. */
static char *normalized(const char *bot) {
  char *up = xstrdup(bot);
  for (char *p = up; *p; p++) *p = isalnum((unsigned char)*p) ? (char)toupper((unsigned char)*p) : '_';
  return up;
}

static bot_value *own(const setting_def *d, const char *up) {
  for (size_t i = 0; i < nbot_values; i++)
    if (bot_values[i].of == d && strcmp(bot_values[i].bot, up) == 0) return &bot_values[i];
  return NULL;
}

/* Sets a bot's value (a later source replaces an earlier one). Takes value. */
static void set_own(const setting_def *d, const char *up, char *value, const char *source) {
  bot_value *v = own(d, up);
  if (!v) {
    bot_values = xrealloc(bot_values, (nbot_values + 1) * sizeof *bot_values);
    v = &bot_values[nbot_values++];
    *v = (bot_value){d, xstrdup(up), NULL, NULL};
  }
  free(v->value);
  v->value = value;
  v->source = source;
}

const char *setting(const char *key) {
  const setting_def *d = find(key);
  return d ? d->value : NULL;
}

const char *setting_own(const char *bot, const char *key) {
  const setting_def *d = find(key);
  if (!d || !d->per_bot || !bot) return NULL;
  char *up = normalized(bot);
  const bot_value *v = own(d, up);
  free(up);
  return v ? v->value : NULL;
}

const char *setting_for(const char *bot, const char *key) {
  const char *v = setting_own(bot, key);
  return v ? v : setting(key);
}

static char *trim(char *s) {
  while (*s == ' ' || *s == '\t') s++;
  char *e = s + strlen(s);
  while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r')) *--e = 0;
  return s;
}

/* The next line at *cursor (its newline cut), or NULL at the end; empty
 * lines are lines, so file:line counts them. */
static char *next_line(char **cursor) {
  char *l = *cursor;
  if (!l || !*l) return NULL;
  char *nl = strchr(l, '\n');
  if (nl) *nl = 0;
  *cursor = nl ? nl + 1 : l + strlen(l);
  return l;
}

int settings_read_file(const char *path) {
  size_t len;
  char *text = read_file(path, &len);
  if (!text) {
    fprintf(stderr, "parley serve: %s: cannot read: %s\n", path, strerror(errno));
    return -1;
  }
  int line = 0, rc = 0;
  char *bot = NULL; /* inside [bot NAME]: NAME, normalized */
  char *cursor = text;
  for (char *l = next_line(&cursor); l; l = next_line(&cursor)) {
    line++;
    char *t = trim(l);
    if (!*t || *t == '#') continue;
    if (*t == '[') {
      char name[128];
      free(bot);
      bot = NULL;
      if (sscanf(t, "[bot %127[^] ]]", name) == 1) {
        bot = normalized(name);
      } else {
        fprintf(stderr, "%s:%d: '%s' is not a section; the only one is [bot NAME]\n", path, line,
                t);
        rc = -1;
      }
      continue;
    }
    char *eq = strchr(t, '=');
    if (!eq && bot) { /* not shown: a line of a bot's settings may hold a secret */
      fprintf(stderr, "%s:%d: a line of [bot %s] is not key = value (like env.NAME = value)\n",
              path, line, bot);
      rc = -1;
      continue;
    }
    if (!eq) {
      fprintf(stderr, "%s:%d: '%s' is not key = value\n", path, line, t);
      rc = -1;
      continue;
    }
    *eq = 0;
    char *key = trim(t), *value = trim(eq + 1);
    setting_def *d = find(key);
    char name[BOT_ENV_NAME_MAX + 1];
    if (strncmp(key, "env.", 4) == 0) { /* never the value in a message: a secret */
      if (!bot) {
        fprintf(stderr, "%s:%d: %s belongs in a [bot NAME] section (a setting of that bot's "
                        "script)\n", path, line, key);
        rc = -1;
      } else if (bot_env_name(key + 4, strlen(key + 4), name)) {
        fprintf(stderr, "%s:%d: '%.80s' is not env.NAME: a name of 1 to %d characters\n",
                path, line, key, BOT_ENV_NAME_MAX);
        rc = -1;
      } else {
        file_envs = xrealloc(file_envs, (nfile_envs + 1) * sizeof *file_envs);
        file_envs[nfile_envs++] = (file_env){xstrdup(bot), xstrdup(name)};
      }
    } else if (!d) {
      fprintf(stderr, "%s:%d: unknown setting '%s' (parley serve --help lists them%s%s)\n",
              path, line, key, bot ? "; a setting of the bot's script is env." : "",
              bot ? key : "");
      rc = -1;
    } else if (d->secret) {
      fprintf(stderr, "%s:%d: %s is a secret: give it by %s%s (or its _FILE), not in the "
                      "config file\n", path, line, key, d->env, bot ? "_<BOT>" : "");
      rc = -1;
    } else if (bot && !d->per_bot) {
      fprintf(stderr, "%s:%d: %s is server-wide: it cannot be set for one bot\n", path, line,
              key);
      rc = -1;
    } else if (bot) {
      set_own(d, bot, xstrdup(value), "file");
    } else if (strcmp(d->source, "flag") != 0) { /* a flag wins, read before or after */
      char *copy = xstrdup(value);
      set_value(d, copy, copy, "file");
    }
  }
  free(bot);
  explicit_bzero(text, len); /* it may hold bot.env values */
  free(text);
  free(config_path);
  config_path = xstrdup(path);
  return rc;
}

/* The config file's env.NAME lines of [bot BOT] (normalized) into out. */
static int read_file_env(const char *path, const char *bot, bot_env *out, char *err,
                         size_t errlen) {
  size_t len;
  char *text = read_file(path, &len);
  if (!text) {
    snprintf(err, errlen, "the config file %s cannot be read for bot.env: %s", path,
             strerror(errno));
    return -1;
  }
  int line = 0, rc = 0, mine = 0;
  char *cursor = text;
  for (char *l = next_line(&cursor); l && !rc; l = next_line(&cursor)) {
    line++;
    char *t = trim(l);
    char section[128];
    if (*t == '[') {
      mine = 0;
      if (sscanf(t, "[bot %127[^] ]]", section) == 1) {
        char *up = normalized(section);
        mine = strcmp(up, bot) == 0;
        free(up);
      }
      continue;
    }
    char *eq = strchr(t, '=');
    if (!mine || !eq || strncmp(t, "env.", 4) != 0) continue;
    *eq = 0;
    char *key = trim(t);
    if (bot_env_set(out, key + 4, trim(eq + 1))) {
      snprintf(err, errlen, "%s:%d: '%.80s' is not env.NAME: a name of 1 to %d characters",
               path, line, key, BOT_ENV_NAME_MAX);
      rc = -1;
    }
  }
  explicit_bzero(text, len); /* it holds bot.env values */
  free(text);
  return rc;
}

extern char **environ;

int settings_bot_env(const char *bot, bot_env *out, char *err, size_t errlen) {
  char *up = normalized(bot);
  int rc = config_path ? read_file_env(config_path, up, out, err, errlen) : 0;
  free(up);
  if (rc) return -1;
  size_t nfolders;
  const char *scripts = setting("scripts");
  char **folders = scripts ? bot_env_bot_folders(scripts, &nfolders) : NULL;
  if (!folders) nfolders = 0;
  bot_env_from_environ(out, environ, bot, (const char *const *)folders, nfolders);
  bot_env_free_names(folders, nfolders);
  return 0;
}

/* env.NAME lines and PARLEY_BOT_* variables, by name, never by value. */
static void print_bot_env(FILE *f) {
  for (size_t i = 0; i < nfile_envs; i++)
    fprintf(f, "env.%-24s = %-28s # file; bot %s's script reads bot.env.%s; env PARLEY_BOT_%s_%s\n",
            file_envs[i].name, BOT_ENV_MASK, file_envs[i].bot, file_envs[i].name,
            file_envs[i].bot, file_envs[i].name);
  size_t nfolders;
  const char *scripts = setting("scripts");
  char **folders = scripts ? bot_env_bot_folders(scripts, &nfolders) : NULL;
  if (!folders) nfolders = 0;
  for (char **ev = environ; *ev; ev++) {
    const char *eq = strchr(*ev, '=');
    if (!eq || strncasecmp(*ev, "PARLEY_BOT_", 11) != 0) continue;
    char *var = xstrndup(*ev, (size_t)(eq - *ev));
    /* whose it is: the bot that reads it (the longest name that fits) */
    const char *owner = NULL;
    const char *name = NULL;
    for (size_t i = 0; i < nfolders; i++) {
      bot_env one = {0};
      char *const single[] = {*ev, NULL};
      bot_env_from_environ(&one, single, folders[i], (const char *const *)folders, nfolders);
      if (one.n) {
        owner = folders[i];
        name = xstrdup(one.names[0]);
      }
      bot_env_clear(&one);
      if (owner) break;
    }
    if (owner)
      fprintf(f, "env.%-24s = %-28s # env; bot %s's script reads bot.env.%s; env %s\n", name,
              BOT_ENV_MASK, owner, name, var);
    else
      fprintf(f, "# env %s = %s: no bot folder in %s takes it (PARLEY_BOT_<BOT>_<NAME>)\n", var,
              BOT_ENV_MASK, scripts ? scripts : "(no scripts folder)");
    free((char *)name);
    free(var);
  }
  bot_env_free_names(folders, nfolders);
}

/* The first line of a file named by an environment variable, or NULL. */
static char *value_from_file(const char *var, const char *path) {
  char *text = read_file(path, NULL);
  if (!text) {
    fprintf(stderr, "parley serve: %s: cannot read %s: %s\n", var, path, strerror(errno));
    return NULL;
  }
  char *t = trim(text);
  memmove(text, t, strlen(t) + 1);
  return text;
}

static int is_server_wide_env(const char *name, size_t n) {
  for (int i = 0; i < NDEFS; i++) {
    size_t k = strlen(defs[i].env);
    if (n == k && strncmp(name, defs[i].env, k) == 0) return 1;
    if (n == k + 5 && strncmp(name, defs[i].env, k) == 0 && strncmp(name + k, "_FILE", 5) == 0)
      return 1;
  }
  return 0;
}

/* PARLEY_<KEY>_<BOT> and PARLEY_<KEY>_<BOT>_FILE; values win over _FILE. */
static void read_bot_env(void) {
  for (int pass = 0; pass < 2; pass++)
    for (char **ev = environ; *ev; ev++) {
      const char *eq = strchr(*ev, '=');
      if (!eq || !eq[1] || is_server_wide_env(*ev, (size_t)(eq - *ev))) continue;
      for (int i = 0; i < NDEFS; i++) {
        const setting_def *d = &defs[i];
        size_t n = strlen(d->env);
        if (!d->per_bot || strncmp(*ev, d->env, n) != 0 || (*ev)[n] != '_') continue;
        char *var = xstrndup(*ev, (size_t)(eq - *ev));
        char *bot = xstrdup(var + n + 1);
        size_t bl = strlen(bot);
        int file = bl > 5 && strcmp(bot + bl - 5, "_FILE") == 0;
        if (file) bot[bl - 5] = 0;
        if (file == pass && *bot && !(pass == 1 && own(d, bot))) {
          char *value = file ? value_from_file(var, eq + 1) : xstrdup(eq + 1);
          if (value && *value)
            set_own(d, bot, value, file ? "file (env _FILE)" : "env");
          else
            free(value);
        }
        free(bot);
        free(var);
      }
    }
}

void settings_read_env(void) {
  for (int i = 0; i < NDEFS; i++) {
    if (strcmp(defs[i].source, "flag") == 0) continue; /* a flag wins */
    const char *v = getenv(defs[i].env);
    char *name = xasprintf("%s_FILE", defs[i].env);
    const char *file = getenv(name);
    if (v && *v) {
      set_value(&defs[i], v, NULL, "env");
    } else if (file && *file) {
      char *text = value_from_file(name, file);
      if (text) {
        set_value(&defs[i], text, text, "file (env _FILE)");
      }
    }
    free(name);
  }
  read_bot_env();
}

int settings_set_flag(const char *flag, const char *value) {
  char *key = xstrdup(flag + 2);
  for (char *p = key; *p; p++)
    if (*p == '-') *p = '_';
  setting_def *d = find(key);
  free(key);
  if (!d || d->secret || !value) {
    fprintf(stderr, "parley serve: %s '%s'%s\n",
            !d ? "unknown option" : d->secret ? "a secret cannot be a flag:" : "missing a value for",
            flag, d && d->secret ? " (use the environment)" : "");
    return -1;
  }
  set_value(d, value, NULL, "flag");
  return 0;
}

const char *settings_key(int i) { return i >= 0 && i < NDEFS ? defs[i].key : NULL; }

void settings_print(FILE *f) {
  for (int i = 0; i < NDEFS; i++) {
    const setting_def *d = &defs[i];
    char url[512]; /* a database URL's password is not shown */
    const char *shown = !d->value ? "(unset)" : d->secret ? "********" : d->value;
    if (d->value && !d->secret && sql_is_postgres_target(d->value)) {
      sql_shown_target(d->value, url, sizeof url);
      shown = url;
    }
    fprintf(f, "%-28s = %-28s # %s; %s; env %s\n", d->key, shown, d->source, d->help, d->env);
  }
  for (size_t i = 0; i < nbot_values; i++) {
    const bot_value *v = &bot_values[i];
    fprintf(f, "%-28s = %-28s # %s; bot %s's own; env %s_%s\n", v->of->key,
            v->of->secret ? "********" : v->value, v->source, v->bot, v->of->env, v->bot);
  }
  print_bot_env(f);
}

void settings_usage(FILE *f) {
  for (int i = 0; i < NDEFS; i++)
    fprintf(f, "  %-28s %s%s%s (%s)\n", defs[i].key, defs[i].help,
            defs[i].secret ? "; environment only" : "", defs[i].per_bot ? "; per bot" : "",
            defs[i].env);
}
