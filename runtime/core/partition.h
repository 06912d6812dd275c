/* partition: which share of the work a conversation belongs to.
 *
 * A conversation (a bot and a contact's number; the bot's own, for
 * handlers without a contact, is the number "") hashes to one of
 * PARTITIONS fixed partitions. A partition is handled by one worker of
 * the engine at a time (engine_threads: worker p % n), so a
 * conversation's messages, timers and reports are handled one at a time
 * in arrival order while other conversations run on other cores. The map
 * depends only on the bot's id and the number: the same on every start,
 * whatever the number of workers, and computed by SQL too (the store's
 * parley_partition function), so due timers can be fetched by partition. */
#ifndef PARLEY_PARTITION_H
#define PARLEY_PARTITION_H

#include <stdint.h>

enum { PARTITIONS = 256 };

/* FNV-1a over the bot's id (8 bytes, little end first) and the number. */
static inline int partition_of(int64_t bot_id, const char *number) {
  uint64_t h = 0xcbf29ce484222325ULL;
  uint64_t id = (uint64_t)bot_id;
  for (int i = 0; i < 8; i++, id >>= 8) h = (h ^ (id & 0xff)) * 0x100000001b3ULL;
  for (const unsigned char *p = (const unsigned char *)(number ? number : ""); *p; p++)
    h = (h ^ *p) * 0x100000001b3ULL;
  return (int)(h % PARTITIONS);
}

#endif
