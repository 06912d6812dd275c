/* deferred: sends to another worker's contact, made while the workers run
 * in parallel (engine_internal.h, deferred_send). Only that contact's own
 * worker may touch it, so the send waits here and is recorded there when
 * the round ends (workers.c, gather). */
#include <stdlib.h>

#include "engine_internal.h"

void deferred_free(deferred_send *d) {
  free(d->bot);
  free(d->reply_from);
  free(d->send.to);
  free(d->send.text);
  free(d->send.kind);
  free(d->send.media);
}

void deferred_run_clear(engine *e) {
  engine_group *g = e->group;
  for (int k = 0; k < g->n; k++) {
    engine *w = g->w[k];
    for (size_t i = 0; i < w->ndeferred; i++) deferred_free(&w->deferred[i]);
    w->ndeferred = 0;
  }
}

void deferred_add(engine *e, const char *botname, pending_send *p) {
  if (e->ndeferred == e->cap_deferred) {
    e->cap_deferred = e->cap_deferred ? e->cap_deferred * 2 : 16;
    e->deferred = xrealloc(e->deferred, e->cap_deferred * sizeof *e->deferred);
  }
  e->deferred[e->ndeferred++] =
      (deferred_send){xstrdup(botname), *p, engine_now(e), e->nevents, e->run->event_key,
                      e->run->answering,
                      e->run->reply_from ? xstrdup(e->run->reply_from) : NULL};
  *p = (pending_send){0}; /* taken */
}
