/* invocation_state: what one call into a bot's script holds while it runs
 * or waits (engine_internal.h, invocation): the bot.store lock it took, the
 * answer it resumes with, and what it collected, freed at its end. Set up
 * with the host API the script sees: host_api.c, invocation_init. */
#include <stdlib.h>

#include "engine_internal.h"

void store_lock(invocation *inv) {
  if (inv->store_locked) return;
  pthread_mutex_lock(&inv->b->store->lock);
  inv->store_locked = 1;
}

void store_unlock(invocation *inv) {
  if (!inv->store_locked) return;
  pthread_mutex_unlock(&inv->b->store->lock);
  inv->store_locked = 0;
}

void http_answer_free(struct http_answer *a) {
  free(a->error);
  free(a->body);
  for (size_t i = 0; i < 2 * a->nheaders; i++) free(a->headers[i]);
  free(a->headers);
  *a = (struct http_answer){0};
}

void invocation_free(invocation *inv) {
  store_unlock(inv);
  for (int i = 0; i < inv->nsends; i++) {
    free(inv->sends[i].to);
    free(inv->sends[i].text);
    free(inv->sends[i].kind);
    free(inv->sends[i].media);
  }
  inv->nsends = 0;
  for (int i = 0; i < inv->ntimer_ops; i++) {
    timer_row_free(&inv->timer_ops[i].row);
    free(inv->timer_ops[i].handler);
  }
  inv->ntimer_ops = 0;
  for (int i = 0; i < inv->nlinks; i++) free(inv->links[i].url);
  inv->nlinks = 0;
  journal_clear(&inv->broadcasts);
  free(inv->broadcasts.ops);
  inv->broadcasts = (journal){0};
  buf_free(&inv->logs);
  free(inv->http.method);
  free(inv->http.url);
  free(inv->http.body);
  free(inv->http.headers_json);
  inv->http = (struct http_call){0};
  http_answer_free(&inv->answer);
}
