/* sim_commands: the simulator's /commands. Each is a function with the
 * arguments it takes written once, in the table at the end: /help lists
 * it, and a bad argument is answered with the input and that usage. */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "clock.h"
#include "contact_setup.h"
#include "sim.h"
#include "store.h"

typedef struct command {
  const char *name, *args, *help;
  int (*run)(sim *s, const struct command *c, char *arg);
} command;

static void usage_error(sim *s, const command *c, const char *fmt, const char *bad) {
  char what[1400];
  snprintf(what, sizeof what, fmt, bad);
  sim_complain(s, "/%s: %s (usage: /%s%s%s)", c->name, what, c->name,
               *c->args ? " " : "", c->args);
}

static int no_argument(sim *s, const command *c, const char *arg) {
  if (!*arg) return 1;
  usage_error(s, c, "unexpected '%s'", arg);
  return 0;
}

static void show_clock_moved(sim *s) {
  char t[64];
  clock_format_local(s->now, s->zone, t, sizeof t);
  fprintf(s->out, "%s  . clock: %s %s%s\n", sim_dim_on(s), t, s->zone, sim_dim_off(s));
}

/* ---------------------------------------------------------------- the fan, the clock
 */

static int cmd_as(sim *s, const command *c, char *arg) {
  if (!sim_valid_number(arg))
    usage_error(s, c, "'%s' is not a number like +15550002", arg);
  else
    snprintf(s->fan, sizeof s->fan, "%s", arg);
  return 0;
}

/* The same fan on another channel: whatsapp:+15550001 for +15550001 (a
 * Messenger or Instagram id is the number's digits). */
static int cmd_channel(sim *s, const command *c, char *arg) {
  int ch = channel_named(arg);
  if (ch < 0) {
    usage_error(s, c, "'%s' is not a channel (sms, whatsapp, messenger or instagram)", arg);
    return 0;
  }
  const char *id = channel_id(s->fan);
  id += *id == '+' && !channel_has_number((channel)ch);
  char fan[sizeof s->fan];
  snprintf(fan, sizeof fan, "%s%s%s", channel_prefix((channel)ch),
           channel_has_number((channel)ch) && *id != '+' ? "+" : "", id);
  snprintf(s->fan, sizeof s->fan, "%s", fan);
  fprintf(s->out, "%s  . you are %s%s\n", sim_dim_on(s), s->fan, sim_dim_off(s));
  return 0;
}

static int cmd_advance(sim *s, const command *c, char *arg) {
  int64_t d = clock_parse_duration(arg);
  if (d < 0) {
    usage_error(s, c, "'%s' is not a duration like 90s, 15m, 2h, 3d, 1w", arg);
  } else if (s->now + d > CLOCK_MAX_SECONDS * 1000) {
    usage_error(s, c, "%s would move the clock past the end of 9999", arg);
  } else {
    record_step(&s->rec, xasprintf("~ %s", arg));
    char err[1024];
    if (http_mocks_advance(s->http, s->e, s->now + d, err, sizeof err))
      fprintf(s->err, "parley sim: %s\n", err);
    s->now += d;
    record_step_end(&s->rec);
    show_clock_moved(s);
  }
  return 0;
}

static int cmd_clock(sim *s, const command *c, char *arg) {
  if (!no_argument(s, c, arg)) return 0;
  char t[64];
  clock_format_local(s->now, s->zone, t, sizeof t);
  fprintf(s->out, "%s %s\n", t, s->zone);
  return 0;
}

/* ---------------------------------------------------------------- looking at the store
 */

static int cmd_state(sim *s, const command *c, char *arg) {
  if (!no_argument(s, c, arg)) return 0;
  contact_row r = {0};
  if (store_contact_get(engine_store(s->e), bot_id(s->b), s->fan, &r) <= 0) {
    fprintf(s->out, "%s has not texted this bot yet\n", s->fan);
    return 0;
  }
  fprintf(s->out, "contact  %s (%s)\n", r.number, r.status);
  fprintf(s->out, "fields   %s\n", r.fields);
  fprintf(s->out, "tags     %s\n", r.tags);
  fprintf(s->out, "state    %s\n", r.state);
  fprintf(s->out, "expect   %s\n", r.expect ? r.expect : "-");
  if (r.timezone) fprintf(s->out, "timezone %s\n", r.timezone);
  char *st = store_bot_store_get(engine_store(s->e), bot_id(s->b), NULL);
  fprintf(s->out, "bot.store %s\n", st);
  free(st);
  contact_row_free(&r);
  return 0;
}

static void print_contact(void *ud, const contact_row *r) {
  sim *s = ud;
  fprintf(s->out, "%s%s  %s  fields %s  tags %s%s%s\n",
         strcmp(r->number, s->fan) == 0 ? "* " : "  ", r->number, r->status, r->fields,
         r->tags, r->timezone ? "  tz " : "", r->timezone ? r->timezone : "");
}

static int cmd_contacts(sim *s, const command *c, char *arg) {
  if (!no_argument(s, c, arg)) return 0;
  long n = store_contact_count(engine_store(s->e), bot_id(s->b));
  fprintf(s->out, "%ld contact%s\n", n, n == 1 ? "" : "s");
  store_contacts_each(engine_store(s->e), bot_id(s->b), print_contact, s);
  return 0;
}

static int cmd_broadcasts(sim *s, const command *c, char *arg) {
  if (!no_argument(s, c, arg)) return 0;
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
    fprintf(s->out, 
        "#%lld %s: sent %ld, held %ld, suppressed %ld, failed %ld, not opted in %ld "
        "(next turn %s) %s\n",
        (long long)br.id, br.status, br.sent, br.held, br.suppressed, br.failed,
        br.not_opted_in, when, br.text);
    broadcast_row_free(&br);
    shown++;
  }
  if (!shown) fprintf(s->out, "no broadcasts\n");
  return 0;
}

/* "1d2h", "59m", "30s": how far ahead a due time is. */
static void format_ahead(int64_t ms, char *out, size_t n) {
  if (ms <= 0) {
    snprintf(out, n, "now");
    return;
  }
  int64_t secs = (ms + 999) / 1000;
  long long d = secs / 86400, h = secs % 86400 / 3600, m = secs % 3600 / 60,
            sec = secs % 60;
  size_t used = 0;
  snprintf(out, n, "in ");
  used = strlen(out);
  if (d) used += (size_t)snprintf(out + used, n - used, "%lldd", d);
  if (h && used < n) used += (size_t)snprintf(out + used, n - used, "%lldh", h);
  if (m && used < n) used += (size_t)snprintf(out + used, n - used, "%lldm", m);
  if (sec && used < n) snprintf(out + used, n - used, "%llds", sec);
}

static void print_due(sim *s, int64_t at) {
  char when[64], ahead[64];
  clock_format_local(at, s->zone, when, sizeof when);
  format_ahead(at - s->now, ahead, sizeof ahead);
  fprintf(s->out, ", due %s %s (%s)\n", when, s->zone, ahead);
}

static void print_timer(sim *s, const timer_row *t) {
  const char *whose = t->number ? t->number : "the bot";
  if (strncmp(t->handler, "drip:", 5) == 0) {
    json_t *args = json_loads(t->args ? t->args : "null", 0, NULL);
    json_int_t step = json_integer_value(json_object_get(args, "step"));
    json_decref(args);
    fprintf(s->out, "drip %s step %lld for %s", t->handler + 5, (long long)step, whose);
  } else if (t->kind && strcmp(t->kind, "every") == 0) {
    fprintf(s->out, "every \"%s\" %s for %s", t->spec ? t->spec : "", t->handler, whose);
  } else {
    fprintf(s->out, "timer #%lld %s for %s", (long long)t->id, t->handler, whose);
  }
  print_due(s, t->due_at);
}

static int cmd_timers(sim *s, const command *c, char *arg) {
  if (!no_argument(s, c, arg)) return 0;
  enum { MAX_SHOWN = 200 };
  store_reader *st = engine_store(s->e);
  timer_row *timers = NULL;
  held_row *held = NULL;
  size_t nt = 0, nh = 0;
  int64_t end = CLOCK_MAX_SECONDS * 1000;
  if (store_timers_due(st, bot_id(s->b), end, NULL, MAX_SHOWN + 1, &timers, &nt) ||
      store_held_due(st, bot_id(s->b), end, NULL, MAX_SHOWN + 1, &held, &nh)) {
    fprintf(s->err, "parley sim: %s\n", store_error(st));
    s->errors++;
  }
  for (size_t i = 0; i < nt && i < MAX_SHOWN; i++) print_timer(s, &timers[i]);
  if (nt > MAX_SHOWN) fprintf(s->out, "... and more timers\n");
  for (size_t i = 0; i < nh && i < MAX_SHOWN; i++) {
    fprintf(s->out, "held for %s (quiet hours): %s", held[i].number, held[i].text);
    print_due(s, held[i].send_at);
  }
  if (nh > MAX_SHOWN) fprintf(s->out, "... and more held messages\n");
  if (!nt && !nh) fprintf(s->out, "no pending timers or drip steps\n");
  for (size_t i = 0; i < nt; i++) timer_row_free(&timers[i]);
  for (size_t i = 0; i < nh; i++) {
    free(held[i].number);
    free(held[i].text);
  }
  free(timers);
  free(held);
  return 0;
}

/* ---------------------------------------------------------------- what a transcript
 * sets up */

static int cmd_http(sim *s, const command *c, char *arg) {
  char err[1024];
  if (http_mocks_add(s->http, arg, err, sizeof err)) {
    usage_error(s, c, "%s", err);
    return 0;
  }
  char *line = xasprintf("@http %s", arg);
  record_setup(&s->rec, line);
  free(line);
  return 0;
}

/* /event TYPE {JSON}: the current fan's triggered event. */
static int cmd_event(sim *s, const command *c, char *arg) {
  if (!*arg) {
    usage_error(s, c, "%s", "missing the event's TYPE");
    return 0;
  }
  char *data = arg;
  while (*data && *data != ' ') data++;
  if (*data) *data++ = 0;
  while (*data == ' ') data++;
  if (*data) {
    json_error_t jerr;
    json_t *check = json_loads(data, 0, &jerr);
    int is_object = json_is_object(check);
    json_decref(check);
    if (!is_object) {
      usage_error(s, c, "the data is not a JSON object: %s", data);
      return 0;
    }
  }
  char err[1024], *event_data = NULL; /* as the HTTP API takes it */
  if (engine_event_check(arg, *data ? data : NULL, &event_data, err, sizeof err)) {
    char what[1400];
    snprintf(what, sizeof what, "'%.200s': %s", arg, err);
    usage_error(s, c, "%s", what);
    return 0;
  }
  record_step(&s->rec,
              xasprintf("@event %s %s%s%s", s->fan, arg, *data ? " " : "", data));
  inbound in = {.from = s->fan, .event_type = arg, .event_data = event_data};
  if (engine_handle(s->e, s->b, &in, 1, err, sizeof err)) {
    fprintf(s->err, "parley sim: %s\n", err);
    s->errors++;
  }
  free(event_data);
  sim_answer_http(s);
  record_step_end(&s->rec);
  return 0;
}

/* /click URL [user agent]: the current fan opens the newest link to URL
 * it was sent (as @click). */
static int cmd_click(sim *s, const command *c, char *arg) {
  char *agent = arg;
  while (*agent && *agent != ' ') agent++;
  if (*agent) *agent++ = 0;
  while (*agent == ' ') agent++;
  if (!*arg) {
    usage_error(s, c, "%s", "missing the link's URL");
    return 0;
  }
  char err[1024];
  record_step(&s->rec, xasprintf("@click %s %s%s%s", s->fan, arg, *agent ? " " : "", agent));
  int found = engine_click(s->e, s->b, s->fan, arg, *agent ? agent : ENGINE_PHONE_AGENT, err,
                           sizeof err);
  if (found < 0) {
    fprintf(s->err, "parley sim: %s\n", err);
    s->errors++;
  } else if (!found) {
    sim_complain(s, "/click: %s was sent no link to %s", s->fan, arg);
    free(s->rec.step); /* nothing happened: not a step of the transcript */
    s->rec.step = NULL;
  }
  sim_answer_http(s);
  record_step_end(&s->rec);
  return 0;
}

/* /contact NUMBER key=value...: as a transcript's @contact. */
static int cmd_contact(sim *s, const command *c, char *arg) {
  char *line = xasprintf("@contact %s", arg);
  char *save = NULL;
  char *number = strtok_r(arg, " \t", &save);
  if (!number || !sim_valid_number(number)) {
    if (number)
      usage_error(s, c, "'%s' is not a number like +15550001", number);
    else
      usage_error(s, c, "%s", "missing the contact's NUMBER");
    free(line);
    return 0;
  }
  contact_setup cs;
  char err[1024];
  if (contact_setup_read(save, &cs, err, sizeof err)) {
    usage_error(s, c, "%s", err);
    free(line);
    return 0;
  }
  record_step(&s->rec, line);
  int rc = engine_set_contact(s->e, s->b, number, cs.status, cs.fields_json, cs.tags_json,
                              cs.tz, err, sizeof err);
  if (rc > 0) { /* refused: nothing written, nothing to replay */
    free(s->rec.step);
    s->rec.step = NULL;
    usage_error(s, c, "%s", err);
  } else if (rc < 0) {
    fprintf(s->err, "parley sim: %s\n", err);
    s->errors++;
  }
  record_step_end(&s->rec);
  if (rc == 0)
    fprintf(s->out, "%s  . contact %s set%s\n", sim_dim_on(s), number, sim_dim_off(s));
  contact_setup_free(&cs);
  return 0;
}

static int cmd_seed(sim *s, const command *c, char *arg) {
  char *end;
  errno = 0;
  long long n = strtoll(arg, &end, 10);
  if (!*arg) {
    usage_error(s, c, "%s", "missing the seed N");
    return 0;
  }
  if (*end || errno) {
    usage_error(s, c, "'%s' is not a whole number", arg);
    return 0;
  }
  s->seeded = 1;
  s->seed = n;
  engine_seed_random(s->e, s->b, n);
  char *line = xasprintf("@seed %lld", n);
  record_setup(&s->rec, line);
  free(line);
  fprintf(s->out, "%s  . math.random is repeatable: the n-th handler call from now on starts "
         "from (%lld, n)%s\n",
         sim_dim_on(s), n, sim_dim_off(s));
  return 0;
}

/* ---------------------------------------------------------------- the session */

static int cmd_reload(sim *s, const command *c, char *arg) {
  if (!no_argument(s, c, arg)) return 0;
  char err[8192];
  bot *b = engine_load_bot(s->e, s->dir, err, sizeof err);
  if (!b) {
    fprintf(s->err, "%s\n", err);
    sim_complain(
        s, "/reload: the bot is unchanged (the version from before still answers)");
    return 0;
  }
  s->b = b;
  if (s->seeded) engine_seed_random(s->e, b, s->seed); /* counts from 1 again */
  s->rec.reloaded = 1;
  record_comment(&s->rec, "/reload: the steps below ran with a new version of the bot");
  fprintf(s->out, "%s  . reloaded %s%s\n", sim_dim_on(s), s->dir, sim_dim_off(s));
  return 0;
}

static int cmd_save(sim *s, const command *c, char *arg) {
  size_t len = strlen(arg);
  if (!len) {
    usage_error(s, c, "%s", "missing the file to write");
    return 0;
  }
  if (len < 6 || strcmp(arg + len - 5, ".chat") != 0) {
    usage_error(s, c, "'%s' does not end in .chat", arg);
    return 0;
  }
  char err[PATH_MAX + 256];
  if (record_save(&s->rec, bot_env_of(s->b), s->dir, arg, err, sizeof err)) {
    sim_complain(s, "/save: %s", err);
    return 0;
  }
  fprintf(s->out, "%s  . saved the session to %s (parley test %s replays it)%s\n", sim_dim_on(s),
         arg, arg, sim_dim_off(s));
  if (s->rec.reloaded)
    fprintf(s->out, 
        "%s  . note: the bot was reloaded during the session; the transcript runs "
        "every "
        "step with the version it loads%s\n",
        sim_dim_on(s), sim_dim_off(s));
  if (strcmp(s->db, ":memory:") != 0)
    fprintf(s->out, 
        "%s  . note: the session began with the data in %s; the transcript begins with "
        "an "
        "empty store%s\n",
        sim_dim_on(s), s->db, sim_dim_off(s));
  return 0;
}

static int cmd_reset(sim *s, const command *c, char *arg) {
  if (!no_argument(s, c, arg)) return 0;
  engine_close(s->e);
  s->e = NULL;
  if (sim_start(s, ":memory:")) return 1;
  record_restart(&s->rec, s->now);
  int kept = strcmp(s->db, ":memory:") != 0;
  fprintf(s->out, "%s  . reset: empty in-memory store%s%s%s%s\n", sim_dim_on(s),
         kept ? " (" : "", kept ? s->db : "", kept ? " is left as it was)" : "",
         sim_dim_off(s));
  s->db = ":memory:";
  return 0;
}

static int cmd_quit(sim *s, const command *c, char *arg) {
  (void)s, (void)c, (void)arg;
  return 1;
}

static int cmd_help(sim *s, const command *c, char *arg);

static const command commands[] = {
    {"as", "NUMBER", "become another fan (E.164, like +15550002; or whatsapp:+15550002)",
     cmd_as},
    {"channel", "NAME", "write on another channel as the same fan (sms, whatsapp, messenger,\n"
     "                  instagram)", cmd_channel},
    {"advance", "DURATION",
     "move the clock on (90s, 15m, 2h, 3d, 1w): what comes due runs", cmd_advance},
    {"clock", "", "show the simulated time", cmd_clock},
    {"state", "", "the current fan's fields, tags, state and pending expect",
     cmd_state},
    {"contacts", "", "every contact of this bot", cmd_contacts},
    {"broadcasts", "", "every broadcast of this bot and its progress", cmd_broadcasts},
    {"timers", "", "pending timers, drip steps and held messages, and when",
     cmd_timers},
    {"http", "METHOD URL -> STATUS [BODY]",
     "answer http.get/post of that URL (a URL ending in * is a prefix;\n"
     "                  also -> timeout, -> error TEXT); other requests really\n"
     "                  go out",
     cmd_http},
    {"event", "TYPE {JSON}",
     "the current fan's triggered event (bot.on_event), as the\n"
     "                  events API brings it",
     cmd_event},
    {"click", "URL [USER AGENT]",
     "the current fan opens the newest link to URL it was sent\n"
     "                  ({{link \"URL\"}}, c:link): bot.on_click runs",
     cmd_click},
    {"contact", "NUMBER key=value ...",
     "create or change a contact: tz=ZONE, tags=a,b, status=opted_out,\n"
     "                  subscribed or not_opted_in, any other key a field (as\n"
     "                  @contact in a transcript)",
     cmd_contact},
    {"seed", "N", "make math.random repeatable from now on (as @seed N)", cmd_seed},
    {"reload", "", "read the bot's folder again (if it fails, the old one stays)",
     cmd_reload},
    {"save", "FILE.chat", "write the session so far as a transcript for parley test",
     cmd_save},
    {"reset", "", "start over with an empty in-memory store", cmd_reset},
    {"help", "", "this text", cmd_help},
    {"quit", "", "leave (Ctrl-D works too)", cmd_quit},
};

static int cmd_help(sim *s, const command *c, char *arg) {
  (void)s, (void)c, (void)arg;
  fprintf(s->out, "%s\n",
      "Type a message to send it as the current fan; the line under it names the rule\n"
      "that took it. Commands:");
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
    char head[64];
    snprintf(head, sizeof head, "/%s%s%s", commands[i].name,
             *commands[i].args ? " " : "", commands[i].args);
    if (strlen(head) < 15)
      fprintf(s->out, "  %-16s%s\n", head, commands[i].help);
    else
      fprintf(s->out, "  %s\n                  %s\n", head, commands[i].help);
  }
  return 0;
}

int sim_command(sim *s, char *line) {
  char *arg = line + 1;
  while (*arg && *arg != ' ') arg++;
  if (*arg) *arg++ = 0;
  while (*arg == ' ') arg++;
  char *end = arg + strlen(arg);
  while (end > arg && end[-1] == ' ') *--end = 0;
  const char *name = line + 1;
  if (strcmp(name, "exit") == 0) name = "quit";
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (strcmp(name, commands[i].name) == 0)
      return commands[i].run(s, &commands[i], arg);
  sim_complain(s, "unknown command '/%s' (type /help for the list)", name);
  return 0;
}
