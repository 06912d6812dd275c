/* workers: the engine's workers, each owning a share of the partitions.
 *
 * Conversations hash to PARTITIONS partitions (partition.h); worker k of n
 * owns the partitions p with p % n == k. Each worker is an engine of its own
 * (engine.c's pipeline): its Lua VM per loaded bot version, its contact
 * cache, its journal, its waiting handlers. The first worker, the primary,
 * is the engine the caller holds; the others run on threads of their own
 * when the store is a file (each with its own read connection), or take
 * turns on the caller's thread with an in-memory store (one connection).
 *
 * Work is fork-join: the primary splits a batch by owner, every worker
 * handles its share at once (group_run), and once all are done the primary
 * gathers their journals into one transaction for the single writer (the
 * batch stays all-or-nothing) and their observer events. Between two
 * group_run calls every worker is idle, so what touches conversations of
 * several partitions (delivery reports, broadcasts, contact imports, admin
 * calls) runs there, each conversation on its owner's structures.
 *
 * What the workers share: the writer and its connection (the primary's),
 * the id counters (atomic), and bot.store (store_cell, with a lock a
 * handler holds from its first touch of bot.store to its end): those are
 * group_shared.c's, which every file may use; this one starts, runs and
 * stops the workers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"
#include "sql_db.h"

/* ---------------------------------------------------------------- threads */

typedef struct worker_start {
  engine_group *g;
  int k;
} worker_start;

static void *worker_main(void *arg) {
  worker_start ws = *(worker_start *)arg;
  free(arg);
  pthread_setname_np(pthread_self(), "parley-worker");
  engine_group *g = ws.g;
  uint64_t seen = 0;
  pthread_mutex_lock(&g->mu);
  for (;;) {
    while (!g->stopping && g->round == seen) pthread_cond_wait(&g->go, &g->mu);
    if (g->stopping) break;
    seen = g->round;
    void (*fn)(engine *, void *) = g->fn;
    void *a = g->arg;
    pthread_mutex_unlock(&g->mu);
    fn(g->w[ws.k], a);
    pthread_mutex_lock(&g->mu);
    if (--g->running == 0) pthread_cond_signal(&g->done);
  }
  pthread_mutex_unlock(&g->mu);
  return NULL;
}

static void sink_to(engine *w, engine *target) {
  w->sink = target;
  w->jr = &target->jr_own;
}

static int gather(engine_group *g);

int group_run(engine_group *g, void (*fn)(engine *w, void *arg), void *arg) {
  if (g->n == 1) {
    fn(g->w[0], arg);
    return 0;
  }
  for (int k = 0; k < g->n; k++) sink_to(g->w[k], g->w[k]);
  g->parallel = 1;
  if (!g->threaded) {
    for (int k = 0; k < g->n; k++) fn(g->w[k], arg);
    g->parallel = 0;
    return gather(g);
  }
  pthread_mutex_lock(&g->mu);
  g->fn = fn;
  g->arg = arg;
  g->running = g->n - 1;
  g->round++;
  pthread_cond_broadcast(&g->go);
  pthread_mutex_unlock(&g->mu);
  fn(g->w[0], arg);
  pthread_mutex_lock(&g->mu);
  while (g->running > 0) pthread_cond_wait(&g->done, &g->mu);
  pthread_mutex_unlock(&g->mu);
  g->parallel = 0;
  return gather(g);
}

/* ---------------------------------------------------------------- the group */

int group_open(engine *p, int n, const char *db_path, char *err, size_t errlen) {
  engine_group *g = xcalloc(1, sizeof *g);
  g->n = 1;
  g->w[0] = p;
  g->threaded = p->reads_alone; /* a file: the workers can read side by side */
  pthread_mutex_init(&g->mu, NULL);
  pthread_cond_init(&g->go, NULL);
  pthread_cond_init(&g->done, NULL);
  pthread_mutex_init(&g->cells_mu, NULL);
  pthread_mutex_init(&g->waits_mu, NULL);
  pthread_mutex_init(&g->ids_mu, NULL);
  p->group = g;
  memset(g->held, 1, sizeof g->held); /* alone: every partition */
  /* PostgreSQL: ids come in blocks claimed on a connection of their own
   * (the writer's is busy with the batches; a claim commits at once) */
  if (sql_is_postgres_target(db_path) && !(g->ids = store_open(db_path, err, errlen)))
    return -1;
  p->worker = 0;
  sink_to(p, p);
  /* the provider ids' filter now (about 0.4 s a million stored ids), not
   * on the first webhook after a start */
  if (group_reload_ids(p) || provider_ids_ready(p)) {
    snprintf(err, errlen, "%s", store_error(p->rd));
    return -1;
  }
  size_t cache = p->cache.max / (size_t)n; /* the cache's size is the engine's */
  if (cache < 1) cache = 1;
  p->cache.max = cache;
  for (int k = 1; k < n; k++) {
    engine *w = xcalloc(1, sizeof *w);
    w->group = g;
    w->worker = k;
    sink_to(w, p); /* between rounds */
    w->w = p->w; /* never used by a worker: the primary submits */
    w->rd = p->rd;
    if (g->threaded && !(w->rd = store_reader_open(db_path, err, errlen))) {
      free(w);
      return -1;
    }
    w->reads_alone = g->threaded;
    w->outbox = p->outbox;
    w->serving = p->serving;
    w->show_rules = p->show_rules;
    w->link_base = p->link_base;
    w->link_ud = p->link_ud;
    w->clock = p->clock;
    w->clock_ud = p->clock_ud;
    w->bot_env = p->bot_env;
    w->bot_env_ud = p->bot_env_ud;
    w->obs = p->obs;
    w->has_obs = p->has_obs;
    w->batches = p->batches;
    w->durable = p->durable;
    contacts_init(&w->cache, cache);
    g->w[g->n++] = w;
    if (waiting_reload(w)) {
      snprintf(err, errlen, "%s", store_error(w->rd));
      return -1;
    }
  }
  group_due_parts(g);
  if (!g->threaded) return 0;
  for (int k = 1; k < g->n; k++) {
    worker_start *ws = xcalloc(1, sizeof *ws);
    *ws = (worker_start){g, k};
    if (pthread_create(&g->threads[k], NULL, worker_main, ws) != 0) {
      free(ws);
      snprintf(err, errlen, "cannot start engine worker %d of %d", k + 1, g->n);
      return -1; /* the ones started are stopped by group_close */
    }
    g->started = k;
  }
  return 0;
}

void worker_free(engine *w) {
  contacts_clear(&w->cache);
  free(w->cache.table);
  free(w->dirty);
  journal_clear(&w->jr_own);
  free(w->jr_own.ops);
  events_flush(w, 0, w->nevents);
  free(w->events);
  pending_forget(w, UINT64_MAX);
  free(w->pending);
  waiting_free_all(w);
  free(w->reruns);
  while (w->retired) {
    bot *next = w->retired->next;
    bot_free(w->retired);
    w->retired = next;
  }
  while (w->bots) {
    bot *next = w->bots->next;
    bot_free(w->bots);
    w->bots = next;
  }
  free(w->deferred);
  free(w->due_parts);
  if (w->reads_alone) store_reader_close(w->rd);
  free(w);
}

void group_close(engine *p) {
  engine_group *g = p->group;
  if (!g) return;
  if (g->started) {
    pthread_mutex_lock(&g->mu);
    g->stopping = 1;
    pthread_cond_broadcast(&g->go);
    pthread_mutex_unlock(&g->mu);
    for (int k = 1; k <= g->started; k++) pthread_join(g->threads[k], NULL);
  }
  for (int k = 1; k < g->n; k++) worker_free(g->w[k]);
  store_close(g->ids);
  pthread_mutex_destroy(&g->ids_mu);
  while (g->cells) {
    store_cell *next = g->cells->next;
    pthread_mutex_destroy(&g->cells->lock);
    free(g->cells->json);
    free(g->cells);
    g->cells = next;
  }
  pthread_mutex_destroy(&g->mu);
  pthread_cond_destroy(&g->go);
  pthread_cond_destroy(&g->done);
  pthread_mutex_destroy(&g->cells_mu);
  pthread_mutex_destroy(&g->waits_mu);
  bloom_free(&g->provider_ids);
  free(g);
  p->group = NULL;
}

/* ---------------------------------------------------------------- a round's end */

/* A send another worker deferred to o, its contact's worker (deferred.c). */
static int deferred_record(engine *o, deferred_send *d) {
  bot *b = worker_bot(o, d->bot);
  if (!b) return 0; /* the bot is gone (cannot happen between batches) */
  run_ctx *outer = o->run;
  /* in the context of the send: engine_now is its time */
  run_ctx run = {.now = d->at, .tag = outer ? outer->tag : NULL,
                 .from = outer ? outer->from : NULL,
                 .reply_from = own_number(b, d->reply_from), .answering = d->answering,
                 .inl = outer ? outer->inl : (inline_reply){0}, .event_key = d->event_key};
  o->run = &run;
  pending_send *p = &d->send;
  /* at the send's time: a contact it creates was first seen then */
  contact *c = contact_get(o, b, p->to, CONTACT_UNASKED, NULL);
  const char *status = c && !p->transactional && c->opted_out ? "suppressed" : p->status;
  int rc = c ? record_out(o, b, c, p->text, status, p->transactional, p->may_hold, p->media) : -1;
  if (outer) outer->inl = run.inl;
  o->run = outer;
  return rc < 0 ? -1 : 0;
}

static int event_order(const void *a, const void *b) {
  const event *x = a, *y = b;
  if (x->at != y->at) return x->at < y->at ? -1 : 1;
  if (x->key != y->key) return x->key < y->key ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* After a round: every worker's journal appended to the primary's, and
 * their events too, each worker's deferred sends recorded (on their
 * contacts' workers) where they were made among its events. From here on
 * every worker writes into the primary's journal and events. */
static int gather(engine_group *g) {
  engine *p = g->w[0];
  for (int k = 1; k < g->n; k++) journal_append(&p->jr_own, &g->w[k]->jr_own);
  event *own = p->events;
  size_t nown = p->nevents;
  p->events = NULL;
  p->nevents = p->cap_events = 0;
  for (int k = 0; k < g->n; k++) sink_to(g->w[k], p);
  int rc = 0;
  for (int k = 0; k < g->n; k++) {
    engine *w = g->w[k];
    event *src = k == 0 ? own : w->events;
    size_t n = k == 0 ? nown : w->nevents, from = 0;
    for (size_t i = 0; i < w->ndeferred; i++) {
      deferred_send *d = &w->deferred[i];
      for (; from < d->event_pos && from < n; from++) event_push(p, src[from]);
      if (rc == 0) {
        bot *b = worker_bot(w, d->bot);
        rc = deferred_record(b ? engine_owner(w, b->id, d->send.to) : w, d);
      }
      deferred_free(d);
    }
    w->ndeferred = 0;
    for (; from < n; from++) event_push(p, src[from]);
    free(src);
    if (k > 0) {
      w->events = NULL;
      w->nevents = w->cap_events = 0;
    }
  }
  /* the round's events (after those of the batch in flight) in the order
   * one worker would have made them */
  size_t first = p->nevents_inflight;
  for (size_t i = first; i < p->nevents; i++) p->events[i].seq = i;
  if (p->nevents > first + 1)
    qsort(p->events + first, p->nevents - first, sizeof *p->events, event_order);
  return rc;
}
