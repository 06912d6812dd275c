/* provider_ids: a filter (core/bloom.h) of the inbound provider ids the
 * engine has accepted, in the store or in a batch not durable yet. A
 * provider's id that it has certainly never seen is a new message without
 * a look-up; only ids it may have seen (retries, and at most about one new
 * id in 400) are looked up in the store. Without it every inbound message read
 * SQLite on a connection whose page cache each commit empties (4% of all
 * of parley serve's CPU under load). Ids are only ever added: an erased
 * contact's, or a failed batch's, stay as false positives, which the store
 * look-up answers. It is read from the store once, when the engine opens,
 * and grows with the ids added (reading every id again to make a bigger
 * one held a batch up for 10-40 ms at 100,000 ids). */
#include "engine_internal.h"

static void add_stored(void *ud, int64_t bot_id, const char *id) {
  bloom_add(ud, bloom_hash(bot_id, id));
}

int provider_ids_ready(engine *e) {
  engine_group *g = e->group;
  engine *p = g->w[0];
  if (g->provider_ids.nlayers) return 0; /* made once: it grows by itself */
  int64_t n = store_inbound_ids_count(p->rd);
  if (n < 0) return -1;
  bloom fresh;
  bloom_init(&fresh, (size_t)n * 2);
  if (store_inbound_ids(p->rd, add_stored, &fresh)) {
    bloom_free(&fresh);
    return -1;
  }
  /* the ids of batches not durable yet: the primary records every one */
  for (size_t i = 0; i < p->npending; i++)
    if (p->pending[i].provider_id)
      add_stored(&fresh, p->pending[i].bot_id, p->pending[i].provider_id);
  g->provider_ids = fresh;
  return 0;
}

int provider_ids_rebuild(engine *e) {
  engine_group *g = e->group;
  bloom_free(&g->provider_ids);
  g->provider_ids = (bloom){0};
  return provider_ids_ready(e);
}

void provider_id_add(engine *e, int64_t bot_id, const char *provider_id) {
  bloom *f = &e->group->provider_ids;
  if (f->nlayers) bloom_add(f, bloom_hash(bot_id, provider_id));
}

int provider_id_stored(engine *e, int64_t bot_id, const char *provider_id) {
  const bloom *f = &e->group->provider_ids;
  if (f->nlayers && !bloom_maybe(f, bloom_hash(bot_id, provider_id))) return 0;
  return store_inbound_exists(e->rd, bot_id, provider_id);
}
