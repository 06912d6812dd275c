#include "contacts.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

static uint64_t hash_key(int64_t bot_id, const char *number) {
  uint64_t h = 1469598103934665603ull ^ (uint64_t)bot_id;
  for (const unsigned char *p = (const unsigned char *)number; *p; p++)
    h = (h ^ *p) * 1099511628211ull;
  return h;
}

static void lru_unlink(contact *c) {
  c->prev->next = c->next;
  c->next->prev = c->prev;
}

static void lru_push_front(contact_cache *cc, contact *c) {
  c->next = cc->lru.next;
  c->prev = &cc->lru;
  cc->lru.next->prev = c;
  cc->lru.next = c;
}

static void contact_free(contact *c) {
  free(c->number);
  free(c->fields);
  free(c->tags);
  free(c->state);
  free(c->expect);
  free(c->handoff);
  free(c->timezone);
  free(c);
}

static void table_remove(contact_cache *cc, contact *c) {
  size_t i = hash_key(c->bot_id, c->number) & (cc->nbuckets - 1);
  for (contact **p = &cc->table[i]; *p; p = &(*p)->hnext) {
    if (*p == c) {
      *p = c->hnext;
      break;
    }
  }
}

static void table_grow(contact_cache *cc) {
  size_t n = cc->nbuckets * 2;
  contact **t = xcalloc(n, sizeof *t);
  for (size_t i = 0; i < cc->nbuckets; i++) {
    contact *c = cc->table[i];
    while (c) {
      contact *next = c->hnext;
      size_t j = hash_key(c->bot_id, c->number) & (n - 1);
      c->hnext = t[j];
      t[j] = c;
      c = next;
    }
  }
  free(cc->table);
  cc->table = t;
  cc->nbuckets = n;
}

void contacts_init(contact_cache *cc, size_t max) {
  cc->nbuckets = 1024;
  cc->table = xcalloc(cc->nbuckets, sizeof *cc->table);
  cc->n = 0;
  cc->max = max;
  cc->lru.next = cc->lru.prev = &cc->lru;
}

contact *contacts_find(contact_cache *cc, int64_t bot_id, const char *number) {
  size_t i = hash_key(bot_id, number) & (cc->nbuckets - 1);
  for (contact *c = cc->table[i]; c; c = c->hnext) {
    if (c->bot_id == bot_id && strcmp(c->number, number) == 0) {
      lru_unlink(c);
      lru_push_front(cc, c);
      return c;
    }
  }
  return NULL;
}

contact *contacts_add(contact_cache *cc, contact *c) {
  if (cc->n + 1 > cc->nbuckets) table_grow(cc);
  size_t i = hash_key(c->bot_id, c->number) & (cc->nbuckets - 1);
  c->hnext = cc->table[i];
  cc->table[i] = c;
  lru_push_front(cc, c);
  cc->n++;
  return c;
}

void contacts_trim(contact_cache *cc, uint64_t durable) {
  size_t busy = 0;
  while (cc->n > cc->max) {
    contact *c = cc->lru.prev;
    if (c->busy) { /* kept: a handler waits in its conversation */
      if (++busy > cc->n) break;
      lru_unlink(c);
      lru_push_front(cc, c);
      continue;
    }
    if (c->batch > durable) break;
    lru_unlink(c);
    table_remove(cc, c);
    contact_free(c);
    cc->n--;
  }
}

void contacts_remove(contact_cache *cc, contact *c) {
  lru_unlink(c);
  table_remove(cc, c);
  contact_free(c);
  cc->n--;
}

void contacts_clear(contact_cache *cc) {
  contact *c = cc->lru.next;
  while (c != &cc->lru) {
    contact *next = c->next;
    contact_free(c);
    c = next;
  }
  cc->lru.next = cc->lru.prev = &cc->lru;
  memset(cc->table, 0, cc->nbuckets * sizeof *cc->table);
  cc->n = 0;
}
