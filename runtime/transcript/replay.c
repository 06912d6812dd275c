/* replay: real messages on the old and the new version (replay.h). */
#include "replay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_line.h"
#include "clock.h"
#include "engine.h"
#include "http_mock.h"
#include "store_history.h"
#include "util.h"

/* ---------------------------------------------------------------- what is replayed */

typedef struct real_message {
  int64_t id, contact_id, at;
  char *number, *text;
} real_message;

typedef struct real_messages {
  real_message *v;
  size_t n, cap;
} real_messages;

static void add_inbound(void *ud, int64_t id, int64_t contact_id, const char *number,
                        const char *text, int64_t at) {
  real_messages *l = ud;
  if (l->n == l->cap) l->v = xrealloc(l->v, (l->cap = l->cap ? l->cap * 2 : 256) * sizeof *l->v);
  l->v[l->n++] = (real_message){id, contact_id, at, xstrdup(number), xstrdup(text ? text : "")};
}

/* oldest first, a conversation's messages together */
static int by_conversation(const void *a, const void *b) {
  const real_message *x = a, *y = b;
  if (x->contact_id != y->contact_id) return x->contact_id < y->contact_id ? -1 : 1;
  return x->id < y->id ? -1 : x->id > y->id;
}

/* The answers one message's handler got, each given once, in order. */
typedef struct recorded {
  http_answer_row *v;
  char **owned; /* the rows' strings */
  size_t n, cap, nowned;
  unsigned char *used;
  int64_t message_id;
  int missing; /* a request no recorded answer matched */
} recorded;

static char *keep(recorded *r, const char *s) {
  if (!s) return NULL;
  r->owned = xrealloc(r->owned, (r->nowned + 1) * sizeof *r->owned);
  return r->owned[r->nowned++] = xstrdup(s);
}

static void add_answer(void *ud, const http_answer_row *a) {
  recorded *r = ud;
  if (a->message_id != r->message_id) return;
  if (r->n == r->cap) {
    r->cap = r->cap ? r->cap * 2 : 8;
    r->v = xrealloc(r->v, r->cap * sizeof *r->v);
    r->used = xrealloc(r->used, r->cap);
  }
  http_answer_row row = *a;
  row.method = keep(r, a->method);
  row.url = keep(r, a->url);
  row.error = keep(r, a->error);
  row.body = keep(r, a->body);
  r->used[r->n] = 0;
  r->v[r->n++] = row;
}

static void recorded_clear(recorded *r) {
  for (size_t i = 0; i < r->nowned; i++) free(r->owned[i]);
  r->nowned = r->n = 0;
  r->missing = 0;
}

static void recorded_free(recorded *r) {
  recorded_clear(r);
  free(r->owned);
  free(r->v);
  free(r->used);
}

/* http_mocks' fallback: the first answer not given yet to a request of the
 * same method and URL; none (or one whose body was not kept): unanswerable. */
static int answer_recorded(void *ud, const engine_http_request *q, engine_http_result *res) {
  recorded *r = ud;
  static const char *json_type[2] = {"content-type", "application/json"};
  for (size_t i = 0; i < r->n; i++) {
    const http_answer_row *a = &r->v[i];
    if (r->used[i] || strcmp(a->method, q->method) != 0 || strcmp(a->url, q->url) != 0) continue;
    r->used[i] = 1;
    if (a->truncated) break;
    *res = (engine_http_result){.status = a->status, .error = a->error, .body = a->body,
                                .body_len = a->body ? strlen(a->body) : 0};
    if (a->body && (a->body[0] == '{' || a->body[0] == '[')) {
      res->headers = json_type;
      res->nheaders = 1;
    }
    return 0;
  }
  r->missing = 1;
  *res = (engine_http_result){.error = "unanswerable: no answer to this request was recorded"};
  return 0;
}

/* ---------------------------------------------------------------- one version */

typedef struct version_run {
  engine *e;
  bot *b;
  http_mocks *http;
  int64_t now;
  buf out; /* what one message made: lines "TO\tTEXT" or "!\tERROR" */
  int errors;
} version_run;

static int64_t version_clock(void *ud) { return ((version_run *)ud)->now; }

/* A short link's code differs between two versions' runs: not a change. */
static void put_normalized(buf *b, const char *text) {
  for (const char *p = text; *p;) {
    const char *l = strstr(p, "/l/");
    if (!l) {
      buf_puts(b, p);
      return;
    }
    size_t n = 0;
    while (n < 12 && ((l[3 + n] >= '0' && l[3 + n] <= '9') || (l[3 + n] >= 'a' && l[3 + n] <= 'z') ||
                      (l[3 + n] >= 'A' && l[3 + n] <= 'Z')))
      n++;
    buf_add(b, p, (size_t)(l - p) + 3);
    if (n == 12) {
      buf_puts(b, "CODE");
      p = l + 15;
    } else {
      p = l + 3;
    }
  }
}

static void on_message(void *ud, const engine_message *m) {
  version_run *v = ud;
  buf_printf(&v->out, "%s\t", m->to);
  put_normalized(&v->out, m->text);
  buf_puts(&v->out, "\n");
}

static void on_action(void *ud, const engine_action *a) {
  version_run *v = ud;
  if (a->kind != ENGINE_ACTION_ERROR) return;
  v->errors++;
  buf_puts(&v->out, "!\t"); /* a line moved is not a new error */
  buf_puts(&v->out, chat_error_tail(a->detail ? a->detail : a->text));
  buf_puts(&v->out, "\n");
}

static int version_open(version_run *v, const script *sc, recorded *answers, char *err,
                        size_t errlen) {
  v->http = http_mocks_new();
  http_mocks_fallback(v->http, answer_recorded, answers);
  engine_observer obs = {on_message, on_action, v, NULL, 0};
  engine_options opt = {.db_path = ":memory:", .clock = version_clock, .clock_ud = v,
                        .observer = &obs};
  v->e = engine_open(&opt, err, errlen);
  if (!v->e) return -1;
  engine_on_http(v->e, http_mocks_start, v->http);
  int why;
  v->b = engine_install(v->e, script_copy(sc), &why, err, errlen);
  return v->b ? 0 : -1;
}

static void version_close(version_run *v) {
  if (v->e) engine_close(v->e);
  http_mocks_free(v->http);
  buf_free(&v->out);
}

/* m handled by v, the contact first set as s has it: what it made in v->out. */
static int version_handle(version_run *v, const real_message *m, const snapshot_row *s,
                          long *limit_hits, char *err, size_t errlen) {
  v->now = m->at;
  v->out.len = 0;
  if (v->out.data) v->out.data[0] = 0;
  v->errors = 0;
  int rc = engine_set_contact(v->e, v->b, m->number, s->status, s->fields, s->tags, s->timezone,
                              err, errlen);
  if (rc == 0)
    rc = engine_set_conversation(v->e, v->b, m->number, s->state ? s->state : "{}", s->expect,
                                 s->joined, err, errlen);
  if (rc) return -1;
  engine_seed_random(v->e, v->b, m->id); /* the same numbers in both versions */
  long before = engine_stats_of(v->e).limit_hits;
  inbound in = {.from = m->number, .text = m->text, .len = strlen(m->text)};
  if (engine_handle(v->e, v->b, &in, 1, err, errlen)) return -1;
  if (http_mocks_answer(v->http, v->e, err, errlen)) return -1;
  *limit_hits = engine_stats_of(v->e).limit_hits - before;
  return 0;
}

/* ---------------------------------------------------------------- the report */

/* "TO\tTEXT" lines as the report shows them: the fan's messages as their
 * text, another number's as "-> NUMBER: TEXT", an error as "error: ...". */
static json_t *outputs_json(const char *lines, const char *number) {
  json_t *a = json_array();
  char *copy = xstrdup(lines ? lines : "");
  for (char *save = NULL, *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
    char *tab = strchr(l, '\t');
    if (!tab) continue;
    *tab = 0;
    char *shown = strcmp(l, "!") == 0        ? xasprintf("error: %s", tab + 1)
                  : strcmp(l, number) == 0   ? xstrdup(tab + 1)
                                             : xasprintf("-> %s: %s", l, tab + 1);
    json_array_append_new(a, json_string(shown));
    free(shown);
  }
  free(copy);
  return a;
}

static int sends_to(const char *lines, const char *number) {
  size_t n = strlen(number);
  for (const char *p = lines; p && *p;) {
    if (strncmp(p, number, n) == 0 && p[n] == '\t') return 1;
    p = strchr(p, '\n');
    if (p) p++;
  }
  return 0;
}

static void add_example(json_t *examples, const char *kind, long count, const real_message *m,
                        const char *old_out, const char *new_out) {
  if (count > REPLAY_EXAMPLES) return;
  json_array_append_new(
      json_object_get(examples, kind),
      json_pack("{s:s, s:I, s:I, s:s, s:o, s:o}", "number", m->number, "message",
                (json_int_t)m->id, "at", (json_int_t)(m->at / 1000), "text", m->text, "old",
                outputs_json(old_out, m->number), "new", outputs_json(new_out, m->number)));
}

json_t *replay_run(store_reader *rd, const replay_options *o, replay_counts *counts,
                   char *err, size_t errlen) {
  *counts = (replay_counts){0};
  int64_t started = mono_ns();
  real_messages l = {0};
  long want = o->messages > 0 ? o->messages : REPLAY_DEFAULT;
  if (store_history_inbound(rd, o->bot_id, want, add_inbound, &l)) {
    snprintf(err, errlen, "%s", store_error(rd));
    return NULL;
  }
  qsort(l.v, l.n, sizeof *l.v, by_conversation);
  recorded answers = {0};
  version_run old = {0}, new = {0};
  json_t *report = NULL;
  char why[1024];
  if (version_open(&old, o->old_version, &answers, why, sizeof why)) {
    snprintf(err, errlen, "the running version does not load for the replay: %s", why);
    goto done;
  }
  if (version_open(&new, o->new_version, &answers, why, sizeof why)) {
    snprintf(err, errlen, "the new version does not load for the replay: %s", why);
    goto done;
  }
  json_t *examples = json_pack("{s:[], s:[], s:[], s:[], s:[]}", "changed", "errors", "limits",
                               "silent", "unanswerable");
  int64_t last_contact = 0;
  int failed = 0;
  for (size_t i = 0; i < l.n && !failed; i++) {
    const real_message *m = &l.v[i];
    if ((mono_ns() - started) / 1000000 >= REPLAY_BUDGET_MS) {
      counts->stopped = 1;
      break;
    }
    snapshot_row s;
    int has = store_snapshot_before(rd, m->contact_id, m->id, &s);
    if (has < 0) {
      snprintf(err, errlen, "%s", store_error(rd));
      failed = 1;
      break;
    }
    if (!has) { /* older than the records: nothing to start from */
      counts->skipped++;
      continue;
    }
    if (m->contact_id != last_contact) counts->conversations++, last_contact = m->contact_id;
    counts->messages++;
    recorded_clear(&answers);
    answers.message_id = m->id;
    if (store_http_answers_each(rd, m->contact_id, m->at, add_answer, &answers)) {
      snprintf(err, errlen, "%s", store_error(rd));
      snapshot_row_free(&s);
      failed = 1;
      break;
    }
    long old_limits = 0, new_limits = 0;
    for (size_t k = 0; k < answers.n; k++) answers.used[k] = 0;
    failed = version_handle(&old, m, &s, &old_limits, why, sizeof why) != 0;
    int missing = answers.missing;
    for (size_t k = 0; k < answers.n; k++) answers.used[k] = 0;
    answers.missing = 0;
    if (!failed) failed = version_handle(&new, m, &s, &new_limits, why, sizeof why) != 0;
    missing |= answers.missing;
    snapshot_row_free(&s);
    if (failed) {
      snprintf(err, errlen, "the replay failed at message %lld: %s", (long long)m->id, why);
      break;
    }
    const char *a = old.out.data ? old.out.data : "", *b = new.out.data ? new.out.data : "";
    if (missing) {
      add_example(examples, "unanswerable", ++counts->unanswerable, m, a, b);
    } else if (new_limits > old_limits) {
      add_example(examples, "limits", ++counts->limits, m, a, b);
    } else if (new.errors > 0 && strcmp(a, b) != 0) {
      add_example(examples, "errors", ++counts->errors, m, a, b);
    } else if (strcmp(a, b) == 0) {
      counts->identical++;
    } else if (sends_to(a, m->number) && !sends_to(b, m->number)) {
      add_example(examples, "silent", ++counts->silent, m, a, b);
    } else {
      add_example(examples, "changed", ++counts->changed, m, a, b);
    }
  }
  if (failed) {
    json_decref(examples);
    goto done;
  }
  report = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:o}", "messages",
                     (json_int_t)counts->messages, "conversations",
                     (json_int_t)counts->conversations, "identical",
                     (json_int_t)counts->identical, "changed", (json_int_t)counts->changed,
                     "errors", (json_int_t)counts->errors, "limits",
                     (json_int_t)counts->limits, "silent", (json_int_t)counts->silent,
                     "unanswerable", (json_int_t)counts->unanswerable, "skipped",
                     (json_int_t)counts->skipped, "ms",
                     (json_int_t)((mono_ns() - started) / 1000000), "stopped",
                     counts->stopped, "examples", examples);
done:
  version_close(&old);
  version_close(&new);
  recorded_free(&answers);
  for (size_t i = 0; i < l.n; i++) {
    free(l.v[i].number);
    free(l.v[i].text);
  }
  free(l.v);
  return report;
}
