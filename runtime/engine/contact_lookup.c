/* contact_lookup: a conversation's contact, from its worker's cache or the
 * store, created when the bot has never seen the number (contact_get); the
 * cache itself is contacts.c. */
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"

void engine_forget_contacts(engine *e) {
  for (int k = 0; k < e->group->n; k++) {
    engine *w = e->group->w[k];
    contacts_clear(&w->cache);
    w->ndirty = 0;
  }
}

/* The contact for number, from the cache or the store; created (and marked
 * new) when the bot has never seen it. NULL on a store failure. */
contact *contact_get(engine *e, bot *b, const char *number, int create,
                            int *is_new) {
  if (is_new) *is_new = 0;
  /* a conversation of another worker's partitions: its own structures
   * (only between group_run calls, when every worker is idle) */
  engine *owner = engine_owner(e, b->id, number);
  if (owner != e) return contact_get(owner, b, number, create, is_new);
  contact *c = contacts_find(&e->cache, b->id, number);
  if (c) {
    c->batch = e->batches + 1;
    return c;
  }
  contact_row r = {0};
  int found = store_contact_get(e->rd, b->id, number, &r);
  if (found < 0) return NULL;
  if (!found) {
    if (!create) return NULL;
    int64_t now = engine_now(e);
    int64_t id = next_contact_id(e);
    journal_contact_add(e->jr, id, b->id, number, now);
    /* a number erased while opted out is opted out again */
    int suppressed = store_is_suppressed(e->rd, b->id, number);
    if (suppressed < 0) return NULL;
    if (suppressed)
      journal_contact_update(e->jr, id, "opted_out", NULL, NULL, NULL);
    else if (create == CONTACT_UNASKED)
      journal_contact_update(e->jr, id, "not_opted_in", NULL, NULL, NULL);
    r = (contact_row){.id = id, .number = xstrdup(number),
                      .status = xstrdup(suppressed               ? "opted_out"
                                        : create == CONTACT_UNASKED ? "not_opted_in"
                                                                    : "subscribed"),
                      .fields = xstrdup("{}"),
                      .tags = xstrdup("[]"), .state = xstrdup("{}"),
                      .first_seen = now, .last_seen = now};
    if (is_new) *is_new = 1;
  }
  c = xcalloc(1, sizeof *c);
  c->id = r.id;
  c->bot_id = b->id;
  c->number = r.number;
  c->opted_out = r.status && strcmp(r.status, "opted_out") == 0;
  c->not_opted_in = r.status && strcmp(r.status, "not_opted_in") == 0;
  c->joined = r.joined;
  c->fields = r.fields;
  c->tags = r.tags;
  c->state = r.state;
  c->expect = r.expect;
  c->timezone = r.timezone;
  c->first_seen = r.first_seen;
  c->last_seen = r.last_seen;
  c->stored_last_seen = r.last_seen;
  c->batch = e->batches + 1;
  c->busy = e->nwaiting && waiting_has_contact(e, c->id);
  c->undeliverable = r.undeliverable != NULL;
  free(r.status);
  free(r.undeliverable);
  return contacts_add(&e->cache, c);
}

void replace(char **slot, const char *v) {
  free(*slot);
  *slot = v ? xstrdup(v) : NULL;
}
