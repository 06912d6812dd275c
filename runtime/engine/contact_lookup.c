/* contact_lookup: a conversation's contact, from its worker's cache or the
 * store, created when the bot has never seen the number (contact_get); a
 * batch's contacts read in one query before it runs (contacts_prefetch);
 * the cache itself is contacts.c. */
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

/* A contact read from the store (its strings taken), into e's cache. */
static contact *cache_row(engine *e, bot *b, contact_row *r) {
  contact *c = xcalloc(1, sizeof *c);
  c->id = r->id;
  c->bot_id = b->id;
  c->number = r->number;
  c->opted_out = r->status && strcmp(r->status, "opted_out") == 0;
  c->not_opted_in = r->status && strcmp(r->status, "not_opted_in") == 0;
  c->joined = r->joined;
  c->fields = r->fields;
  c->tags = r->tags;
  c->state = r->state;
  c->expect = r->expect;
  c->timezone = r->timezone;
  c->first_seen = r->first_seen;
  c->last_seen = r->last_seen;
  c->stored_last_seen = r->last_seen;
  c->last_in = c->stored_last_in = r->last_in;
  c->batch = e->batches + 1;
  c->busy = e->nwaiting && waiting_has_contact(e, c->id);
  c->undeliverable = r->undeliverable != NULL;
  c->handoff = r->handoff;
  free(r->status);
  free(r->undeliverable);
  *r = (contact_row){0};
  return contacts_add(&e->cache, c);
}

static int by_number(const void *a, const void *b) {
  return strcmp(((const struct absent_number *)a)->number,
                ((const struct absent_number *)b)->number);
}

/* -1: not known to be absent; else whether the absent number is suppressed */
static int absent_suppressed(engine *e, int64_t bot_id, const char *number) {
  if (!e->nabsent || bot_id != e->absent_bot) return -1;
  struct absent_number key = {.number = number};
  struct absent_number *a = bsearch(&key, e->absent, e->nabsent, sizeof key, by_number);
  return a ? a->suppressed : -1;
}

typedef struct prefetch {
  engine *e;
  bot *b;
} prefetch;

static void prefetched(void *ud, contact_row *r) {
  prefetch *p = ud;
  if (!contacts_find(&p->e->cache, p->b->id, r->number)) cache_row(p->e, p->b, r);
}

void contacts_prefetch_end(engine *e) {
  free(e->absent);
  e->absent = NULL;
  e->nabsent = 0;
}

int contacts_prefetch(engine *e, bot *b, const inbound *const *msgs, size_t n) {
  contacts_prefetch_end(e);
  struct absent_number *want = xcalloc(n ? n : 1, sizeof *want);
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    const inbound *m = msgs[i];
    if (m->forward_ticket || m->delivery || !m->from || engine_owner(e, b->id, m->from) != e ||
        contacts_find(&e->cache, b->id, m->from))
      continue;
    want[k++].number = m->from;
  }
  qsort(want, k, sizeof *want, by_number);
  size_t u = 0;
  for (size_t i = 0; i < k; i++)
    if (!u || strcmp(want[u - 1].number, want[i].number)) want[u++] = want[i];
  if (u < 2) { /* one number: its own lookup is as many round trips */
    free(want);
    return 0;
  }
  const char **numbers = xcalloc(u, sizeof *numbers);
  for (size_t i = 0; i < u; i++) numbers[i] = want[i].number;
  prefetch p = {e, b};
  int rc = store_contacts_get_many(e->rd, b->id, numbers, u, prefetched, &p);
  size_t a = 0;
  for (size_t i = 0; i < u && rc == 0; i++)
    if (!contacts_find(&e->cache, b->id, want[i].number)) numbers[a] = want[a].number = want[i].number, a++;
  unsigned char *flags = xcalloc(a ? a : 1, 1);
  if (rc == 0) rc = store_suppressed_many(e->rd, b->id, numbers, a, flags);
  for (size_t i = 0; i < a; i++) want[i].suppressed = flags[i];
  free(flags);
  free(numbers);
  if (rc || !a) {
    free(want);
    return rc;
  }
  e->absent = want; /* still sorted: a subsequence of a sorted list */
  e->nabsent = a;
  e->absent_bot = b->id;
  return 0;
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
  int suppressed = absent_suppressed(e, b->id, number);
  int found = suppressed >= 0 ? 0 : store_contact_get(e->rd, b->id, number, &r);
  if (found < 0) return NULL;
  if (!found) {
    if (!create) return NULL;
    int64_t now = engine_now(e);
    int64_t id = next_contact_id(e);
    journal_contact_add(e->jr, id, b->id, number, now);
    /* a number erased while opted out is opted out again */
    if (suppressed < 0) suppressed = store_is_suppressed(e->rd, b->id, number);
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
  return cache_row(e, b, &r);
}

void replace(char **slot, const char *v) {
  free(*slot);
  *slot = v ? xstrdup(v) : NULL;
}
