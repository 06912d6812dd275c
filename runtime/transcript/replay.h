/* replay: real messages played again on two versions of a bot before the
 * new one is activated (a reload's gate, server/deploy.c).
 *
 * The last `messages` inbound messages of the bot (the most recent
 * conversations') are each handled by both versions, in private in-memory
 * engines: the contact as it was before the message (store_history.h: its
 * status, fields, tags, state, pending expect), the clock at the message's
 * time, math.random seeded alike, and every http.get/post answered with
 * what its request got at the time (or marked unanswerable). What each
 * version sent and which handler errors and limit hits it had are compared:
 * the report names the messages whose replies changed, that now fail, hit a
 * limit, or get no reply. Timers are not run: a message's own handling is
 * compared, not what it schedules. */
#ifndef PARLEY_REPLAY_H
#define PARLEY_REPLAY_H

#include <jansson.h>
#include <stdint.h>

#include "script.h"
#include "store.h"

enum { REPLAY_DEFAULT = 1000, REPLAY_MAX = 100000, REPLAY_EXAMPLES = 20 };
/* The replay runs between batches, where messages wait: it stops after
 * this long (a version whose handlers each run to their time limit would
 * otherwise hold the server for minutes), saying how far it went. */
enum { REPLAY_BUDGET_MS = 10000 };

typedef struct replay_options {
  int64_t bot_id;           /* the bot in the live store */
  long messages;            /* how many of its inbound messages (REPLAY_DEFAULT) */
  const script *old_version, *new_version; /* copied; their bot.env as filled */
} replay_options;

typedef struct replay_counts {
  long messages, conversations, identical, changed, errors, limits, silent, unanswerable,
      skipped; /* skipped: no history of the contact before it (older than the records) */
  int stopped; /* the time budget ran out: the last messages were not replayed */
} replay_counts;

/* The report: {"messages", "conversations", "identical", "changed",
 * "errors", "limits", "silent", "unanswerable", "skipped", "ms", "stopped"
 * (true: the budget ran out), "examples":
 * {"changed": [...], "errors": [...], ...}} with up to REPLAY_EXAMPLES of
 * each ({"number", "message", "at", "text", "old": [...], "new": [...]});
 * NULL with err if the store failed or a version would not load. */
json_t *replay_run(store_reader *rd, const replay_options *o, replay_counts *counts,
                   char *err, size_t errlen);

#endif
