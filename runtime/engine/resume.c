/* resume: a waiting handler goes on. The answer to its request resumes it
 * (engine_http_done), and what came for its conversation while it waited
 * runs from its rerun records once the conversation is free (waiting_rerun,
 * called by advance). The list of waiting handlers and the records are
 * waiting.c's. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine_internal.h"
#include "sandbox.h"

static const char *str_field(json_t *o, const char *key) {
  return json_string_value(json_object_get(o, key));
}

int waiting_rerun(engine *e, bot *b, contact *c, const timer_row *t, char *err, size_t errlen) {
  json_t *o = json_loads(t->args, 0, NULL);
  const char *name = str_field(o, "kind");
  int kind = name ? run_kind_of(name) : -1;
  json_t *text = json_object_get(o, "text");
  if (kind < 0 || !json_is_string(text)) {
    json_decref(o);
    snprintf(err, errlen, "a rerun timer without a handler to run");
    waiting_reruns_add(e, b->id, c ? c->id : 0, -1);
    return 1;
  }
  inbound m = {.text = json_string_value(text), .len = json_string_length(text),
               .provider_id = str_field(o, "provider_id"), .to = str_field(o, "to"),
               .media_json = str_field(o, "media")};
  int64_t msg_id = json_integer_value(json_object_get(o, "id"));
  int rc = 0;
  /* as when it came: no script runs for an opted-out fan's message; what it
   * sends goes from the number it came to, as an answer */
  if (!(kind == RUN_MESSAGE && c && c->opted_out)) {
    run_ctx *run = e->run, saved = *run;
    run->reply_from = own_number(b, m.to);
    run->answering = kind != RUN_STATUS && kind != RUN_TIMER && kind != RUN_LATE_TIMER;
    run->resumed = kind == RUN_MESSAGE ? msg_id : 0;
    run->resumed_from = kind == RUN_MESSAGE && c ? c->number : NULL;
    rc = run_script(e, b, c, (run_kind)kind, &m, msg_id, str_field(o, "args"), NULL, err,
                    errlen);
    run->reply_from = saved.reply_from;
    run->answering = saved.answering;
    run->resumed = saved.resumed;
    run->resumed_from = saved.resumed_from;
  }
  json_decref(o);
  if (rc != 2) /* 2: it waits, its record with it */
    waiting_reruns_add(e, b->id, c ? c->id : 0, -1);
  return rc;
}

static void keep_answer(struct http_answer *a, const engine_http_result *r) {
  http_answer_free(a);
  a->status = r->status;
  a->error = r->status > 0 ? NULL : xstrdup(r->error ? r->error : "no response");
  if (r->status > 0) {
    a->body = xstrndup(r->body ? r->body : "", r->body ? r->body_len : 0);
    a->body_len = r->body ? r->body_len : 0;
    a->headers = xcalloc(2 * r->nheaders + 1, sizeof *a->headers);
    for (size_t i = 0; i < 2 * r->nheaders; i++) a->headers[i] = xstrdup(r->headers[i]);
    a->nheaders = r->nheaders;
  }
}

/* Resumes w with the answer; 0, or -1 if the store failed. */
static int resume(engine *e, waiting *w, const engine_http_result *r) {
  bot *cur = engine_find_bot(e, w->b->name);
  if (!cur) cur = w->b;
  contact *c = NULL;
  char err[1024] = "";
  if (w->number) {
    /* busy, so cached, unless it was erased (a failed write drops the
     * waiting handlers instead) */
    c = contacts_find(&e->cache, cur->id, w->number);
    if (c && c->id != w->contact_id) c = NULL;
    if (!c) { /* erased while the handler waited */
      action(e, cur, w->number, "the answer to a waiting handler is dropped: the contact is gone");
      sandbox_release(w->b->sb, w->co, SANDBOX_ERROR);
      journal_timer_done(e->jr, w->record_id, "skipped", "the contact was erased", e->run->now);
      if (w->record_is_rerun) waiting_reruns_add(e, w->b->id, w->contact_id, -1);
      waiting_free(e, w);
      return 0;
    }
  }
  char *what = r->status > 0 ? xasprintf("%s %s -> %ld (%zu bytes)", w->inv->http.method,
                                         w->inv->http.url, r->status, r->body_len)
                             : xasprintf("%s %s -> %s", w->inv->http.method, w->inv->http.url,
                                         r->error ? r->error : "no response");
  action_logged(e, cur, w->number ? w->number : "",
                r->status > 0 ? ENGINE_ACTION_HTTP : ENGINE_ACTION_HTTP_FAILED, what, "http %s",
                what);
  free(what);
  history_http_answer(e, cur, w->contact_id, w->kind == RUN_MESSAGE ? w->msg_id : 0,
                      w->inv->http.method, w->inv->http.url, r);
  invocation *inv = w->inv;
  inv->b = cur;
  inv->c = c;
  inv->e = e;
  keep_answer(&inv->answer, r);
  int nres;
  e->run->reply_from = w->reply_from;
  e->run->answering = w->answering;
  e->run->resumed = w->kind == RUN_MESSAGE ? w->msg_id : 0;
  e->run->resumed_from = w->kind == RUN_MESSAGE ? w->number : NULL;
  sandbox_status st = sandbox_resume(w->b->sb, w->co, &nres, inv, &w->used, err, sizeof err);
  if (st == SANDBOX_SUSPENDED) { /* another request */
    store_unlock(inv);
    w->used = sandbox_budget_used(w->b->sb);
    w->next = e->waiting;
    e->waiting = w;
    e->nwaiting++;
    if (c) c->busy = 1;
    w->at = e->run->now;
    waiting_start_request(e, w);
    return 0;
  }
  if (c) c->busy = 0;
  int rc = invocation_finish(e, inv, w->b->sb, w->co, st, nres, w->kind, w->msg_id, NULL, err,
                             sizeof err);
  free(inv);
  w->inv = NULL;
  if (rc >= 0)
    journal_timer_done(e->jr, w->record_id, rc == 1 ? "error" : "done",
                       rc == 1 ? err : NULL, e->run->now);
  if (w->record_is_rerun) waiting_reruns_add(e, w->b->id, w->contact_id, -1);
  waiting_free(e, w);
  return rc < 0 ? -1 : 0;
}

int engine_http_done(engine *e, uint64_t id, const engine_http_result *r, char *err,
                     size_t errlen) {
  int k = (int)(id % MAX_ENGINE_THREADS);
  if (k >= e->group->n) return 0;
  e = e->group->w[k]; /* the handler waits on the worker of its conversation */
  waiting **p = &e->waiting;
  while (*p && (*p)->id != id) p = &(*p)->next;
  if (!*p) return 0;
  waiting *w = *p;
  *p = w->next;
  e->nwaiting--;
  /* no inline replies: the webhook was answered long ago */
  run_ctx run = {.now = e->clock(e->clock_ud)};
  if (run.now < w->at) run.now = w->at; /* a simulated clock, behind a timer's time */
  e->run = &run;
  int rc = resume(e, w, r);
  e->run = NULL;
  if (rc) {
    snprintf(err, errlen, "%s", store_error(e->rd));
    engine_reset(e);
    return -1;
  }
  return submit_journal(e, err, errlen);
}
