/* group_shared: what the workers of one engine share (workers.c runs them):
 * which worker owns a conversation (its partition), the ids they allocate
 * (unique over every worker, and on PostgreSQL over every node), and bot.store (one cell per
 * bot, with the lock a handler holds from its first touch to its end). */
#include <stdio.h>
#include <stdlib.h>

#include "store_cluster.h"

#include "engine_internal.h"

/* The kinds of ids the engine allocates (store_cluster.h names them), and
 * how many a node claims at once on PostgreSQL. */
static const char *const id_names[ID_KINDS] = {"contacts", "messages", "timers", "broadcasts"};
static const int64_t id_block[ID_KINDS] = {1024, 8192, 1024, 16};

int group_reload_ids(engine *e) {
  engine_group *g = e->group;
  if (g->ids) { /* fresh blocks when next needed: larger than any id taken */
    pthread_mutex_lock(&g->ids_mu);
    for (int k = 0; k < ID_KINDS; k++) g->id_end[k] = atomic_load(&g->last_id[k]);
    pthread_mutex_unlock(&g->ids_mu);
    return 0;
  }
  engine *p = g->w[0];
  int64_t c, m, t, b;
  if (store_max_ids(p->rd, &c, &m, &t) || (b = store_max_broadcast(p->rd)) < 0) return -1;
  atomic_store(&g->last_id[ID_CONTACT], c);
  atomic_store(&g->last_id[ID_MESSAGE], m);
  atomic_store(&g->last_id[ID_TIMER], t);
  atomic_store(&g->last_id[ID_BROADCAST], b);
  return 0;
}

/* The next id of kind k. SQLite: the counter from the highest id at start
 * (one process writes the file). PostgreSQL: from the block this node
 * claimed (store_claim_ids), a new block when it is used up; 0 if that
 * claim failed (group_ids_check fails the batch then). */
static int64_t next_id(engine *e, int k) {
  engine_group *g = e->group;
  if (!g->ids) return atomic_fetch_add(&g->last_id[k], 1) + 1;
  pthread_mutex_lock(&g->ids_mu);
  int64_t id = atomic_load(&g->last_id[k]) + 1;
  if (id > g->id_end[k]) {
    int64_t first;
    if (store_claim_ids(g->ids, id_names[k], id_block[k], &first)) {
      if (!g->ids_failed)
        snprintf(g->ids_err, sizeof g->ids_err, "%s", store_error(store_reads(g->ids)));
      g->ids_failed = 1;
      pthread_mutex_unlock(&g->ids_mu);
      return 0;
    }
    id = first;
    g->id_end[k] = first + id_block[k] - 1;
  }
  atomic_store(&g->last_id[k], id);
  pthread_mutex_unlock(&g->ids_mu);
  return id;
}

int group_ids_check(engine *e, char *err, size_t errlen) {
  engine_group *g = e->group;
  if (!g->ids) return 0;
  pthread_mutex_lock(&g->ids_mu);
  int failed = g->ids_failed;
  if (failed) snprintf(err, errlen, "%s", g->ids_err);
  g->ids_failed = 0;
  pthread_mutex_unlock(&g->ids_mu);
  return failed ? -1 : 0;
}

void group_due_parts(engine_group *g) {
  int all = 1;
  for (int q = 0; q < PARTITIONS; q++) all &= g->held[q];
  for (int k = 0; k < g->n; k++) {
    engine *w = g->w[k];
    if (all && g->n == 1) {
      free(w->due_parts);
      w->due_parts = NULL;
      continue;
    }
    if (!w->due_parts) w->due_parts = xmalloc(PARTITIONS + 1);
    for (int q = 0; q < PARTITIONS; q++) w->due_parts[q] = g->held[q] && q % g->n == k ? '1' : '0';
    w->due_parts[PARTITIONS] = 0;
  }
}

int engine_holds(engine *e, int64_t bot_id, const char *number) {
  return e->group->held[partition_of(bot_id, number)];
}

engine *engine_owner(engine *e, int64_t bot_id, const char *number) {
  engine_group *g = e->group;
  if (g->n == 1) return e;
  return g->w[partition_of(bot_id, number) % g->n];
}

int foreign_contact(engine *e, const bot *b, const char *number) {
  return e->group->parallel && engine_owner(e, b->id, number) != e;
}

int64_t next_contact_id(engine *e) { return next_id(e, ID_CONTACT); }
int64_t next_message_id(engine *e) { return next_id(e, ID_MESSAGE); }
int64_t next_timer_id(engine *e) { return next_id(e, ID_TIMER); }
int64_t next_broadcast_id(engine *e) { return next_id(e, ID_BROADCAST); }

store_cell *store_cell_for(engine *e, int64_t bot_id) {
  engine_group *g = e->group;
  pthread_mutex_lock(&g->cells_mu);
  store_cell *c = g->cells;
  while (c && c->bot_id != bot_id) c = c->next;
  if (!c) {
    c = xcalloc(1, sizeof *c);
    c->bot_id = bot_id;
    pthread_mutex_init(&c->lock, NULL);
    c->json = store_bot_store_get(e->rd, bot_id, &c->version);
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
    journal_bot_store(g->w[0]->jr, c->bot_id, c->json, c->version++);
    c->dirty = 0;
  }
}

void store_cells_reload(engine *e) {
  engine_group *g = e->group;
  for (store_cell *c = g->cells; c; c = c->next) {
    free(c->json);
    c->json = store_bot_store_get(g->w[0]->rd, c->bot_id, &c->version);
    c->dirty = 0;
  }
}
