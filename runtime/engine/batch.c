/* batch: a batch's writes handed to the single writer (submit_journal), the
 * one before it then durable: its events delivered, what the pending list
 * and the cache kept for it let go (engine_flush waits for the last). After
 * a failed write everything starts again from the store (engine_reset). */
#include <stdint.h>
#include <stdio.h>

#include "engine_internal.h"

/* Evicts least recently used contacts beyond the cache size, but never one
 * whose last writes are not durable yet (the store would give an old copy). */
static void cache_trim(engine *e) { contacts_trim(&e->cache, e->durable); }

static void flush_seen(engine *e) {
  for (size_t i = 0; i < e->ndirty; i++) {
    contact *c = e->dirty[i];
    journal_contact_seen(e->jr, c->id, c->last_seen);
    c->stored_last_seen = c->stored_last_in = c->last_seen;
    c->seen_dirty = 0;
  }
  e->ndirty = 0;
}

/* After a failed write: what the cache and the counters say may not be in
 * the store. Start again from the store. */
void engine_reset(engine *e) {
  engine_group *g = e->group;
  engine *p = g->w[0];
  deferred_run_clear(p);
  for (int k = 0; k < g->n; k++) {
    engine *w = g->w[k];
    journal_clear(&w->jr_own);
    events_flush(w, 0, w->nevents);
    w->nevents_inflight = 0;
    pending_forget(w, UINT64_MAX);
    waiting_reload(w);
    w->batches = p->batches;
    w->durable = w->batches;
  }
  engine_forget_contacts(p);
  group_reload_ids(p);
  store_cells_reload(p);
}

/* The batch before the one just handed over is durable (e: the primary;
 * every worker's counters follow it). */
static void batch_durable(engine *e, uint64_t batch, size_t nevents) {
  e->durable = batch;
  events_flush(e, 1, nevents);
  pending_forget(e, batch);
  for (int k = 0; k < e->group->n; k++) {
    engine *w = e->group->w[k];
    w->batches = e->batches;
    w->durable = batch;
    cache_trim(w);
  }
}

/* Before a batch goes to the writer: every worker's last_seen writes and
 * the bot.store cells it changed (into the primary's journal: between
 * rounds every worker's writes go there). */
static void gather(engine *p) {
  engine_group *g = p->group;
  for (int k = 0; k < g->n; k++) flush_seen(g->w[k]);
  store_cells_journal(p);
}

/* Hands the batch's journal to the writer; the batch before is durable
 * when this returns 0. Every worker's work goes in it. */
int submit_journal(engine *e, char *err, size_t errlen) {
  e = e->group->w[0];
  gather(e);
  size_t inflight_events = e->nevents_inflight;
  if (group_ids_check(e, err, errlen)) { /* the journal holds an id 0 */
    char why[512];
    writer_wait(e->w, why, sizeof why);
    engine_reset(e);
    return -1;
  }
  if (writer_submit(e->w, e->jr, err, errlen)) {
    engine_reset(e); /* the batch in flight failed; this one built on it */
    return -1;
  }
  e->batches++;
  batch_durable(e, e->batches - 1, inflight_events);
  e->nevents_inflight = e->nevents;
  return 0;
}

int engine_flush(engine *e, char *err, size_t errlen) {
  e = e->group->w[0];
  if (writer_wait(e->w, err, errlen)) {
    engine_reset(e);
    return -1;
  }
  batch_durable(e, e->batches, e->nevents_inflight);
  e->nevents_inflight = 0;
  return 0;
}

/* Writes that need an answer, or must be durable before the engine goes
 * on, after every batch before them: j applied by the writer at once (in a
 * transaction of its own; the engine has no connection that writes). */
int write_now(engine *e, journal *j, char *err, size_t errlen) {
  if (engine_flush(e, err, errlen) || group_ids_check(e, err, errlen)) return -1;
  return writer_apply(e->w, j, err, errlen);
}

int engine_set_partitions(engine *e, const unsigned char *held, char *err, size_t errlen) {
  engine_group *g = e->group;
  engine *p = g->w[0];
  /* A failed flush was reset (its jobs fail): the held set changes all the
   * same, or the engine would go on running partitions given back (which
   * another node is about to run) or leave those just claimed unrun. */
  int failed = engine_flush(p, err, errlen);
  int changed = 0;
  for (int q = 0; q < PARTITIONS; q++) {
    unsigned char h = held ? held[q] != 0 : 1;
    changed |= h != g->held[q];
    g->held[q] = h;
  }
  group_due_parts(g);
  if (!changed) return failed ? -1 : 0;
  /* What the partitions' last holder did is in the store: the caches are
   * read again, ids come from blocks after its, its provider ids join the
   * filter. Handlers waiting for HTTP are dropped (their rerun records run
   * them again, on whichever node holds their conversation now). */
  engine_reset(p);
  if (provider_ids_rebuild(p) && !failed) {
    snprintf(err, errlen, "%s", store_error(p->rd));
    failed = 1;
  }
  return failed ? -1 : 0;
}

uint64_t engine_batches_durable(engine *e) { return e->durable; }
