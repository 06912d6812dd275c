/* admin_api: the admin endpoints, run on the engine thread one job at a
 * time (http_server.c routes the requests and queues the jobs): script
 * reload and rollback, versions, metrics, contacts (list, get, update,
 * erase, export), the consent ledger, broadcasts (create, status, cancel).
 * Every answer is JSON; errors are {"error": "..."} with a fitting status. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "deploy.h"
#include "chat_test.h"
#include "clock.h"
#include "gsm.h"
#include "cluster.h"
#include "contacts_file.h"
#include "http_internal.h"
#include "replay.h"
#include "store_links.h"
#include "store_console.h"
#include "http_limits.h"
#include "log.h"
#include "store.h"

/* One version for GET .../versions: "version" is its number among the bot's
 * versions (as reload and rollback answer); "id" is the same number, kept for
 * clients written when versions had ids. */
static void add_version(void *ud, int64_t number, const char *sha, int64_t created_at,
                        int active) {
  json_array_append_new(
      ud, json_pack("{s:I,s:I,s:s,s:I,s:b}", "version", (json_int_t)number, "id",
                    (json_int_t)number, "sha", sha, "created_at",
                    (json_int_t)(created_at / 1000), "active", active));
}

/* Installs a script version; answers the job with it or with the errors. */
/* text's lines as a JSON array of strings (text is cut up). */
static json_t *lines_of(char *text) {
  json_t *a = json_array();
  for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
    json_array_append_new(a, json_string(l));
  return a;
}

/* Passes sc (taken) through the gate (deploy.h) and answers: 200 with the
 * active version, 422 if it does not load or a transcript fails, 409 if
 * one of its numbers is another bot's. */
/* A flag of the query: ?dry_run=1, ?accept_errors=true. */
static int query_flag(job *j, const char *name) {
  const char *v = json_string_value(json_object_get(j->query, name));
  return v && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0 || strcmp(v, "yes") == 0);
}

static void install(server *s, job *j, script *sc, const char *what) {
  char err[16384];
  deploy_options o = {.dry_run = query_flag(j, "dry_run"),
                      .accept_errors = query_flag(j, "accept_errors"),
                      .replay = s->cfg.replay ? s->cfg.replay(j->botname) : 0};
  deploy_result r = deploy_version(s->e, sc, &o, err, sizeof err);
  json_t *replay = r.replay ? r.replay : json_null();
  if (r.status == DEPLOY_OK && o.dry_run) {
    job_answer(j, 200, json_pack("{s:s,s:o}", "status", "dry_run", "replay", replay));
    log_event(LOG_INFO, "reload_dry_run", "bot", j->botname, NULL);
    return;
  }
  if (r.status == DEPLOY_OK) {
    job_answer(j, 200, json_pack("{s:s,s:I,s:o}", "status", "active", "version",
                                 (json_int_t)bot_version(r.bot), "replay", replay));
    s->reloads++;
    char version[24];
    snprintf(version, sizeof version, "%lld", (long long)bot_version(r.bot));
    log_event(LOG_INFO, what, "bot", j->botname, "version", version, NULL);
    return;
  }
  s->reload_failures++;
  if (r.status == DEPLOY_ERROR) {
    json_decref(replay);
    job_answer_error(j, 500, err);
    log_event(LOG_ERROR, "reload_failed", "bot", j->botname, "error", err, NULL);
    return;
  }
  const char *message = r.status == DEPLOY_TESTS_FAILED
                            ? "the new version's transcript tests failed; it was not activated"
                        : r.status == DEPLOY_REPLAY_ERRORS
                            ? "real messages replayed on the new version fail; it was not "
                              "activated (accept_errors=1 activates it all the same)"
                        : r.status == DEPLOY_NUMBER_TAKEN
                            ? "the new version claims a number another bot serves; it was not "
                              "activated"
                            : "the new version was not activated";
  job_answer(j, r.status == DEPLOY_NUMBER_TAKEN ? 409 : 422,
             json_pack("{s:s,s:o,s:o}", "error", message, "errors", lines_of(err), "replay",
                       replay));
  char count[16];
  snprintf(count, sizeof count, "%d", r.failed);
  const char *reason = r.status == DEPLOY_TESTS_FAILED   ? "transcripts"
                       : r.status == DEPLOY_REPLAY_ERRORS ? "replay"
                       : r.status == DEPLOY_NUMBER_TAKEN ? "number_taken"
                                                         : "invalid";
  char event[32];
  snprintf(event, sizeof event, "%s_refused", what);
  log_event(LOG_WARN, event, "reason", reason, "failed",
            r.status == DEPLOY_TESTS_FAILED ? count : NULL, "bot", j->botname, NULL);
}

int script_body_is_archive(const char *content_type) {
  return strncmp(content_type, "application/x-tar", 17) == 0 ||
         strncmp(content_type, "application/gzip", 16) == 0 ||
         strncmp(content_type, "application/x-gtar", 18) == 0;
}

/* PUT /v1/bots/BOT/script: one Lua file (bot.lua; the bot's other modules
 * stay), JSON {"files": {"bot.lua": "...", ...}} or a tar of the folder
 * (application/x-tar, or gzip-compressed) for the whole set. */
static void run_reload(server *s, job *j, bot *b) {
  char err[1024];
  char *label = xasprintf("%s (uploaded)", j->botname);
  script *sc = NULL;
  if (!j->body.len) {
    job_answer_error(j, 400, "the body is empty: send bot.lua, or JSON {\"files\": {...}}");
  } else if (strncmp(j->content_type, "application/json", 16) == 0) {
    json_error_t jerr;
    json_t *o = json_loadb(j->body.data, j->body.len, 0, &jerr);
    json_t *files = json_object_get(o, "files");
    char *text = json_is_object(files) ? json_dumps(files, JSON_COMPACT) : NULL;
    if (!text) job_answer_error(j, 400, "the body must be JSON {\"files\": {\"bot.lua\": \"...\"}}");
    else if (!(sc = script_from_json(j->botname, label, text, err, sizeof err)))
      job_answer_error(j, 400, err);
    free(text);
    json_decref(o);
  } else if (script_body_is_archive(j->content_type)) {
    sc = j->unpacked; /* by the upload worker: never decompressed on this thread */
    j->unpacked = NULL;
    if (!sc) job_answer_error(j, 500, "the archive was not unpacked");
  } else {
    /* the running version's files, with bot.lua replaced */
    json_t *files = json_object();
    if (b) {
      const script *cur = bot_script(b);
      for (size_t i = 0; i < cur->nfiles; i++)
        json_object_set_new(files, cur->files[i].path,
                            json_stringn(cur->files[i].source, cur->files[i].len));
    }
    json_t *src = json_stringn(j->body.data, j->body.len);
    if (!src) {
      job_answer_error(j, 400, "bot.lua must be UTF-8 text");
    } else {
      json_object_set_new(files, "bot.lua", src);
      char *text = json_dumps(files, JSON_COMPACT);
      if (!(sc = script_from_json(j->botname, label, text, err, sizeof err)))
        job_answer_error(j, 400, err);
      free(text);
    }
    json_decref(files);
  }
  free(label);
  if (sc) install(s, j, sc, "reload");
}

/* POST /v1/bots/BOT/rollback [{"version": N}]: the version before the
 * active one, or version N. */
static void run_rollback(server *s, job *j, bot *b) {
  int64_t want = 0;
  if (j->body.len) {
    json_error_t jerr;
    json_t *o = json_loadb(j->body.data, j->body.len, 0, &jerr);
    json_t *v = json_object_get(o, "version");
    if (!json_is_integer(v)) {
      json_decref(o);
      job_answer_error(j, 400, "the body must be empty or {\"version\": N}");
      return;
    }
    want = json_integer_value(v);
    json_decref(o);
  }
  json_t *versions = json_array();
  store_versions_each(engine_store(s->e), bot_id(b), add_version, versions);
  int64_t target = want;
  if (!target) { /* the one before the active */
    size_t n = json_array_size(versions);
    for (size_t i = 1; i < n; i++)
      if (json_is_true(json_object_get(json_array_get(versions, i), "active")))
        target = json_integer_value(
            json_object_get(json_array_get(versions, i - 1), "version"));
  }
  json_decref(versions);
  char *files = target ? store_version_files(engine_store(s->e), bot_id(b), target) : NULL;
  if (!files) {
    job_answer_error(j, 404, want ? "no such version of this bot" : "there is no earlier version");
    return;
  }
  char err[1024];
  char *label = xasprintf("%s (version %lld)", j->botname, (long long)target);
  script *sc = script_from_json(j->botname, label, files, err, sizeof err);
  free(label);
  free(files);
  if (!sc) job_answer_error(j, 500, err);
  else install(s, j, sc, "rollback");
}

/* GET /metrics, Prometheus text format. */
/* A Prometheus label value: \\, \" and \n escaped. */
static void put_label(buf *b, const char *v) {
  for (; *v; v++) {
    if (*v == '\\' || *v == '"') buf_printf(b, "\\%c", *v);
    else if (*v == '\n') buf_puts(b, "\\n");
    else buf_add(b, v, 1);
  }
}

/* One family of the per-bot counters; Prometheus wants a family's lines
 * together, so each family is a pass over the bots. */
typedef struct bot_family {
  buf *b;
  int which; /* 0 in, 1 out, 2 errors */
} bot_family;

static void add_bot_counts(void *ud, const char *bot, const bot_counts *c) {
  bot_family *f = ud;
  static const char *const metric[] = {"parley_bot_messages_in_total",
                                       "parley_bot_messages_out_total",
                                       "parley_bot_handler_errors_total"};
  for (int k = 0; k < (f->which == 1 ? 2 : 1); k++) {
    buf_printf(f->b, "%s{bot=\"", metric[f->which]);
    put_label(f->b, bot);
    if (f->which == 1) buf_puts(f->b, k ? "\",status=\"suppressed" : "\",status=\"sent");
    long n = f->which == 0 ? c->messages_in
             : f->which == 2 ? c->errors
             : k ? c->suppressed : c->replies;
    buf_printf(f->b, "\"} %ld\n", n);
  }
}

static void run_metrics(server *s, job *j) {
  engine_stats st = engine_stats_of(s->e);
  int64_t timers = 0, held = 0;
  store_backlog(engine_store(s->e), &timers, &held); /* zeros if the store failed */
  long waiting = store_outbox_depth(engine_store(s->e));
  if (waiting > 0) held += waiting;
  buf b = {0};
  buf_printf(&b,
             "# HELP parley_messages_in_total Inbound messages handled.\n"
             "# TYPE parley_messages_in_total counter\n"
             "parley_messages_in_total %ld\n"
             "# HELP parley_messages_out_total Outbound messages by status.\n"
             "# TYPE parley_messages_out_total counter\n"
             "parley_messages_out_total{status=\"sent\"} %ld\n"
             "parley_messages_out_total{status=\"suppressed\"} %ld\n"
             "# HELP parley_duplicates_total Provider retries acknowledged, not handled.\n"
             "# TYPE parley_duplicates_total counter\n"
             "parley_duplicates_total %ld\n"
             "# HELP parley_handler_errors_total Handler errors (limit hits included).\n"
             "# TYPE parley_handler_errors_total counter\n"
             "parley_handler_errors_total %ld\n"
             "# HELP parley_limit_hits_total Handlers stopped by a limit.\n"
             "# TYPE parley_limit_hits_total counter\n"
             "parley_limit_hits_total %ld\n"
             "# HELP parley_timers_fired_total Timers and drip steps run.\n"
             "# TYPE parley_timers_fired_total counter\n"
             "parley_timers_fired_total %ld\n"
             "# HELP parley_reloads_total Script versions activated over HTTP, and refused.\n"
             "# TYPE parley_reloads_total counter\n"
             "parley_reloads_total{result=\"active\"} %ld\n"
             "parley_reloads_total{result=\"refused\"} %ld\n"
             "# HELP parley_contacts_cached Contacts in the engine's cache.\n"
             "# TYPE parley_contacts_cached gauge\n"
             "parley_contacts_cached %ld\n"
             "# HELP parley_timers_pending Timers and drip steps waiting to fire.\n"
             "# TYPE parley_timers_pending gauge\n"
             "parley_timers_pending %lld\n"
             "# HELP parley_outbox_depth Messages waiting to go out (queued, in flight, held).\n"
             "# TYPE parley_outbox_depth gauge\n"
             "parley_outbox_depth %lld\n"
             "# HELP parley_handler_seconds Time in the script per handler call.\n"
             "# TYPE parley_handler_seconds histogram\n",
             st.messages_in, st.replies, st.suppressed, st.duplicates, st.errors,
             st.limit_hits, st.timers_fired, s->reloads, s->reload_failures,
             st.cached_contacts, (long long)timers, (long long)held);
  long cum = 0;
  for (int i = 0; i < ENGINE_LATENCY_BUCKETS; i++) {
    cum += st.latency[i];
    buf_printf(&b, "parley_handler_seconds_bucket{le=\"%g\"} %ld\n",
               engine_latency_bounds_us[i] / 1e6, cum);
  }
  cum += st.latency[ENGINE_LATENCY_BUCKETS];
  buf_printf(&b,
             "parley_handler_seconds_bucket{le=\"+Inf\"} %ld\n"
             "parley_handler_seconds_sum %.6f\n"
             "parley_handler_seconds_count %ld\n",
             cum, st.latency_sum_s, st.latency_count);
  static const char *const family_help[] = {
      "# HELP parley_bot_messages_in_total Inbound messages handled, by bot.\n"
      "# TYPE parley_bot_messages_in_total counter\n",
      "# HELP parley_bot_messages_out_total Outbound messages by bot and status.\n"
      "# TYPE parley_bot_messages_out_total counter\n",
      "# HELP parley_bot_handler_errors_total Handler errors by bot.\n"
      "# TYPE parley_bot_handler_errors_total counter\n"};
  for (int which = 0; which < 3; which++) {
    buf_puts(&b, family_help[which]);
    bot_family f = {&b, which};
    engine_each_bot_counts(s->e, add_bot_counts, &f);
  }
  if (s->cfg.more_metrics) s->cfg.more_metrics(s->cfg.metrics_ud, &b);
  http_limits_metrics(s->limits, &b);
  if (s->cfg.nodes)
    buf_printf(&b,
               "# HELP parley_handed_over_total Messages and events of conversations another "
               "node holds, by how they went to it.\n"
               "# TYPE parley_handed_over_total counter\n"
               "parley_handed_over_total{via=\"relay\"} %ld\n"
               "parley_handed_over_total{via=\"inbox\"} %ld\n"
               "# HELP parley_relay_failures_total Relays that failed (the message then went "
               "through the inbox).\n"
               "# TYPE parley_relay_failures_total counter\n"
               "parley_relay_failures_total %ld\n"
               "# HELP parley_relay_batches_total Requests that relayed messages to their "
               "holder (each carries the messages that came for it meanwhile).\n"
               "# TYPE parley_relay_batches_total counter\n"
               "parley_relay_batches_total %ld\n",
               s->handed_relay, s->handed_inbox, s->relay_failures, relay_batches(s->relay));
  j->http_status = 200;
  j->http_body = b.data ? b.data : xstrdup("");
  free(j->content_type);
  j->content_type = xstrdup("text/plain; version=0.0.4");
}

static json_t *json_or_null(const char *text) {
  json_error_t jerr;
  json_t *v = text ? json_loads(text, JSON_DECODE_ANY, &jerr) : NULL;
  return v ? v : json_null();
}

static json_t *contact_json(const contact_row *r) {
  return json_pack("{s:s,s:s,s:o,s:o,s:o,s:s?,s:I,s:I,s:s?,s:o}", "number", r->number, "status",
                   r->status, "fields", json_or_null(r->fields), "tags",
                   json_or_null(r->tags), "state", json_or_null(r->state), "timezone",
                   r->timezone, "first_seen", (json_int_t)(r->first_seen / 1000), "last_seen",
                   (json_int_t)(r->last_seen / 1000), "undeliverable", r->undeliverable,
                   "handoff", json_or_null(r->handoff));
}

/* A handler's error in the conversation: {kind, text, at} */
static void add_contact_error(void *ud, const char *kind, const char *text, int64_t at) {
  json_array_append_new(ud, json_pack("{s:s,s:s,s:I,s:I}", "kind", kind, "text", text, "at",
                                      (json_int_t)(at / 1000), "at_ms", (json_int_t)at));
}

/* What a person did in the conversation: {who, action, text, at} */
static void add_operator_action(void *ud, const operator_action *a) {
  json_array_append_new(ud, json_pack("{s:s,s:s,s:s,s:I,s:I}", "who", a->who, "action",
                                      a->action, "text", a->text, "at", (json_int_t)(a->at / 1000),
                                      "at_ms", (json_int_t)a->at));
}

static void add_contact(void *ud, const contact_row *r) {
  json_t *list = ud;
  json_t *c = contact_json(r);
  json_object_set_new(c, "id", json_integer(r->id));
  json_array_append_new(list, c);
}

static void add_message(void *ud, const char *direction, const char *text,
                        const char *status, int64_t at) {
  json_array_append_new(ud, json_pack("{s:s,s:s,s:s,s:I,s:I}", "direction", direction, "text",
                                      text, "status", status, "at", (json_int_t)(at / 1000),
                                      "at_ms", (json_int_t)at));
}

static void add_consent(void *ud, const char *action, const char *source, const char *text,
                        int64_t at) {
  json_array_append_new(ud, json_pack("{s:s,s:s,s:s,s:I,s:I}", "action", action, "source",
                                      source, "text", text ? text : "", "at",
                                      (json_int_t)(at / 1000), "at_ms", (json_int_t)at));
}

/* A CSV field: quoted, quotes doubled (RFC 4180). */
static void csv_field(buf *b, const char *v, int last) {
  buf_add(b, "\"", 1);
  for (; v && *v; v++) {
    if (*v == '"') buf_add(b, "\"", 1);
    buf_add(b, v, 1);
  }
  buf_puts(b, last ? "\"\r\n" : "\",");
}

static void add_ledger_row(void *ud, int64_t at, const char *number, const char *action,
                           const char *source, const char *text) {
  char when[32];
  time_t t = (time_t)(at / 1000);
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
  csv_field(ud, when, 0);
  csv_field(ud, number, 0);
  csv_field(ud, action, 0);
  csv_field(ud, source, 0);
  csv_field(ud, text, 1);
}

/* What a segment's field names are made of. */
#define FIELD_NAME_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"

/* A query parameter that is a whole number from 0 to 2^63-1 ("10abc",
 * "-1" and an overflow are not): 0 with *out, else -1. */
static int whole_number(const char *v, long long *out) {
  char *end;
  errno = 0;
  *out = v && *v >= '0' && *v <= '9' ? strtoll(v, &end, 10) : -1;
  return *out < 0 || *end || errno ? -1 : 0;
}

/* A date as a range bound: 2008-12-05, 2008-12-05 10:00, 2008-12-05T10:00:30. */
static int range_date(const char *v) {
  static const char *const shapes[] = {"dddd-dd-dd", "dddd-dd-dd dd:dd",
                                       "dddd-dd-dd dd:dd:dd"};
  for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++) {
    const char *p = shapes[k], *q = v;
    for (; *p && *q; p++, q++)
      if (*p == 'd'   ? (*q < '0' || *q > '9')
          : *p == ' ' ? (*q != ' ' && *q != 'T')
                      : *q != *p)
        break;
    if (!*p && !*q) return 1;
  }
  return 0;
}

/* A field's range, as bot.contacts takes one (docs/scheduling.md): numbers
 * (min, max) or dates (after, before). What is wrong, or NULL; dates are
 * written with a space for the T, as the store compares them. */
static const char *range_problem(json_t *range) {
  int numbers = 0, dates = 0;
  const char *op;
  json_t *v;
  json_object_foreach(range, op, v) {
    if (strcmp(op, "min") == 0 || strcmp(op, "max") == 0) {
      if (!json_is_number(v)) return "a range's min and max are numbers";
      numbers = 1;
    } else if (strcmp(op, "after") == 0 || strcmp(op, "before") == 0) {
      if (!json_is_string(v) || !range_date(json_string_value(v)))
        return "a range's after and before are dates like \"2008-12-05\" (or "
               "\"2008-12-05 10:00\")";
      char *text = xstrdup(json_string_value(v));
      if (text[10] == 'T') text[10] = ' ';
      json_string_set(v, text);
      free(text);
      dates = 1;
    } else {
      return "a range has min, max, after, before";
    }
  }
  if (numbers && dates)
    return "a range is of numbers (min, max) or of dates (after, before), not both";
  if (!numbers && !dates) return "an empty range (use min, max, after or before)";
  return NULL;
}

/* A contact's status, as segments name it. */
static int known_status(const char *s) {
  return s && (strcmp(s, "subscribed") == 0 || strcmp(s, "not_opted_in") == 0 ||
               strcmp(s, "opted_out") == 0);
}
static const char STATUS_PROBLEM[] =
    "status is \"subscribed\", \"not_opted_in\" or \"opted_out\"";
/* clicked: the contacts a person clicked a tracked link of (to that URL) */
static const char CLICKED_PROBLEM[] =
    "clicked is a tracked link's URL (http or https) or true (any link)";

/* GET /v1/bots/BOT/contacts?city=Austin&tags=vip&age.min=18&status=...&after=ID&limit=N */
/* The segment's keys of a time: when a contact was first or last seen. */
static int time_key(const char *key) {
  return strcmp(key, "joined_after") == 0 || strcmp(key, "joined_before") == 0 ||
         strcmp(key, "seen_after") == 0 || strcmp(key, "seen_before") == 0;
}
#define TIME_KEY_PROBLEM                                                                    \
  "joined_after, joined_before, seen_after and seen_before are seconds since 1970 (0 to " \
  "253402300799, the end of 9999)"

static void run_contacts(server *s, job *j, bot *b) {
  json_t *seg = json_object();
  int64_t after = 0;
  long limit = 100;
  const char *key;
  json_t *v;
  const char *bad = NULL;
  json_object_foreach(j->query, key, v) {
    const char *val = json_string_value(v);
    long long n;
    if (strcmp(key, "after") == 0) {
      if (whole_number(val, &n)) bad = "after must be a contact id (a whole number, 0 or more)";
      after = n;
    } else if (strcmp(key, "limit") == 0) {
      if (whole_number(val, &n) || n < 1 || n > 1000) bad = "limit must be between 1 and 1000";
      limit = (long)n;
    } else if (time_key(key)) {
      if (whole_number(val, &n) || n > CLOCK_MAX_SECONDS)
        bad = TIME_KEY_PROBLEM;
      else /* in ms, as the store keeps them */
        json_object_set_new(seg, key, json_integer((json_int_t)n * 1000));
    } else if (strchr(key, '.')) { /* age.min=18, birthday.before=2008-12-05 */
      const char *op = strchr(key, '.') + 1;
      char *field = xstrndup(key, (size_t)(op - 1 - key));
      json_t *range = json_object_get(seg, field);
      if (!range) json_object_set_new(seg, field, range = json_object());
      char *end;
      double n = strtod(val, &end);
      int number = (strcmp(op, "min") == 0 || strcmp(op, "max") == 0);
      if (!*field || strspn(field, FIELD_NAME_CHARS) != strlen(field) ||
          !json_is_object(range))
        bad =
            "segment keys are field names (letters, digits, _), or a field's range "
            "(age.min=18)";
      else if (number && (!*val || *end || n != n))
        bad = "a range's min and max are numbers";
      else
        json_object_set_new(range, op, number ? json_real(n) : json_string(val));
      free(field);
    } else if (!*key || strspn(key, FIELD_NAME_CHARS) != strlen(key)) {
      bad = "segment keys are field names (letters, digits, _)";
    } else if (strcmp(key, "tags") == 0) {
      json_object_set_new(seg, "tags", json_string(val));
    } else if (strcmp(key, "status") == 0) {
      if (!known_status(val)) bad = STATUS_PROBLEM;
      json_object_set_new(seg, "status", json_string(val));
    } else if (strcmp(key, "clicked") == 0) { /* clicked=URL, or clicked=true: any link */
      int any = strcmp(val, "true") == 0;
      if (!any && !engine_link_url_ok(val)) bad = CLICKED_PROBLEM;
      json_object_set_new(seg, "clicked", any ? json_true() : json_string(val));
    } else {
      json_object_set_new(seg, key, json_string(val));
    }
  }
  json_object_foreach(seg, key, v) if (!bad && json_is_object(v)) bad =
      range_problem(v);
  if (bad) {
    json_decref(seg);
    job_answer_error(j, 400, bad);
    return;
  }
  char *segment = json_dumps(seg, JSON_COMPACT);
  json_decref(seg);
  json_t *list = json_array();
  int rc = store_contacts_match(engine_store(s->e), bot_id(b), segment, after, limit,
                                add_contact, list);
  free(segment);
  if (rc) {
    json_decref(list);
    job_answer_error(j, 500, store_error(engine_store(s->e)));
    return;
  }
  json_t *last = json_array_get(list, json_array_size(list) - 1);
  json_t *next = json_array_size(list) == (size_t)limit && last
                     ? json_copy(json_object_get(last, "id"))
                     : json_null();
  job_answer(j, 200, json_pack("{s:o,s:o}", "contacts", list, "next_after", next));
}

static void run_contact(server *s, job *j, bot *b) {
  contact_row r = {0};
  int found = store_contact_get(engine_store(s->e), bot_id(b), j->item, &r);
  if (found <= 0) {
    job_answer_error(j, 404, "no such contact");
    return;
  }
  json_t *c = contact_json(&r);
  if (j->kind == JOB_CONTACT_MESSAGES) { /* the conversation, and the ledger */
    json_t *messages = json_array(), *consent = json_array(), *actions = json_array(),
           *errors = json_array();
    store_messages_each(engine_store(s->e), r.id, add_message, messages);
    store_consent_each(engine_store(s->e), r.id, add_consent, consent);
    store_operator_actions_each(engine_store(s->e), r.id, add_operator_action, actions);
    store_contact_errors_each(engine_store(s->e), r.id, add_contact_error, errors);
    json_object_set_new(c, "messages", messages);
    json_object_set_new(c, "consent", consent);
    json_object_set_new(c, "actions", actions);
    json_object_set_new(c, "errors", errors);
  }
  contact_row_free(&r);
  job_answer(j, 200, c);
}

/* PATCH /v1/bots/BOT/contacts/NUMBER {"fields": {...}, "tags": [...],
 * "timezone": "..."}: fields are merged (null removes one), tags replaced.
 * 1 if handed to the node holding the contact (forward_admin), else 0. */
static int run_contact_update(server *s, job *j, bot *b) {
  json_error_t jerr;
  json_t *o = json_loadb(j->body.data ? j->body.data : "", j->body.len, 0, &jerr);
  json_t *fields = json_object_get(o, "fields"), *tags = json_object_get(o, "tags");
  json_t *tz = json_object_get(o, "timezone");
  const char *bad = !json_is_object(o) ? "the body must be a JSON object"
                    : fields && !json_is_object(fields) ? "fields must be an object"
                    : tags && !json_is_array(tags) ? "tags must be a list of names"
                    : tz && !json_is_string(tz) ? "timezone must be a string"
                    : NULL;
  const char *key;
  json_t *v;
  if (!bad && fields)
    json_object_foreach(fields, key, v) if (key[0] == '#') bad = "field names may not start with #";
  for (size_t i = 0; !bad && tags && i < json_array_size(tags); i++)
    if (!json_is_string(json_array_get(tags, i))) bad = "tags must be strings";
  if (!bad && tz && !clock_valid_zone(json_string_value(tz))) bad = "timezone is not a time zone";
  if (bad) {
    json_decref(o);
    job_answer_error(j, 400, bad);
    return 0;
  }
  int away = forward_admin(s, j, b);
  contact_row r = {0};
  if (away || store_contact_get(engine_store(s->e), bot_id(b), j->item, &r) <= 0) {
    json_decref(o);
    if (!away) job_answer_error(j, 404, "no such contact");
    return away > 0;
  }
  char *fields_json = NULL, *tags_json = NULL;
  if (fields) {
    json_t *merged = json_or_null(r.fields);
    if (!json_is_object(merged)) {
      json_decref(merged);
      merged = json_object();
    }
    json_object_foreach(fields, key, v) {
      if (json_is_null(v)) json_object_del(merged, key);
      else json_object_set(merged, key, v);
    }
    fields_json = json_dumps(merged, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(merged);
  }
  if (tags) tags_json = json_dumps(tags, JSON_COMPACT);
  contact_row_free(&r);
  char err[1024];
  int rc = engine_set_contact(s->e, b, j->item, NULL, fields_json, tags_json,
                              tz ? json_string_value(tz) : NULL, err, sizeof err);
  free(fields_json);
  free(tags_json);
  json_decref(o);
  if (rc) {
    job_answer_error(j, rc > 0 ? 400 : 500, err);
    return 0;
  }
  store_contact_get(engine_store(s->e), bot_id(b), j->item, &r);
  job_answer(j, 200, contact_json(&r));
  contact_row_free(&r);
  return 0;
}

/* 1 if v is a time the admin API takes: whole seconds since 1970, from 0
 * to the end of 9999 (so that milliseconds cannot overflow). */
static int epoch_seconds(json_t *v) {
  return json_is_integer(v) && json_integer_value(v) >= 0 &&
         json_integer_value(v) <= CLOCK_MAX_SECONDS;
}

/* A segment as the admin API takes it: field = value (string, number or
 * boolean) or range, tags (a name or a list), status, clicked (a URL or
 * true), joined_after /
 * joined_before (seconds since 1970). The sentence that says what is
 * wrong, or NULL. */
static const char *segment_problem(json_t *seg) {
  const char *key;
  json_t *v;
  json_object_foreach(seg, key, v) {
    if (!*key || strspn(key, FIELD_NAME_CHARS) != strlen(key))
      return "segment keys are field names (letters, digits, _)";
    if (strcmp(key, "tags") == 0) {
      if (json_is_string(v)) continue;
      if (!json_is_array(v) || !json_array_size(v)) return "tags is a name or a list of names";
      for (size_t i = 0; i < json_array_size(v); i++)
        if (!json_is_string(json_array_get(v, i))) return "tags is a name or a list of names";
    } else if (strcmp(key, "status") == 0) {
      if (!known_status(json_string_value(v))) return STATUS_PROBLEM;
    } else if (strcmp(key, "clicked") == 0) {
      if (!json_is_true(v) && !engine_link_url_ok(json_string_value(v))) return CLICKED_PROBLEM;
    } else if (time_key(key)) {
      if (!epoch_seconds(v)) return TIME_KEY_PROBLEM;
    } else if (json_is_object(v)) {
      const char *bad = range_problem(v);
      if (bad) return bad;
    } else if (!json_is_string(v) && !json_is_number(v) && !json_is_boolean(v)) {
      return "a segment field's value is a string, number, boolean or range";
    }
  }
  return NULL;
}

/* POST /v1/bots/BOT/broadcasts {"segment":{...},"text":"...","at":T,"rate":R} */
char *admin_segment(json_t *seg, const char **problem) {
  *problem = seg ? segment_problem(seg) : NULL;
  if (*problem) return NULL;
  json_t *segment = seg ? json_deep_copy(seg) : json_object();
  const char *key;
  json_t *v;
  json_object_foreach(segment, key, v) /* joined_*, seen_* in ms, as the store keeps them */
    if (time_key(key))
      json_object_set_new(segment, key, json_integer(json_integer_value(v) * 1000));
  char *json = json_dumps(segment, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(segment);
  return json;
}

/* A broadcast's request (its create and its preview): {"segment", "text",
 * "at", "rate"} checked, the segment as the store takes it (joined_* in
 * ms); 0, or -1 with j answered (400). */
static int broadcast_request(server *s, job *j, bot *b, char **segment_json, char **text,
                             char **content, int64_t *start, double *rate) {
  json_error_t jerr;
  json_t *o = json_loadb(j->body.data ? j->body.data : "", j->body.len, 0, &jerr);
  json_t *seg = json_object_get(o, "segment"), *t = json_object_get(o, "text");
  json_t *at = json_object_get(o, "at"), *r = json_object_get(o, "rate");
  const char *bad = !json_is_object(o) ? "the body must be a JSON object"
                    : seg && !json_is_object(seg) ? "segment must be an object"
                    : !json_is_string(t) || !json_string_length(t)
                        ? "text must be a non-empty string"
                    : at && !epoch_seconds(at)
                        ? "at must be seconds since 1970 (0 to 253402300799, the end of 9999)"
                    : r && (!json_is_number(r) || json_number_value(r) <= 0 ||
                            json_number_value(r) > 1000)
                        ? "rate must be messages per second, more than 0 and at most 1000"
                        : NULL;
  *segment_json = bad ? NULL : admin_segment(seg, &bad);
  char *template_problem = bad ? NULL : engine_template_problem(s->e, b, json_string_value(t));
  /* a WhatsApp template, for the broadcast's WhatsApp recipients */
  json_t *tmpl = json_object_get(o, "template");
  char problem[256];
  char *dumped = !bad && !template_problem && tmpl ? json_dumps(tmpl, JSON_COMPACT | JSON_ENCODE_ANY)
                                                   : NULL;
  *content = dumped ? engine_broadcast_template(dumped, problem, sizeof problem) : NULL;
  free(dumped);
  if (!bad && !template_problem && tmpl && !*content) bad = problem;
  size_t i;
  json_t *param;
  json_array_foreach(*content ? json_object_get(tmpl, "params") : NULL, i, param) {
    if (template_problem) break; /* its {{...}} are filled in per recipient, as the text's */
    template_problem = engine_template_problem(s->e, b, json_string_value(param));
  }
  if (bad || template_problem) {
    json_decref(o);
    free(*segment_json);
    free(*content);
    job_answer_error(j, 400, bad ? bad : template_problem);
    free(template_problem);
    return -1;
  }
  *text = xstrdup(json_string_value(t));
  *start = at ? json_integer_value(at) * 1000 : wall_ms();
  *rate = r ? json_number_value(r) : 10;
  json_decref(o);
  return 0;
}

static void run_broadcast_create(server *s, job *j, bot *b) {
  char *segment, *text, *content, err[1024];
  int64_t start;
  double rate;
  if (broadcast_request(s, j, b, &segment, &text, &content, &start, &rate)) return;
  int64_t id = engine_broadcast(s->e, b, segment, text, content, start, rate, err, sizeof err);
  free(segment);
  free(text);
  free(content);
  if (id < 0) job_answer_error(j, 500, err);
  else job_answer(j, 201, json_pack("{s:I,s:s}", "id", (json_int_t)id, "status", "scheduled"));
}

/* POST /v1/bots/BOT/broadcasts/preview: what that broadcast would do, and
 * what its text costs in SMS segments (the template as written). */
static void run_broadcast_preview(server *s, job *j, bot *b) {
  char *segment, *text, *content, err[1024];
  int64_t start;
  double rate;
  if (broadcast_request(s, j, b, &segment, &text, &content, &start, &rate)) return;
  free(content);
  engine_broadcast_preview p;
  int rc = engine_broadcast_preview_of(s->e, b, segment, start, rate, &p, err, sizeof err);
  gsm_count count = gsm_count_text(text, strlen(text));
  free(segment);
  free(text);
  if (rc) {
    job_answer_error(j, 500, err);
    return;
  }
  json_t *held = json_array();
  for (int64_t i = 0; i < p.held && i < ENGINE_PREVIEW_HELD_SHOWN; i++)
    json_array_append_new(held, json_pack("{s:s,s:s,s:I}", "number", p.held_first[i].number,
                                          "zone", p.held_first[i].zone, "until",
                                          (json_int_t)(p.held_first[i].until_ms / 1000)));
  job_answer(j, 200,
             json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:{s:s,s:i,s:I}}", "recipients",
                       (json_int_t)p.recipients, "sent", (json_int_t)p.sent, "held",
                       (json_int_t)p.held, "suppressed", (json_int_t)p.suppressed, "failed",
                       (json_int_t)p.failed, "not_opted_in", (json_int_t)p.not_opted_in,
                       "finish_at", (json_int_t)(p.finish_ms / 1000), "held_first", held,
                       "text", "encoding",
                       count.encoding == GSM_ENCODING_UCS2 ? "UCS-2" : "GSM-7", "segments",
                       count.segments, "units", (json_int_t)count.units));
}

static void run_consent_csv(server *s, job *j, bot *b) {
  buf csv = {0};
  buf_puts(&csv, "at,number,action,source,text\r\n");
  store_consent_all(engine_store(s->e), bot_id(b), add_ledger_row, &csv);
  j->http_status = 200;
  j->http_body = csv.data;
  free(j->content_type);
  j->content_type = xstrdup("text/csv; charset=utf-8");
}

/* The whole number a query parameter holds (at most 10^9), or def when it
 * is absent; -1 if it is not one. */
static long long query_number(job *j, const char *name, long long def) {
  long long n;
  return job_query_number(j, name, 0, 1000000000, def, &n) ? -1 : n;
}

/* POST /v1/bots/BOT/contacts/import: a CSV or JSON lines body (by its
 * Content-Type); 200 with the report, 400 if the body cannot be read. */
static void run_contacts_import(server *s, job *j, bot *b) {
  char type[64];
  snprintf(type, sizeof type, "%s", j->content_type ? j->content_type : "");
  type[strcspn(type, "; ")] = '\0';
  import_options opt = {0};
  if (strcasecmp(type, "text/csv") == 0) opt.format = IMPORT_CSV;
  else if (strcasecmp(type, "application/x-ndjson") == 0 ||
           strcasecmp(type, "application/jsonl") == 0 ||
           strcasecmp(type, "application/json-lines") == 0)
    opt.format = IMPORT_JSON_LINES;
  else {
    job_answer_error(j, 400, "Content-Type must be text/csv or application/x-ndjson (JSON "
                             "lines)");
    return;
  }
  long long rows = query_number(j, "row_offset", 0), lines = query_number(j, "line_offset", 0);
  if (rows < 0 || lines < 0) {
    job_answer_error(j, 400, "row_offset and line_offset are whole numbers");
    return;
  }
  opt.row_offset = (long)rows;
  opt.line_offset = (long)lines;
  import_report rep;
  char err[1024];
  int rc = engine_import_contacts(s->e, b, j->body.data ? j->body.data : "", j->body.len, &opt,
                                  &rep, err, sizeof err);
  /* written behind the other nodes' caches (even a failed import may have
   * committed some batches): they forget the contacts they cached */
  if (rc <= 0 && s->cfg.nodes) cluster_contacts_changed(s->cfg.nodes);
  if (rc) {
    json_decref(rep.errors);
    job_answer_error(j, rc > 0 ? 400 : 500, err);
    return;
  }
  char count[64];
  snprintf(count, sizeof count, "%ld", rep.rows);
  char failed[32];
  snprintf(failed, sizeof failed, "%ld", rep.failed);
  log_event(LOG_INFO, "contacts_imported", "bot", j->botname, "rows", count, "failed", failed,
            NULL);
  job_answer(j, 200, import_report_json(&rep));
}

static void run_contacts_csv(server *s, job *j, bot *b) {
  buf csv = {0};
  if (contacts_export_csv(engine_store(s->e), bot_id(b), &csv)) {
    buf_free(&csv);
    job_answer_error(j, 500, store_error(engine_store(s->e)));
    return;
  }
  j->http_status = 200;
  j->http_body = csv.data;
  free(j->content_type);
  j->content_type = xstrdup("text/csv; charset=utf-8");
}

/* A broadcast as the API shows it, with the contacts it has not reached
 * yet (it walks them by id: those after its cursor; 0 once it ended) and
 * the clicks on its tracked links (-1: the store failed to count them). */
static json_t *broadcast_json(server *s, const broadcast_row *br) {
  int64_t remaining = 0;
  int ended = strcmp(br->status, "done") == 0 || strcmp(br->status, "cancelled") == 0;
  if (!ended &&
      store_segment_count(engine_store(s->e), br->bot_id, br->segment, br->cursor, &remaining))
    remaining = -1;
  /* its tracked links' clicks by people, and how many people made them */
  int64_t clicks = 0, people = 0;
  if (strstr(br->text, "{{") &&
      store_broadcast_clicks(engine_store(s->e), br->id, &clicks, &people))
    clicks = people = -1;
  return json_pack("{s:I,s:s,s:s,s:o,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "id",
                   (json_int_t)br->id, "status", br->status, "text", br->text, "segment",
                   json_or_null(br->segment), "sent", (json_int_t)br->sent, "held",
                   (json_int_t)br->held, "suppressed", (json_int_t)br->suppressed, "failed",
                   (json_int_t)br->failed, "not_opted_in", (json_int_t)br->not_opted_in,
                   "remaining", (json_int_t)remaining, "at", (json_int_t)(br->next_at / 1000),
                   "clicks", (json_int_t)clicks, "people", (json_int_t)people);
}

static void run_broadcast(server *s, job *j, bot *b) {
  broadcast_row br = {0};
  long long id;
  if (whole_number(j->item, &id) ||
      store_broadcast_get(engine_store(s->e), bot_id(b), id, &br) <= 0) {
    job_answer_error(j, 404, "no such broadcast");
    return;
  }
  job_answer(j, 200, broadcast_json(s, &br));
  broadcast_row_free(&br);
}

struct broadcast_list {
  server *s;
  json_t *list;
};

static void add_broadcast(void *ud, const broadcast_row *br) {
  struct broadcast_list *l = ud;
  json_array_append_new(l->list, broadcast_json(l->s, br));
}

static void run_broadcasts(server *s, job *j, bot *b) {
  struct broadcast_list l = {s, json_array()};
  if (store_broadcasts_each(engine_store(s->e), bot_id(b), 50, add_broadcast, &l)) {
    json_decref(l.list);
    job_answer_error(j, 500, store_error(engine_store(s->e)));
    return;
  }
  job_answer(j, 200, json_pack("{s:o}", "broadcasts", l.list));
}

/* GET /v1/bots/BOT/versions/N: its files; POST .../N/test: its transcripts
 * run (those it ships; in the sandbox and simulator, as a reload runs
 * them), nothing activated. */
static void run_version(server *s, job *j, bot *b) {
  long long number;
  char *files = whole_number(j->item, &number)
                    ? NULL
                    : store_version_files(engine_store(s->e), bot_id(b), number);
  if (!files) {
    job_answer_error(j, 404, "no such version of this bot");
    return;
  }
  if (j->kind == JOB_VERSION_FILES) {
    json_t *o = json_loads(files, 0, NULL);
    job_answer(j, 200, json_pack("{s:I,s:o}", "version", (json_int_t)number, "files",
                                 o ? o : json_object()));
    free(files);
    return;
  }
  char err[16384] = "", *label = xasprintf("%s (version %lld)", j->botname, number);
  script *sc = script_from_json(j->botname, label, files, err, sizeof err);
  free(label);
  free(files);
  int transcripts = 0, failed = -1;
  if (sc) {
    for (size_t i = 0; i < sc->nfiles; i++)
      transcripts += strncmp(sc->files[i].path, "tests/", 6) == 0;
    failed = engine_fill_bot_env(s->e, sc, err, sizeof err) ? -1
                                                            : chat_test_script(sc, err, sizeof err);
  }
  if (failed < 0 && !*err) snprintf(err, sizeof err, "the transcripts could not run");
  /* and the real messages replayed on it and on the active version, unless
   * it is the active one (deploy.h: what making it active would show) */
  json_t *replay = json_null();
  long messages = s->cfg.replay ? s->cfg.replay(j->botname) : 0;
  if (sc && failed == 0 && messages > 0 && bot_version(b) != number) {
    replay_options ro = {.bot_id = bot_id(b), .messages = messages,
                         .old_version = bot_script(b), .new_version = sc};
    replay_counts counts;
    char why[1024];
    json_t *r = replay_run(engine_store(s->e), &ro, &counts, why, sizeof why);
    if (r) replay = r;
    else replay = json_pack("{s:s}", "error", why);
  }
  if (sc) script_free(sc);
  job_answer(j, 200, json_pack("{s:I,s:i,s:i,s:o,s:o}", "version", (json_int_t)number,
                               "transcripts", transcripts, "failed", failed < 0 ? transcripts
                                                                                : failed,
                               "errors", lines_of(err), "replay", replay));
}

/* GET /v1/bots/BOT/media/ID: a WhatsApp media file, fetched from the
 * Graph API with the bot's access token by the media thread (1: it
 * answers), or 404 for a bot without the channel. */
static int run_media(server *s, job *j) {
  const char *token = s->cfg.secret ? s->cfg.secret(j->botname, "whatsapp_access_token") : NULL;
  const char *api = s->cfg.secret ? s->cfg.secret(j->botname, "whatsapp_api_url") : NULL;
  if (!token || !*token || !api || !*api || !s->media) {
    job_answer_error(j, 404, "this bot has no WhatsApp channel (whatsapp_access_token)");
    return 0;
  }
  media_fetcher_submit(s->media, j, api, token);
  return 1;
}

int admin_run(server *s, job *j) {
  if (j->kind == JOB_METRICS) {
    run_metrics(s, j);
    return 0;
  }
  bot *b = engine_find_bot(s->e, j->botname);
  if (j->kind == JOB_RELOAD) {
    run_reload(s, j, b); /* a new bot is created the same way */
  } else if (!b) {
    job_answer_error(j, 404, "no such bot");
  } else if (j->kind == JOB_CONTACTS) {
    run_contacts(s, j, b);
  } else if (j->kind == JOB_CONTACT || j->kind == JOB_CONTACT_MESSAGES) {
    run_contact(s, j, b);
  } else if (j->kind == JOB_BROADCAST_CREATE) {
    run_broadcast_create(s, j, b);
  } else if (j->kind == JOB_BROADCAST_PREVIEW) {
    run_broadcast_preview(s, j, b);
  } else if (j->kind == JOB_BROADCASTS) {
    run_broadcasts(s, j, b);
  } else if (j->kind == JOB_BROADCAST_CANCEL) {
    char err[1024];
    long long id;
    int rc = whole_number(j->item, &id) ? 0 : engine_broadcast_cancel(s->e, b, id, err, sizeof err);
    if (rc < 0) job_answer_error(j, 500, err);
    else if (rc == 0) job_answer_error(j, 409, "no such broadcast running (done, cancelled or unknown)");
    else job_answer(j, 200, json_pack("{s:s}", "status", "cancelled"));
  } else if (j->kind == JOB_CONTACT_ERASE) {
    int away = forward_admin(s, j, b);
    if (away) return away > 0;
    char err[1024];
    int rc = engine_erase_contact(s->e, b, j->item, err, sizeof err);
    if (rc < 0) job_answer_error(j, 500, err);
    else if (rc == 0) job_answer_error(j, 404, "no such contact");
    else job_answer(j, 200, json_pack("{s:s}", "status", "erased"));
  } else if (j->kind == JOB_CONTACT_UPDATE) {
    return run_contact_update(s, j, b);
  } else if (j->kind == JOB_CONTACTS_IMPORT) {
    run_contacts_import(s, j, b);
  } else if (j->kind == JOB_CONTACTS_CSV) {
    run_contacts_csv(s, j, b);
  } else if (j->kind == JOB_MEDIA) {
    return run_media(s, j);
  } else if (j->kind == JOB_LINKS) {
    run_links(s, j, b);
  } else if (j->kind == JOB_CLICKS) {
    run_clicks(s, j, b);
  } else if (j->kind == JOB_TRANSCRIPT) {
    run_transcript(s, j, b);
  } else if (j->kind == JOB_CONSENT_CSV) {
    run_consent_csv(s, j, b);
  } else if (j->kind == JOB_BROADCAST) {
    run_broadcast(s, j, b);
  } else if (j->kind == JOB_VERSION_FILES || j->kind == JOB_VERSION_TEST) {
    run_version(s, j, b);
  } else if (j->kind == JOB_VERSIONS) {
    json_t *versions = json_array();
    store_versions_each(engine_store(s->e), bot_id(b), add_version, versions);
    job_answer(j, 200, json_pack("{s:o}", "versions", versions));
  } else {
    run_rollback(s, j, b);
  }
  return 0;
}
