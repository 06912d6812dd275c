/* contacts: the engine's cache of contacts, by bot and number.
 *
 * A hash table with an LRU list, bounded in size. A cached contact holds the
 * newest state of the contact (newer than the store while its batch is being
 * written), as C strings: fields, tags and state stay JSON until a handler
 * touches them. */
#ifndef PARLEY_CONTACTS_H
#define PARLEY_CONTACTS_H

#include <stddef.h>
#include <stdint.h>

typedef struct contact {
  int64_t id, bot_id;
  char *number;
  int opted_out;
  int not_opted_in; /* known (imported) but never opted in: no broadcasts; its
                       first message subscribes it, as a new number's does */
  int joined; /* a message reached the script: on_join is behind it */
  char *fields, *tags, *state, *expect, *timezone;
  int64_t first_seen, last_seen;
  int64_t stored_last_seen; /* what the store has */
  int64_t last_in, stored_last_in; /* when it last wrote (0: never), and the store's */
  int seen_dirty;
  int busy; /* a handler of its conversation waits for a response: kept */
  int undeliverable; /* a provider said the number is invalid or not mobile */
  char *handoff; /* a person has the conversation, or is asked to (JSON,
                    store_console.h): its messages reach no handler */
  uint64_t batch; /* the last batch that wrote it: kept until that is durable */
  uint64_t snapshot_hash; /* what history_snapshot wrote last (0: nothing yet) */
  signed char zone_looked_up; /* inferred_zone holds the number's zone, if any */
  char inferred_zone[48];
  struct contact *hnext, *prev, *next; /* hash chain, LRU list */
} contact;

typedef struct contact_cache {
  contact **table;
  size_t nbuckets, n, max;
  contact lru; /* sentinel: lru.next is the most recently used */
} contact_cache;

void contacts_init(contact_cache *cc, size_t max);
/* The cached contact (now the most recently used), or NULL. */
contact *contacts_find(contact_cache *cc, int64_t bot_id, const char *number);
/* Takes c (allocated with malloc, strings too). */
contact *contacts_add(contact_cache *cc, contact *c);
/* Evicts least recently used contacts beyond max, stopping at one written by
 * a batch after `durable`; busy ones are never evicted. */
void contacts_trim(contact_cache *cc, uint64_t durable);
/* Forgets one contact (frees it). */
void contacts_remove(contact_cache *cc, contact *c);
/* Forgets every contact. */
void contacts_clear(contact_cache *cc);

#endif
