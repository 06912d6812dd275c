/* pending: what batches not yet durable recorded that the store cannot show
 * yet: inbound provider ids (a retry arriving meanwhile is caught) and the
 * delivery statuses reached (a late report does not move a message back). */
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"

/* Provider ids of inbound messages whose batch is not durable yet: the
 * store cannot see them, so a retry arriving meanwhile is caught here. */
int pending_has(engine *e, int64_t bot_id, const char *provider_id) {
  for (size_t i = 0; i < e->npending; i++) {
    const struct pending *p = &e->pending[i];
    if (p->bot_id == bot_id && p->provider_id && strcmp(p->provider_id, provider_id) == 0)
      return 1;
  }
  return 0;
}

void pending_add(engine *e, int64_t bot_id, const char *provider_id, int64_t message_id,
                        int rank) {
  if (e->npending == e->cap_pending) {
    e->cap_pending = e->cap_pending ? e->cap_pending * 2 : 64;
    e->pending = xrealloc(e->pending, e->cap_pending * sizeof *e->pending);
  }
  e->pending[e->npending++] = (struct pending){e->batches + 1, bot_id,
                                               provider_id ? xstrdup(provider_id) : NULL,
                                               message_id, rank};
}

/* Forgets what batches up to and including batch recorded. */
void pending_forget(engine *e, uint64_t batch) {
  size_t k = 0;
  for (size_t i = 0; i < e->npending; i++) {
    if (e->pending[i].batch <= batch) free(e->pending[i].provider_id);
    else e->pending[k++] = e->pending[i];
  }
  e->npending = k;
}

/* The furthest status a delivery report of message id reached in batches
 * not durable yet, 0 if none. */
int pending_status_rank(engine *e, int64_t bot_id, int64_t id) {
  int rank = 0;
  for (size_t i = 0; i < e->npending; i++) {
    const struct pending *p = &e->pending[i];
    if (!p->provider_id && p->bot_id == bot_id && p->message_id == id && p->rank > rank)
      rank = p->rank;
  }
  return rank;
}
