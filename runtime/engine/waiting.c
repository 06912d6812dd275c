/* waiting: handlers suspended on an HTTP request (http.get, http.post), and
 * the conversations they keep busy.
 *
 * A handler that makes a request yields (sandbox_suspend). Its invocation
 * (the effects collected so far, its Lua thread, the budget it used) waits
 * in its worker's list here while the engine goes on with other
 * conversations; the answer resumes it (resume.c, engine_http_done), and
 * what it then did is committed with the next batch, like any handler's
 * effects.
 *
 * Its conversation is busy meanwhile: whatever else comes for that contact
 * (messages, events, delivery reports) is stored, compliance applied at
 * once, and its handler recorded as a timer of kind "rerun" due now, which
 * advance runs once the conversation is free, in order (resume.c,
 * waiting_rerun). The waiting handler
 * has such a record too (or is a timer still pending): after a crash it
 * runs again from the start, so a request may be made twice.
 *
 * A bot version replaced while some of its handlers wait is kept (retired)
 * until the last of them ends; their effects go to the bot's current
 * version. */
#include <curl/curl.h>
#include <jansson.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "engine_internal.h"
#include "sandbox.h"

/* ---------------------------------------------------------------- busy */

static int bot_busy(engine *e, int64_t bot_id) {
  for (waiting *w = e->waiting; w; w = w->next)
    if (w->b->id == bot_id && w->contact_id == 0) return 1;
  return 0;
}

/* Pending rerun records by conversation: few (handlers waiting and what
 * queued behind them), so a list. */
static long reruns_of(engine *e, int64_t bot_id, int64_t contact_id) {
  for (size_t i = 0; i < e->nreruns; i++)
    if (e->reruns[i].bot_id == bot_id && e->reruns[i].contact_id == contact_id)
      return e->reruns[i].n;
  return 0;
}

void waiting_reruns_add(engine *e, int64_t bot_id, int64_t contact_id, long d) {
  size_t i = 0;
  while (i < e->nreruns &&
         !(e->reruns[i].bot_id == bot_id && e->reruns[i].contact_id == contact_id))
    i++;
  if (i == e->nreruns) {
    if (d <= 0) return;
    e->reruns = xrealloc(e->reruns, (e->nreruns + 1) * sizeof *e->reruns);
    e->reruns[e->nreruns++] = (struct reruns){bot_id, contact_id, 0};
  }
  if ((e->reruns[i].n += d) <= 0) e->reruns[i] = e->reruns[--e->nreruns];
}

static void count_reruns(void *ud, int64_t bot_id, int64_t contact_id, long n) {
  waiting_reruns_add(ud, bot_id, contact_id, n);
}

int waiting_reload(engine *e) {
  while (e->waiting) { /* their records (if they were committed) run them again */
    waiting *w = e->waiting;
    e->waiting = w->next;
    sandbox_release(w->b->sb, w->co, SANDBOX_ERROR);
    waiting_free(e, w);
  }
  e->nwaiting = 0;
  e->nreruns = 0;
  return store_reruns_pending(e->rd, count_reruns, e);
}

void waiting_forget_contact(engine *e, int64_t bot_id, int64_t contact_id) {
  waiting_reruns_add(e, bot_id, contact_id, -reruns_of(e, bot_id, contact_id));
}

int waiting_busy(engine *e, bot *b, contact *c) {
  if (!e->nwaiting && !e->nreruns) return 0;
  if (c ? c->busy : bot_busy(e, b->id)) return 1;
  return reruns_of(e, b->id, c ? c->id : 0) > 0;
}

int waiting_has_contact(engine *e, int64_t contact_id) {
  for (waiting *w = e->waiting; w; w = w->next)
    if (w->contact_id == contact_id) return 1;
  return 0;
}

/* Any worker's: a handler of another conversation may cancel the timer
 * (the lists change under waits_mu while the workers run). */
int waiting_has_record(engine *e, int64_t id) {
  engine_group *g = e->group;
  int found = 0;
  pthread_mutex_lock(&g->waits_mu);
  for (int k = 0; k < g->n && !found; k++)
    for (waiting *w = g->w[k]->waiting; w && !found; w = w->next) found = w->record_id == id;
  pthread_mutex_unlock(&g->waits_mu);
  return found;
}

int waiting_timer_busy(engine *e, bot *b, const timer_row *t) {
  if (!e->nwaiting) return 0;
  if (!t->number) return bot_busy(e, b->id);
  contact *c = contacts_find(&e->cache, b->id, t->number);
  return c && c->busy; /* a busy contact is never evicted */
}

/* ---------------------------------------------------------------- records */

int64_t waiting_record(engine *e, bot *b, contact *c, run_kind kind, const inbound *m,
                       int64_t msg_id, const char *args) {
  if (e->run->timer.id && !e->run->timer.every)
    return e->run->timer.id; /* the timer itself stays pending */
  json_t *o = json_object();
  json_object_set_new(o, "kind", json_string(run_kind_name(kind)));
  json_t *text = json_stringn(m->text, m->len); /* texts are UTF-8 by now */
  json_object_set_new(o, "text", text ? text : json_string(""));
  if (msg_id) json_object_set_new(o, "id", json_integer(msg_id));
  if (m->provider_id) json_object_set_new(o, "provider_id", json_string(m->provider_id));
  if (m->to) json_object_set_new(o, "to", json_string(m->to));
  if (m->media_json) json_object_set_new(o, "media", json_string(m->media_json));
  if (args) json_object_set_new(o, "args", json_string(args));
  char *json = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  int64_t now = engine_now(e);
  timer_row t = {.id = next_timer_id(e), .bot_id = b->id, .contact_id = c ? c->id : 0,
                 .number = c ? c->number : NULL, .due_at = now,
                 .handler = (char *)run_kind_name(kind),
                 .args = json, .kind = "rerun"};
  journal_timer_add(e->jr, &t, now);
  free(json);
  if (now < e->next_new_due) e->next_new_due = now;
  if (waiting_busy(e, b, c))
    action(e, b, c ? c->number : "", "%s waits for this conversation's handler to finish",
           run_kind_name(kind));
  waiting_reruns_add(e, b->id, c ? c->id : 0, 1);
  return t.id;
}

/* ---------------------------------------------------------------- requests */

/* host matches an allow entry: the same name, or a "*.domain" entry and a
 * host under that domain. */
static int host_allowed(const bot *b, const char *host) {
  size_t hl = strlen(host);
  for (size_t i = 0; i < b->nhttp_allow; i++) {
    const char *a = b->http_allow[i];
    if (a[0] == '*' && a[1] == '.') {
      size_t dl = strlen(a + 1); /* ".domain" */
      if (hl > dl && strcasecmp(host + hl - dl, a + 1) == 0) return 1;
    } else if (strcasecmp(host, a) == 0) {
      return 1;
    }
  }
  return 0;
}

/* The URL's host if it is an http(s) URL; NULL with a sentence in err. */
static char *url_host(const char *url, char *err, size_t errlen) {
  CURLU *u = curl_url();
  char *scheme = NULL, *host = NULL, *out = NULL;
  if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
    snprintf(err, errlen, "'%.200s' is not a URL like https://api.example.com/path", url);
  } else if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0) {
    snprintf(err, errlen, "'%.200s': only http and https URLs can be fetched", url);
  } else {
    out = xstrdup(host);
    size_t n = strlen(out);
    if (n > 2 && out[0] == '[' && out[n - 1] == ']') { /* an IPv6 literal */
      memmove(out, out + 1, n - 2);
      out[n - 2] = 0;
    }
  }
  curl_free(scheme);
  curl_free(host);
  curl_url_cleanup(u);
  return out;
}

int waiting_http_start(void *ctx, const char *method, const char *url, const char *body,
                       size_t body_len, const char *headers_json, long timeout_ms, char *err,
                       size_t errlen) {
  invocation *inv = ctx;
  engine *e = inv->e;
  if (!e->http_start && !e->http_paused) {
    snprintf(err, errlen, "HTTP requests are not available here");
    return -1;
  }
  char *host = url_host(url, err, errlen);
  if (!host) return -1;
  int allowed = host_allowed(inv->version, host); /* the running code's config */
  if (!allowed) {
    snprintf(err, errlen, "the bot may not reach %s; list the hosts it may reach in "
                          "bot.config{http = {allow = {\"%s\"}}}", host, host);
    free(host);
    return -1;
  }
  free(host);
  if (inv->nhttp >= MAX_HTTP_PER_HANDLER) {
    snprintf(err, errlen, "more than %d requests from one handler", MAX_HTTP_PER_HANDLER);
    return -1;
  }
  /* the limits are the server's and the bot's, over every worker (whose
   * lists change under waits_mu while they run) */
  size_t of_bot = 0, all = 0;
  engine_group *g = e->group;
  pthread_mutex_lock(&g->waits_mu);
  for (int k = 0; k < g->n; k++) {
    all += g->w[k]->nwaiting;
    for (waiting *w = g->w[k]->waiting; w; w = w->next) of_bot += w->b->id == inv->b->id;
  }
  pthread_mutex_unlock(&g->waits_mu);
  if (all >= MAX_WAITING || of_bot >= MAX_WAITING_PER_BOT) {
    snprintf(err, errlen, "%d handlers %s are waiting for responses already; try again later",
             all >= MAX_WAITING ? MAX_WAITING : MAX_WAITING_PER_BOT,
             all >= MAX_WAITING ? "of the server" : "of this bot");
    return -1;
  }
  inv->nhttp++;
  free(inv->http.method);
  free(inv->http.url);
  free(inv->http.body);
  free(inv->http.headers_json);
  inv->http = (struct http_call){xstrdup(method), xstrdup(url),
                                 body ? xstrndup(body, body_len) : NULL,
                                 headers_json ? xstrdup(headers_json) : NULL, body_len,
                                 timeout_ms};
  return 0;
}

void waiting_start_request(engine *e, waiting *w) {
  struct http_call *h = &w->inv->http;
  /* unique over the workers, and naming its worker (engine_http_done) */
  w->id = ++e->last_http_id * MAX_ENGINE_THREADS + (uint64_t)e->worker;
  /* stopping: it waits, and runs again at the next start */
  char *what = xasprintf("%s %s%s", h->method, h->url, e->http_start ? "" : ": not sent (stopping)");
  action_logged(e, w->inv->b, w->number ? w->number : "", ENGINE_ACTION_HTTP, what, "http %s",
                what);
  free(what);
  if (!e->http_start) return;
  engine_http_request r = {.id = w->id, .bot = w->inv->b->name, .method = h->method,
                           .url = h->url, .body = h->body, .body_len = h->body_len,
                           .headers_json = h->headers_json, .timeout_ms = h->timeout_ms,
                           .max_bytes = w->inv->version->http_max_bytes};
  e->http_start(e->http_ud, &r);
}

int waiting_begin(engine *e, invocation *inv, lua_State *co, run_kind kind, const inbound *m,
                  int64_t msg_id, const char *args) {
  bot *b = inv->b;
  contact *c = inv->c;
  const struct firing *t = &e->run->timer;
  int is_rerun = !t->id || t->rerun || t->every;
  int64_t record = waiting_record(e, b, c, kind, m, msg_id, args);
  store_unlock(inv); /* others may change bot.store while it waits */
  waiting *w = xcalloc(1, sizeof *w);
  w->record_is_rerun = is_rerun;
  w->inv = xmalloc(sizeof *inv);
  memcpy(w->inv, inv, sizeof *inv);
  w->co = co;
  w->used = sandbox_budget_used(b->sb);
  w->b = inv->version;
  w->contact_id = c ? c->id : 0;
  w->number = c ? xstrdup(c->number) : NULL;
  w->record_id = record;
  w->kind = kind;
  w->msg_id = msg_id;
  w->reply_from = e->run->reply_from ? xstrdup(e->run->reply_from) : NULL;
  w->answering = e->run->answering;
  w->at = engine_now(e);
  b->nwaiting++;
  if (c) c->busy = 1;
  pthread_mutex_lock(&e->group->waits_mu);
  w->next = e->waiting;
  e->waiting = w;
  e->nwaiting++;
  pthread_mutex_unlock(&e->group->waits_mu);
  waiting_start_request(e, w);
  return 0;
}

void waiting_free(engine *e, waiting *w) {
  if (w->inv) {
    invocation_free(w->inv);
    free(w->inv);
  }
  bot_release(e, w->b);
  free(w->number);
  free(w->reply_from);
  free(w);
}

void waiting_free_all(engine *e) {
  while (e->waiting) {
    waiting *w = e->waiting;
    e->waiting = w->next;
    waiting_free(e, w);
  }
  e->nwaiting = 0;
}

/* ---------------------------------------------------------------- answers */

/* On the resumed thread, under the handler's limits: a body too big for
 * its memory limit stops it like any allocation would. */
int waiting_http_result(void *ctx, lua_State *L) {
  struct http_answer *a = &((invocation *)ctx)->answer;
  if (a->status <= 0) {
    lua_pushnil(L);
    lua_pushstring(L, a->error ? a->error : "no response");
    return 2;
  }
  lua_pushinteger(L, a->status);
  lua_pushlstring(L, a->body ? a->body : "", a->body_len);
  lua_createtable(L, 0, (int)a->nheaders);
  for (size_t i = 0; i < a->nheaders; i++) {
    lua_pushstring(L, a->headers[2 * i + 1]);
    lua_setfield(L, -2, a->headers[2 * i]);
  }
  http_answer_free(a);
  return 3;
}

void engine_on_http(engine *e, void (*start)(void *ud, const engine_http_request *r), void *ud) {
  for (int k = 0; k < e->group->n; k++) {
    engine *w = e->group->w[k];
    w->http_paused = !start && (w->http_start || w->http_paused);
    w->http_start = start;
    w->http_ud = ud;
  }
}

size_t engine_http_waiting(engine *e) {
  size_t n = 0;
  for (int k = 0; k < e->group->n; k++) n += e->group->w[k]->nwaiting;
  return n;
}
