/* outbox: the sender. A thread of its own, with a connection of its own,
 * that takes queued messages from the store and delivers them through each
 * bot's provider (libcurl multi: many requests in flight, nothing blocks the
 * engine).
 *
 * - Rate: a token bucket per sending number (bot + number), in messages or
 *   segments a second, by the number's type: long code 1/s, toll-free 3/s,
 *   short code 100/s unless configured. Within a number, replies and
 *   transactional messages go before bulk ones (drips, broadcasts, timers).
 * - Durability: a message is claimed ("sending") in a commit before its
 *   request goes out; the answer is committed after. After a crash, claimed
 *   messages are sent again (see docs/providers.md for where that can
 *   duplicate).
 * - Retries: 408/425/429/5xx, timeouts and connection errors, with
 *   exponential backoff and jitter, up to max_attempts; then "failed" with
 *   the reason. Other errors fail at once; a provider's verdict on the
 *   number (opted out at the carrier, invalid, not mobile) is recorded on
 *   the contact in the same commit. */
#ifndef PARLEY_OUTBOX_H
#define PARLEY_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "channel.h"
#include "provider.h"

typedef struct outbox outbox;
struct journal;

/* A bot's sending settings. */
typedef struct outbox_bot_config {
  provider_config provider; /* SMS's */
  /* each other channel's (channel.h): kind NULL where the bot has none */
  provider_config channels[CHANNEL_COUNT];
  /* messages (or segments, with per_segment) a second, per number type */
  double rate_long_code, rate_toll_free, rate_short_code;
  int per_segment;
} outbox_bot_config;

/* What the engine must hear of: a message that failed for good (for
 * bot.on_status), and a contact the carrier opted out (its cached copy). */
typedef struct outbox_report {
  int64_t bot_id, message_id;
  const char *bot, *number, *status, *error;
  int opted_out; /* the contact is now opted out (Twilio 21610) */
  int undeliverable; /* the number is invalid or not mobile (21211, 21614) */
} outbox_report;

typedef struct outbox_options {
  const char *db_path;
  int max_in_flight;      /* requests at once; default 64 */
  int max_attempts;       /* tries before a message fails; default 6 */
  long timeout_ms;        /* of one request; default 15000 */
  int64_t backoff_ms;     /* the first retry's delay; default 1000 */
  int64_t backoff_max_ms; /* the longest; default 600000 (10 minutes) */
  /* A bot's settings by name (called on the sender's thread; the result
   * must stay valid while the outbox runs). */
  const outbox_bot_config *(*config_for)(void *ud, const char *bot);
  /* Called on the sender's thread, after the commit that recorded it. */
  void (*report)(void *ud, const outbox_report *r);
  /* Applies the sender's writes (a journal: claims, answers, putting back
   * at start the sends a crash left in flight) in one
   * transaction on the store's one writer, waiting for it: 0, or -1 with
   * err. Reads use a connection of the sender's own. */
  int (*apply)(void *ud, struct journal *j, char *err, size_t errlen);
  /* Several nodes on one database: fills mask (PARTITIONS characters and a
   * NUL) with a '1' for each partition this node holds and returns 1; the
   * sender then sends only from the numbers of those partitions (so one
   * node at a time sends from a number: its rate limits hold for all), and
   * puts back in the queue only the sends of those numbers left in flight
   * longer than a request can take (a node that died had them). NULL, or
   * 0: every number, and at start every send left in flight. */
  int (*partitions)(void *ud, char *mask);
  void *ud;
} outbox_options;

outbox *outbox_start(const outbox_options *opt, char *err, size_t errlen);
/* New messages were queued (called from any thread). */
void outbox_wake(void *ob);
/* Stops claiming messages; the thread waits (at most grace_ms) for the
 * answers of requests in flight, records them, and ends. What is not
 * answered by then stays claimed and is sent again at the next start. */
void outbox_begin_stop(outbox *ob, long grace_ms);
/* 1 once the thread has ended (it reports nothing more). */
int outbox_stopped(outbox *ob);
/* outbox_begin_stop if not yet, waits for the thread, frees everything. */
void outbox_stop(outbox *ob, long grace_ms);

typedef struct outbox_stats {
  long sent, retried, failed, in_flight;
} outbox_stats;
outbox_stats outbox_stats_of(outbox *ob);

/* The provider of a message from sender (a number; for another channel
 * its prefix, "whatsapp:"), or NULL if the bot has none for that channel. */
const provider_config *outbox_provider(const outbox_bot_config *c, const char *sender);

/* Messages a second from a sender of Meta's channels: WhatsApp's Cloud
 * API takes 80 a second from a number unless Meta raised it. */
#define CHANNEL_RATE 80.0

/* The rate (per second) of a number of this type under these settings:
 * a channel's sender CHANNEL_RATE;
 * short codes are 3 to 8 digits, toll-free numbers +1 800, 833, 844, 855,
 * 866, 877 and 888; anything else is a long code. */
double outbox_rate_for(const outbox_bot_config *c, const char *number);

/* A token bucket: rate a second, holding at most burst. */
typedef struct token_bucket {
  double rate, burst, tokens;
  int64_t at; /* ms of the last refill */
} token_bucket;
void bucket_init(token_bucket *b, double rate, int64_t now);
/* Takes cost tokens if there are (a cost above burst needs a full bucket
 * and leaves a debt): 1 taken, 0 not yet. */
int bucket_take(token_bucket *b, double cost, int64_t now);
/* When cost could be taken (ms; now if it can be at once). */
int64_t bucket_ready_at(const token_bucket *b, double cost, int64_t now);

#endif
