/* group_shared: what the workers of one engine share (workers.c runs them):
 * which worker owns a conversation (its partition), the ids they allocate
 * (atomic counters, unique over every worker), and bot.store (one cell per
 * bot, with the lock a handler holds from its first touch to its end). */
#include <stdlib.h>

#include "engine_internal.h"

int group_reload_ids(engine *e) {
  engine_group *g = e->group;
  engine *p = g->w[0];
  int64_t c, m, t, b;
  if (store_max_ids(p->rd, &c, &m, &t) || (b = store_max_broadcast(p->rd)) < 0) return -1;
  atomic_store(&g->last_contact_id, c);
  atomic_store(&g->last_message_id, m);
  atomic_store(&g->last_timer_id, t);
  atomic_store(&g->last_broadcast_id, b);
  return 0;
}

engine *engine_owner(engine *e, int64_t bot_id, const char *number) {
  engine_group *g = e->group;
  if (g->n == 1) return e;
  return g->w[partition_of(bot_id, number) % g->n];
}

int foreign_contact(engine *e, const bot *b, const char *number) {
  return e->group->parallel && engine_owner(e, b->id, number) != e;
}

int64_t next_contact_id(engine *e) { return atomic_fetch_add(&e->group->last_contact_id, 1) + 1; }
int64_t next_message_id(engine *e) { return atomic_fetch_add(&e->group->last_message_id, 1) + 1; }
int64_t next_timer_id(engine *e) { return atomic_fetch_add(&e->group->last_timer_id, 1) + 1; }
int64_t next_broadcast_id(engine *e) {
  return atomic_fetch_add(&e->group->last_broadcast_id, 1) + 1;
}

store_cell *store_cell_for(engine *e, int64_t bot_id) {
  engine_group *g = e->group;
  pthread_mutex_lock(&g->cells_mu);
  store_cell *c = g->cells;
  while (c && c->bot_id != bot_id) c = c->next;
  if (!c) {
    c = xcalloc(1, sizeof *c);
    c->bot_id = bot_id;
    pthread_mutex_init(&c->lock, NULL);
    c->json = store_bot_store_get(e->rd, bot_id);
    c->next = g->cells;
    g->cells = c;
  }
  pthread_mutex_unlock(&g->cells_mu);
  return c;
}

void store_cells_journal(engine *e) {
  engine_group *g = e->group;
  for (store_cell *c = g->cells; c; c = c->next) {
    if (!c->dirty) continue;
    journal_bot_store(g->w[0]->jr, c->bot_id, c->json);
    c->dirty = 0;
  }
}

void store_cells_reload(engine *e) {
  engine_group *g = e->group;
  for (store_cell *c = g->cells; c; c = c->next) {
    free(c->json);
    c->json = store_bot_store_get(g->w[0]->rd, c->bot_id);
    c->dirty = 0;
  }
}
