/* chat_pull: a conversation from the store as a .chat transcript
 * (chat_pull.h). */
#include "chat_pull.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "channel.h"
#include "chat_line.h"
#include "store_console.h"
#include "store_history.h"
#include "store_links.h"

/* ---------------------------------------------------------------- what is read */

typedef struct pulled_message {
  int64_t id, at, broadcast_id, reply_to;
  char *direction, *text, *status;
} pulled_message;

typedef struct pulled_answer {
  int64_t message_id, at;
  char *method, *url, *error, *body;
  long status;
  int truncated;
} pulled_answer;

typedef struct pulled_event { /* a click, or a handler's error */
  int64_t at, message_id;
  char *text, *url, *agent; /* an error's text; a click's URL and user agent */
  int is_bot;
  int with_message; /* the error of a message's handler: written after it */
} pulled_event;

typedef struct pulled {
  pulled_message *m;
  size_t nm, capm;
  pulled_answer *a;
  size_t na, capa;
  pulled_event *clicks, *errors;
  size_t nclicks, capclicks, nerrors, caperrors;
  char **replies; /* what people replied in the console, "at\ttext" */
  size_t nreplies, capreplies;
} pulled;

#define GROW(v, n, cap)                                          \
  do {                                                           \
    if ((n) == (cap)) {                                          \
      (cap) = (cap) ? (cap) * 2 : 16;                            \
      (v) = xrealloc((v), (cap) * sizeof *(v));                  \
    }                                                            \
  } while (0)

static char *dup_or_null(const char *s) { return s ? xstrdup(s) : NULL; }

static void add_message(void *ud, const history_message *h) {
  pulled *p = ud;
  GROW(p->m, p->nm, p->capm);
  /* a message held by quiet hours shows when it went */
  p->m[p->nm++] = (pulled_message){.id = h->id, .at = h->send_at > 0 ? h->send_at : h->at,
                                   .broadcast_id = h->broadcast_id, .reply_to = h->reply_to,
                                   .direction = xstrdup(h->direction),
                                   .text = xstrdup(h->text ? h->text : ""),
                                   .status = xstrdup(h->status ? h->status : "")};
}

static void add_answer(void *ud, const http_answer_row *r) {
  pulled *p = ud;
  GROW(p->a, p->na, p->capa);
  p->a[p->na++] = (pulled_answer){.message_id = r->message_id, .at = r->at,
                                  .method = xstrdup(r->method), .url = xstrdup(r->url),
                                  .error = dup_or_null(r->error), .body = dup_or_null(r->body),
                                  .status = r->status, .truncated = r->truncated};
}

static void add_click(void *ud, const click_row *k) {
  pulled *p = ud;
  GROW(p->clicks, p->nclicks, p->capclicks);
  p->clicks[p->nclicks++] = (pulled_event){.at = k->at, .message_id = k->message_id,
                                           .url = xstrdup(k->url),
                                           .agent = xstrdup(k->user_agent),
                                           .is_bot = k->is_bot};
}

static void add_error(void *ud, int64_t message_id, const char *text, int64_t at) {
  pulled *p = ud;
  GROW(p->errors, p->nerrors, p->caperrors);
  p->errors[p->nerrors++] = (pulled_event){.at = at, .message_id = message_id,
                                           .text = xstrdup(text ? text : "")};
}

static void add_action(void *ud, const operator_action *a) {
  pulled *p = ud;
  if (strcmp(a->action, "reply") != 0) return;
  GROW(p->replies, p->nreplies, p->capreplies);
  p->replies[p->nreplies++] = xasprintf("%lld\t%s", (long long)a->at, a->text);
}

static void pulled_free(pulled *p) {
  for (size_t i = 0; i < p->nm; i++) {
    free(p->m[i].direction);
    free(p->m[i].text);
    free(p->m[i].status);
  }
  for (size_t i = 0; i < p->na; i++) {
    free(p->a[i].method);
    free(p->a[i].url);
    free(p->a[i].error);
    free(p->a[i].body);
  }
  for (size_t i = 0; i < p->nclicks; i++) {
    free(p->clicks[i].url);
    free(p->clicks[i].agent);
  }
  for (size_t i = 0; i < p->nerrors; i++) free(p->errors[i].text);
  for (size_t i = 0; i < p->nreplies; i++) free(p->replies[i]);
  free(p->m);
  free(p->a);
  free(p->clicks);
  free(p->errors);
  free(p->replies);
}

/* ---------------------------------------------------------------- writing */

typedef struct writer_ctx {
  buf *out;
  const char *real, *shown; /* the contact's address, and as written */
  const char *real_digits, *shown_digits;
  int links; /* captures made for short links */
} writer_ctx;

/* s with the contact's number (and its digits) replaced by the masked
 * one, when masked; a copy. */
static char *masked(const writer_ctx *w, const char *s) {
  if (strcmp(w->real, w->shown) == 0) return xstrdup(s);
  buf b = {0};
  const char *p = s;
  size_t nd = strlen(w->real_digits);
  while (*p) {
    if (nd >= 4 && strncmp(p, w->real_digits, nd) == 0) {
      buf_puts(&b, w->shown_digits);
      p += nd;
    } else {
      buf_add(&b, p, 1);
      p++;
    }
  }
  if (!b.data) buf_puts(&b, "");
  return b.data;
}

/* The length of a short link at p (http(s)://...../l/ and 12 letters and
 * digits, then the end or a character no code has), or 0. */
static size_t short_link_at(const char *p) {
  if (strncmp(p, "http://", 7) != 0 && strncmp(p, "https://", 8) != 0) return 0;
  size_t n = 0;
  while (p[n] && p[n] != ' ' && p[n] != '\n') n++;
  if (n < 16 || strncmp(p + n - 15, "/l/", 3) != 0) return 0;
  for (size_t i = n - 12; i < n; i++)
    if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'z') ||
          (p[i] >= 'A' && p[i] <= 'Z')))
      return 0;
  return n;
}

/* "< ADDRESS text", as the simulator's /save writes it, but for a short
 * link: a capture (its code differs from one run to the next), the rest of
 * the text exact ({{ written \{{). */
static size_t link_at(const char *t, const char *p) {
  return p == t || p[-1] == ' ' || p[-1] == '\n' || p[-1] == '(' ? short_link_at(p) : 0;
}

static void put_expected(writer_ctx *w, const char *text) {
  char *t = masked(w, text);
  const char *p = t;
  while (*p && !link_at(t, p)) p++;
  if (!*p) { /* no short link */
    chat_line_expected(w->out, w->shown, t);
    free(t);
    return;
  }
  buf_printf(w->out, "< %s ", w->shown);
  for (p = t; *p;) {
    size_t n = link_at(t, p);
    if (n) {
      buf_printf(w->out, "{{link%d:https?://[^ ]+/l/[0-9A-Za-z]{12}}}", ++w->links);
      p += n;
    } else if (p[0] == '{' && p[1] == '{') {
      buf_puts(w->out, "\\{{");
      p += 2;
    } else {
      char one[2] = {*p++, 0};
      chat_line_text(w->out, one);
    }
  }
  buf_puts(w->out, "\n");
  free(t);
}

/* "~ 1d2h3m4s5ms" */
static void put_wait(buf *b, int64_t ms) {
  static const struct {
    int64_t ms;
    const char *unit;
  } units[] = {{86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}, {1, "ms"}};
  buf_puts(b, "~ ");
  for (size_t i = 0; i < sizeof units / sizeof *units; i++)
    if (ms >= units[i].ms) {
      buf_printf(b, "%lld%s", (long long)(ms / units[i].ms), units[i].unit);
      ms %= units[i].ms;
    }
  buf_puts(b, "\n");
}

/* A comment line: what the transcript does not play again. */
static void put_comment(writer_ctx *w, const char *what, const char *text) {
  char *t = masked(w, text);
  buf_printf(w->out, "# (%s: ", what);
  chat_line_text(w->out, t);
  buf_puts(w->out, ")\n");
  free(t);
}

/* "! /regex/" of an error: the path and line it names left out (the bot's
 * path is the test's), the rest matched as written. */
static void put_error(writer_ctx *w, const char *text) {
  char *t = masked(w, chat_error_tail(text));
  buf_puts(w->out, "! /");
  chat_line_regex_literal(w->out, t, strlen(t));
  buf_puts(w->out, "/\n");
  free(t);
}

static void put_answer(writer_ctx *w, const pulled_answer *a) {
  char *url = masked(w, a->url);
  if (a->status <= 0) {
    int timeout = a->error && strstr(a->error, "timed out");
    buf_printf(w->out, "@http %s %s -> %s%s\n", a->method, url, timeout ? "timeout" : "error ",
               timeout ? "" : (a->error ? a->error : "no response"));
  } else if (a->truncated) {
    buf_printf(w->out, "# (the answer to %s %s was %ld, its body not kept: larger than %d bytes "
               "or not text; write it here)\n@http %s %s -> %ld\n", a->method, url, a->status,
               HTTP_ANSWER_KEPT, a->method, url, a->status);
  } else {
    char *body = masked(w, a->body ? a->body : "");
    buf_printf(w->out, "@http %s %s -> %ld ", a->method, url, a->status);
    chat_line_text(w->out, body);
    buf_puts(w->out, "\n");
    free(body);
  }
  free(url);
}

/* The snapshot as @contact's JSON form, or the contact as it is now. */
static void put_contact(writer_ctx *w, const snapshot_row *s, const contact_row *now) {
  json_t *o = json_object();
  const char *status = s ? s->status : now->status;
  const char *fields = s ? s->fields : now->fields, *tags = s ? s->tags : now->tags;
  const char *state = s ? s->state : NULL, *expect = s ? s->expect : NULL;
  const char *zone = s ? s->timezone : now->timezone;
  json_object_set_new(o, "status", json_string(status ? status : "subscribed"));
  json_t *f = json_loads(fields ? fields : "{}", 0, NULL), *t = json_loads(tags ? tags : "[]", 0, NULL);
  json_object_set_new(o, "fields", json_is_object(f) ? f : json_object());
  if (json_is_object(t)) { /* a set: its names */
    json_t *list = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(t, k, v) json_array_append_new(list, json_string(k));
    json_decref(t);
    t = list;
  }
  json_object_set_new(o, "tags", json_is_array(t) ? t : json_array());
  if (zone) json_object_set_new(o, "timezone", json_string(zone));
  json_t *st = state ? json_loads(state, 0, NULL) : NULL;
  if (json_is_object(st) && json_object_size(st)) json_object_set_new(o, "state", st);
  else json_decref(st);
  if (expect) json_object_set_new(o, "expect", json_string(expect));
  json_object_set_new(o, "joined", json_boolean(s ? s->joined : 1));
  char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(o);
  char *shown = masked(w, text);
  buf_printf(w->out, "@contact %s %s\n", w->shown, shown);
  free(shown);
  free(text);
}

/* Whether an outgoing message is a person's reply in the console. */
static int person_replied(const pulled *p, const pulled_message *m) {
  for (size_t i = 0; i < p->nreplies; i++) {
    char *tab = strchr(p->replies[i], '\t');
    if (tab && strcmp(tab + 1, m->text) == 0 && llabs(atoll(p->replies[i]) - m->at) < 1000)
      return 1;
  }
  return 0;
}

/* Writes an outgoing message: expected, or a comment when the transcript
 * does not make it. */
static void put_out(writer_ctx *w, const pulled *p, const pulled_message *m) {
  if (strcmp(m->status, "suppressed") == 0) put_comment(w, "suppressed, the contact opted out", m->text);
  else if (strcmp(m->status, "failed") == 0) put_comment(w, "not sent, failed", m->text);
  else if (m->broadcast_id) put_comment(w, "a broadcast, not played again", m->text);
  else if (person_replied(p, m)) put_comment(w, "a person replied in the console", m->text);
  else put_expected(w, m->text);
}

/* ---------------------------------------------------------------- the timeline */

typedef struct step {
  int64_t at;
  int input;  /* a message in or a click: before what happened at that time */
  int kind;   /* 0 a message, 1 a click, 2 an error */
  size_t i;
} step;

static int by_time(const void *a, const void *b) {
  const step *x = a, *y = b;
  if (x->at != y->at) return x->at < y->at ? -1 : 1;
  if (x->input != y->input) return x->input ? -1 : 1;
  if (x->kind != y->kind) return x->kind < y->kind ? -1 : 1;
  return x->i < y->i ? -1 : x->i > y->i;
}

static void format_utc(int64_t ms, char *out, size_t n) {
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, n, "%Y-%m-%d %H:%M:%S", &tm);
}

static const char *digits_of(const char *address, char *out, size_t n) {
  size_t k = 0;
  for (const char *p = address; *p && k + 1 < n; p++)
    if (*p >= '0' && *p <= '9') out[k++] = *p;
  out[k] = 0;
  return out;
}

int chat_pull(store_reader *rd, const pull_options *o, buf *out, char *err, size_t errlen) {
  contact_row c = {0};
  int found = store_contact_get(rd, o->bot_id, o->number, &c);
  if (found <= 0) {
    if (found < 0) snprintf(err, errlen, "%s", store_error(rd));
    return found;
  }
  pulled p = {0};
  int rc = store_history_messages(rd, c.id, o->last, add_message, &p);
  /* the transcript starts at a message the fan sent: what came before it
   * (a drip step, a broadcast) had causes the store does not keep */
  size_t first = 0;
  while (rc == 0 && first < p.nm && strcmp(p.m[first].direction, "in") != 0) first++;
  if (rc == 0 && first == p.nm) {
    pulled_free(&p);
    contact_row_free(&c);
    return 0;
  }
  int64_t t0 = rc == 0 ? p.m[first].at : 0;
  snapshot_row snap = {0};
  int has_snap = 0;
  if (rc == 0) {
    has_snap = store_snapshot_before(rd, c.id, p.m[first].id, &snap);
    if (has_snap < 0) rc = -1;
  }
  if (rc == 0) rc = store_http_answers_each(rd, c.id, t0, add_answer, &p);
  if (rc == 0) rc = store_clicks_each(rd, o->bot_id, NULL, c.id, 0, 1000, add_click, &p);
  if (rc == 0) rc = store_history_errors(rd, c.id, t0, add_error, &p);
  if (rc == 0) rc = store_operator_actions_each(rd, c.id, add_action, &p);
  if (rc) {
    snprintf(err, errlen, "%s", store_error(rd));
    snapshot_row_free(&snap);
    pulled_free(&p);
    contact_row_free(&c);
    return -1;
  }

  /* the contact's address as written: masked, on its channel */
  char real_digits[64], shown_digits[64];
  channel ch = channel_of(c.number);
  char *shown = o->mask ? xasprintf("%s%s", channel_prefix(ch), ch == CHANNEL_SMS ||
                                    ch == CHANNEL_WHATSAPP ? PULL_MASKED : "100")
                        : xstrdup(c.number);
  writer_ctx w = {.out = out, .real = c.number, .shown = shown,
                  .real_digits = digits_of(c.number, real_digits, sizeof real_digits),
                  .shown_digits = digits_of(shown, shown_digits, sizeof shown_digits)};

  char when[32], until[32];
  format_utc(t0, when, sizeof when);
  format_utc(p.m[p.nm - 1].at, until, sizeof until);
  buf_printf(out, "# %s: %s's conversation with %s, %s to %s UTC (parley pull)\n",
             o->bot ? o->bot : "the bot", shown, o->bot ? o->bot : "the bot", when, until);
  buf_puts(out, "# It plays again what the store kept: the fan's messages, the bot's "
                "answers, clicks,\n# handler errors and the answers requests got. Edit "
                "it to say what should have\n# happened. Limits: docs/transcripts.md "
                "(Pulling a live conversation).\n");
  buf_printf(out, "@clock %s UTC\n", when);
  if (has_snap > 0) {
    put_contact(&w, &snap, &c);
  } else if (c.first_seen < t0) {
    buf_puts(out, "# (the store kept nothing of the contact before this message: "
                  "as it is now)\n");
    put_contact(&w, NULL, &c);
  }
  /* answers to the requests of timers and events: first (the latest wins) */
  for (size_t i = 0; i < p.na; i++)
    if (!p.a[i].message_id) put_answer(&w, &p.a[i]);

  /* the steps, in time order; a message's replies follow it */
  step *steps = xcalloc(p.nm + p.nclicks + p.nerrors + 1, sizeof *steps);
  size_t ns = 0;
  int64_t first_id = p.m[first].id;
  for (size_t i = first; i < p.nm; i++) {
    int in = strcmp(p.m[i].direction, "in") == 0;
    if (!in && p.m[i].reply_to >= first_id) continue; /* with its message */
    steps[ns++] = (step){p.m[i].at, in, 0, i};
  }
  for (size_t i = 0; i < p.nclicks; i++)
    if (p.clicks[i].at >= t0) steps[ns++] = (step){p.clicks[i].at, 1, 1, i};
  for (size_t i = 0; i < p.nerrors; i++) {
    for (size_t k = first; k < p.nm && !p.errors[i].with_message; k++)
      p.errors[i].with_message = p.m[k].id == p.errors[i].message_id &&
                                 strcmp(p.m[k].direction, "in") == 0;
    if (p.errors[i].at >= t0 && !p.errors[i].with_message)
      steps[ns++] = (step){p.errors[i].at, 0, 2, i};
  }
  qsort(steps, ns, sizeof *steps, by_time);

  int64_t clock = t0 - t0 % 1000;
  for (size_t s = 0; s < ns; s++) {
    const step *st = &steps[s];
    if (st->at > clock) {
      put_wait(out, st->at - clock);
      clock = st->at;
    }
    if (st->kind == 2) {
      put_error(&w, p.errors[st->i].text);
    } else if (st->kind == 1) {
      const pulled_event *k = &p.clicks[st->i];
      int sent = 0; /* the link's message is one the transcript sends */
      for (size_t i = first; i < p.nm && !sent; i++) sent = p.m[i].id == k->message_id;
      char *url = masked(&w, k->url);
      if (sent) buf_printf(out, "@click %s %s %s\n", w.shown, url, k->agent);
      else put_comment(&w, "a click on a link sent before this transcript", url);
      free(url);
    } else if (!st->input) {
      put_out(&w, &p, &p.m[st->i]);
    } else {
      const pulled_message *m = &p.m[st->i];
      for (size_t i = 0; i < p.na; i++)
        if (p.a[i].message_id == m->id) put_answer(&w, &p.a[i]);
      char *text = masked(&w, m->text);
      buf_printf(out, "> %s ", w.shown);
      chat_line_text(out, text);
      buf_puts(out, "\n");
      free(text);
      for (size_t i = st->i + 1; i < p.nm; i++) /* its replies, in the order made */
        if (p.m[i].reply_to == m->id && strcmp(p.m[i].direction, "out") == 0)
          put_out(&w, &p, &p.m[i]);
      for (size_t i = 0; i < p.nerrors; i++) /* its handler's errors */
        if (p.errors[i].with_message && p.errors[i].message_id == m->id) {
          put_error(&w, p.errors[i].text);
          p.errors[i].with_message = 0; /* written */
        }
    }
  }
  free(steps);
  free(shown);
  snapshot_row_free(&snap);
  pulled_free(&p);
  contact_row_free(&c);
  return 1;
}
