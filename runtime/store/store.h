/* store: everything parley keeps, in one SQLite database (WAL mode).
 *
 * All SQL lives in store.c, so the store can move to another database
 * without touching the engine. The schema is versioned (PRAGMA user_version)
 * and migrated forward on open; a database written by a newer parley, a file
 * that is not a database, or one locked by another process is reported and
 * left untouched. Times are milliseconds since the Unix epoch. */
#ifndef PARLEY_STORE_H
#define PARLEY_STORE_H

#include <stddef.h>
#include <stdint.h>

/* Two handles on a connection, so that the compiler keeps who writes: a
 * `store` writes (and reads, through store_reads); only the writer
 * (journal.h) holds one for the engine's database, and every write of the
 * engine and the sender goes through it as a journal. A `store_reader`
 * only reads: the functions below that take one never write. */
typedef struct store store;
typedef struct store_reader store_reader;

store *store_open(const char *path, char *err, size_t errlen);
/* PostgreSQL: the writes that need no answer go without waiting between
 * store_pipeline(st, 1) and store_pipeline(st, 0) (sql_pipeline); a
 * failure shows at the next statement that waits. SQLite: no-op. */
int store_pipeline(store *st, int on);
/* 1 if the database keeps a WAL that the writer's side must checkpoint
 * (a SQLite file); 0 for SQLite in memory and PostgreSQL, which do not. */
int store_has_wal(store *st);
void store_close(store *st);
/* A connection for reads only, on a database a store_open made. */
store_reader *store_reader_open(const char *path, char *err, size_t errlen);
void store_reader_close(store_reader *rd);
/* The reads of a writing connection (the same connection: its reads see
 * its own transaction's writes). */
store_reader *store_reads(store *st);
/* The due timers and held messages this connection reads, and the
 * outbox's sending numbers (store_outbox_next_sender), are those of the
 * partitions (partition.h) p with partitions[p] == '1' (PARTITIONS
 * characters, kept, not copied); NULL: every partition (the default). */
void store_set_partitions(store_reader *rd, const char *partitions);
const char *store_error(store_reader *rd); /* the last failure, as a sentence */

/* Copies what it can of the WAL into the database without blocking
 * writers (a passive checkpoint): its fsync is then off the commit path.
 * When the WAL has grown to STORE_WAL_RESTART_FRAMES frames (readers that
 * are always somewhere in it keep a passive checkpoint from ever catching
 * up, and the writer from starting the file over), it also waits for the
 * readers of old frames and makes the next commit start the WAL from its
 * beginning (a restart checkpoint): the WAL stays bounded under any load. */
enum { STORE_WAL_RESTART_FRAMES = 8192 }; /* 32 MiB of 4 KiB pages */
int store_checkpoint(store *st);
/* For tests: the length at which store_checkpoint restarts the WAL. */
void store_set_wal_restart(store *st, int frames);
/* Commits on this connection no longer checkpoint: another one does. */
int store_manual_checkpoints(store *st);

int store_begin(store *st);
/* A read transaction: the reads between share one snapshot (and one lock),
 * taken at the first read. Nothing may be written in it. */
int store_read_begin(store_reader *rd);
int store_read_end(store_reader *rd);
int store_commit(store *st);
int store_rollback(store *st);

/* bots and script versions */
int64_t store_bot_ensure(store *st, const char *name, int64_t now);
/* bot.store as JSON (caller frees) and, on PostgreSQL, the count of its
 * writes (*version, if not NULL; 0 on SQLite). */
char *store_bot_store_get(store_reader *rd, int64_t bot_id, int64_t *version);
/* Writes it over version (what store_bot_store_get gave, the writes of
 * this process counted on): on PostgreSQL the transaction fails
 * ("bot_store_changed_by_another_node") if another node wrote it since. */
int store_bot_store_set(store *st, int64_t bot_id, const char *json, int64_t version);
/* The version of bot_id with these files (sha), added if new: its row id
 * (what store_bot_set_active takes), and in *number its number among the
 * bot's versions (1, 2, ...: what users see); -1 on an error. */
int64_t store_script_version_add(store *st, int64_t bot_id, const char *sha,
                                 const char *files_json, int64_t now, int64_t *number);

int store_bot_set_active(store *st, int64_t bot_id, int64_t version_id);
/* `parley serve` runs this bot; folder_sha (NULL: unchanged) is what its
 * folder held when read (engine_bot_served). */
int store_bot_set_served(store *st, int64_t bot_id, const char *folder_sha);
/* Each served bot with its active version: name, sha, folder_sha (may be
 * NULL) and files (JSON). */
typedef void (*served_fn)(void *ud, const char *name, const char *sha, const char *folder_sha,
                          const char *files_json);
int store_served_each(store_reader *rd, served_fn fn, void *ud);
/* Each version of the bot by its number. */
typedef void (*version_fn)(void *ud, int64_t number, const char *sha,
                           int64_t created_at, int active);
int store_versions_each(store_reader *rd, int64_t bot_id, version_fn fn, void *ud);
/* The files of the bot's version number as JSON {"path": "source"}; NULL if
 * there is none. */
char *store_version_files(store_reader *rd, int64_t bot_id, int64_t number);

/* contacts and conversations */
typedef struct contact_row {
  int64_t id;
  char *number, *status, *fields, *tags, *timezone, *state, *expect;
  int64_t first_seen, last_seen;
  int joined; /* a message of this contact reached the script (on_join ran) */
  char *undeliverable; /* the provider's verdict on the number, or NULL */
  char *handoff; /* a person has the conversation: JSON (store_console.h), or NULL */
  int64_t last_in; /* when it last wrote (ms), 0: never */
} contact_row;
void contact_row_free(contact_row *r);

/* 1 found, 0 not found, -1 error */
int store_contact_get(store_reader *rd, int64_t bot_id, const char *number,
                      contact_row *out);
/* The contacts the bot has among numbers[0..n), in one query: fn gets each
 * (and may take its strings, leaving NULL behind). 0 or -1. */
typedef void (*contact_take_fn)(void *ud, contact_row *r);
int store_contacts_get_many(store_reader *rd, int64_t bot_id, const char *const *numbers,
                            size_t n, contact_take_fn fn, void *ud);
/* id: the caller's (the engine allocates ids, see store_max_ids). */
int64_t store_contact_insert(store *st, int64_t id, int64_t bot_id,
                             const char *number, int64_t now);
/* A new contact with what was written to it in the same journal: NULL
 * strings take the defaults (subscribed, {}, [], no zone). */
typedef struct contact_new {
  int64_t id, bot_id;
  const char *number;
  int64_t first_seen, last_seen;
  int64_t last_in; /* 0: never wrote */
  int joined;
  const char *status, *fields, *tags, *timezone;
} contact_new;
/* Inserts n new contacts (their ids given) in as few statements as it can
 * (INSERTs of many rows, prepared once). */
int store_contacts_insert(store *st, const contact_new *rows, size_t n);
int store_contact_seen(store *st, int64_t contact_id, int64_t now);
int store_contact_joined(store *st, int64_t contact_id);
/* NULL arguments are left unchanged. */
int store_contact_update(store *st, int64_t contact_id, const char *status,
                         const char *fields, const char *tags,
                         const char *timezone);
/* A NULL state keeps the conversation's (a new one's is {}). */
int store_conversation_save(store *st, int64_t contact_id, const char *state,
                            const char *expect, int64_t now);
typedef struct conversation_row {
  int64_t contact_id;
  const char *state, *expect;
  int64_t at;
} conversation_row;
/* Saves n conversations as store_conversation_save would one by one, in as
 * few statements as it can (upserts of many rows, prepared once): each
 * contact once among them (a statement cannot change a row twice). */
int store_conversations_save(store *st, const conversation_row *rows, size_t n);

typedef void (*contact_fn)(void *ud, const contact_row *r);
int store_contacts_each(store_reader *rd, int64_t bot_id, contact_fn fn, void *ud);
long store_contact_count(store_reader *rd, int64_t bot_id);

/* messages */
typedef struct message_row {
  int64_t id; /* 0: the store picks one */
  int64_t bot_id, contact_id;
  const char *direction; /* "in" or "out" */
  const char *number;    /* the contact's number */
  const char *text;
  const char *status;    /* in: "done"; out: "sent", "queued", "suppressed", "held" */
  const char *provider_id;
  int transactional;
  int segments;
  int64_t at;
  int64_t send_at; /* status "held": when it may go (quiet hours) */
  const char *sender; /* out: the bot's number it goes from (NULL: "") */
  int priority;       /* out: 0 replies and transactional, 1 bulk */
  const char *media;  /* out: JSON list of media URLs, or NULL */
  const char *error;  /* out, status "failed": why */
  int64_t broadcast_id; /* out: the broadcast that sent it (0: none) */
  int64_t reply_to;     /* out: the inbound message it answers (0: none) */
} message_row;
/* Returns the new id; 0 if an inbound message with this provider id was
 * already stored (a provider retry); -1 on error. */
int64_t store_message_add(store *st, const message_row *m);
/* Stores n rows, in order, as store_message_add would one by one, but in as
 * few statements as it can (INSERTs of many rows, prepared once). Call it in
 * a transaction: 0, or -1 with the error naming the row that failed (an
 * inbound provider id already stored is an error here), the rows before it
 * left for the caller's rollback. */
int store_messages_add(store *st, const message_row *rows, size_t n);

/* 1 if an inbound message with this provider id is stored for the bot. */
int store_inbound_exists(store_reader *rd, int64_t bot_id, const char *provider_id);
/* The replies that went back inline in the answer to the bot's inbound
 * message with this provider id (reply_to it, sent, never claimed by the
 * outbox), in id order: fn for each. Their count, or -1. */
typedef void (*store_reply_fn)(void *ud, int64_t id, const char *number, const char *text);
int store_inline_replies(store_reader *rd, int64_t bot_id, const char *provider_id,
                         store_reply_fn fn, void *ud);
/* How many stored inbound messages have a provider id (-1 on error), and
 * each(ud, bot, provider id) for every one of them (0, or -1 on error): the
 * engine's filter of the ids it need not look up (provider_ids.c). */
int64_t store_inbound_ids_count(store_reader *rd);
int store_inbound_ids(store_reader *rd, void (*each)(void *ud, int64_t bot_id, const char *id),
                      void *ud);
/* The time of the contact's first inbound message: 1 with *at, 0 if it has
 * none, -1 on error. */
int store_first_inbound_at(store_reader *rd, int64_t contact_id, int64_t *at);
/* The highest contact, message and timer ids in use (0 when none). */
int store_max_ids(store_reader *rd, int64_t *contact, int64_t *message, int64_t *timer);

typedef void (*message_fn)(void *ud, const char *direction, const char *text,
                           const char *status, int64_t at);
int store_messages_each(store_reader *rd, int64_t contact_id, message_fn fn, void *ud);

/* the consent ledger: append-only (triggers refuse UPDATE and DELETE) */
int store_consent_add(store *st, int64_t bot_id, int64_t contact_id,
                      const char *number, const char *action,
                      const char *source, const char *text, int64_t at);
typedef void (*consent_fn)(void *ud, const char *action, const char *source,
                           const char *text, int64_t at);
int store_consent_each(store_reader *rd, int64_t contact_id, consent_fn fn, void *ud);

/* timers: due_at in ms; contact_id 0 and number NULL for a bot's own */
typedef struct timer_row {
  int64_t id, bot_id, contact_id;
  char *number;
  int64_t due_at;
  char *handler, *args; /* args: JSON */
  char *kind;           /* "timer" or "every" */
  char *spec;           /* every: its schedule, e.g. "mon 10:00" */
} timer_row;
void timer_row_free(timer_row *t);
int store_timer_add(store *st, const timer_row *t, int64_t now);
/* status: "done", "error", "skipped" */
int store_timer_done(store *st, int64_t id, const char *status, const char *error,
                     int64_t at);
int store_timer_cancel(store *st, int64_t id, int64_t bot_id);
/* Cancels a contact's pending drip steps: of one drip (its handler,
 * "drip:<name>"), or of all (handler NULL). */
int store_timer_cancel_drips(store *st, int64_t contact_id, const char *handler);
/* A place in due order: (time, id). */
typedef struct due_key {
  int64_t at, id;
} due_key;
/* A bot's pending timers due by `until`, in due order after `after` (NULL:
 * from the start), at most limit. Caller frees each row and the array. */
int store_timers_due(store_reader *rd, int64_t bot_id, int64_t until,
                     const due_key *after, long limit, timer_row **out, size_t *n);
/* The pending recurring timers of a bot. */
int store_timers_every(store_reader *rd, int64_t bot_id, timer_row **out, size_t *n);
/* The pending timers of kind "rerun" (handlers to run again), counted by
 * bot and contact (0: the bot's own). */
int store_reruns_pending(store_reader *rd,
                         void (*fn)(void *ud, int64_t bot_id, int64_t contact_id,
                                    long n),
                         void *ud);

/* messages held by quiet hours */
typedef struct held_row {
  int64_t id, bot_id, contact_id;
  char *number;
  int64_t send_at;
  char *text;
  int64_t broadcast_id; /* 0: none */
} held_row;
int store_held_due(store_reader *rd, int64_t bot_id, int64_t until,
                   const due_key *after, long limit, held_row **out, size_t *n);
/* status: "sent" or "suppressed" */
int store_message_release(store *st, int64_t id, const char *status, int64_t at);

/* broadcasts */
typedef struct broadcast_row {
  int64_t id, bot_id;
  char *segment, *text, *status;
  double rate;
  int64_t cursor, next_at;
  long sent, held, suppressed, failed;
  long not_opted_in; /* contacts skipped: they never opted in */
  /* what it carries beside its text (JSON {"template": {name, language,
   * params}}: its WhatsApp recipients get the template), or NULL */
  char *content;
} broadcast_row;
void broadcast_row_free(broadcast_row *b);
/* The bot's latest broadcasts, the newest first, at most limit. 0 or -1. */
typedef void (*broadcast_fn)(void *ud, const broadcast_row *b);
int store_broadcasts_each(store_reader *rd, int64_t bot_id, long limit, broadcast_fn fn,
                          void *ud);
int store_broadcast_add(store *st, const broadcast_row *b, int64_t now);
/* counts are added to the row's */
/* One of its held messages released with status (suppressed, or sent):
 * its held count goes to that one. */
int store_broadcast_released(store *st, int64_t id, const char *status);
int store_broadcast_update(store *st, int64_t id, const char *status, int64_t cursor,
                           int64_t next_at, long sent, long held, long suppressed,
                           long failed, long not_opted_in);
int store_broadcasts_due(store_reader *rd, int64_t bot_id, int64_t until,
                         broadcast_row **out, size_t *n);
/* 1 found, 0 not, -1 error */
int store_broadcast_get(store_reader *rd, int64_t bot_id, int64_t id,
                        broadcast_row *out);
int64_t store_max_broadcast(store_reader *rd);
/* Work waiting: pending timers and drip steps, and messages held for their
 * send time (quiet hours); counted over partial indexes. 0, or -1. */
int store_backlog(store_reader *rd, int64_t *timers, int64_t *held);
/* 1 cancelled, 0 not running (done, cancelled or unknown), -1 error */
int store_broadcast_cancel(store *st, int64_t bot_id, int64_t id);

/* Contacts of a bot matching a segment (JSON: tags, status, joined_after,
 * joined_before in ms, any other key a field's value), id > after_id, in id
 * order, at most limit. */
/* While set, stop(ud) is called as this connection's statements run
 * (SQLite: every 1,000 steps of its work; PostgreSQL: every millisecond of
 * waiting for the server); when it returns nonzero the statement running
 * fails (interrupted, or cancelled on the server). NULL clears it. For
 * queries a script's call runs: the script's limits stop them. */
void store_set_progress(store_reader *rd, int (*stop)(void *ud), void *ud);
int store_contacts_match(store_reader *rd, int64_t bot_id, const char *segment,
                         int64_t after_id, long limit, contact_fn fn, void *ud);
/* How many contacts of a bot a segment holds (the same JSON), those with
 * an id > after_id (0: all): 0 with *count set, or -1. */
int store_segment_count(store_reader *rd, int64_t bot_id, const char *segment, int64_t after_id,
                        int64_t *count);

/* The whole ledger of a bot, oldest first. */
typedef void (*ledger_fn)(void *ud, int64_t at, const char *number, const char *action,
                          const char *source, const char *text);
int store_consent_all(store_reader *rd, int64_t bot_id, ledger_fn fn, void *ud);

/* Erasure: a contact's messages, conversation, timers and error records
 * and the contact go; the consent ledger stays (the legal record of
 * consent). suppress: an opted-out number is remembered as a keyed hash, so
 * it is opted out again if it ever texts. */
int store_contact_erase(store *st, int64_t bot_id, int64_t contact_id, const char *number,
                        int suppress, int64_t now);
/* 1 if the number was erased while opted out. */
int store_is_suppressed(store_reader *rd, int64_t bot_id, const char *number);
/* The same for numbers[0..n) in one query: suppressed[i] is 1 or 0. 0 or -1. */
int store_suppressed_many(store_reader *rd, int64_t bot_id, const char *const *numbers,
                          size_t n, unsigned char *suppressed);
/* Makes the database's keys (the suppression hashes') if it has none yet,
 * so that reading connections never need to write. 0 or -1. */
int store_ensure_keys(store *st);

/* ---------------------------------------------------------------- outbox
 * Outgoing messages waiting for a provider are rows of status "queued"; the
 * sender claims one ("sending", committed before the request goes out),
 * then records the provider's answer: "sent" with its id, "queued" again
 * for a retry at next_attempt_at, or "failed" with the reason. Delivery
 * reports move a message forward only: queued < sending < sent <
 * delivered, undelivered, failed < read. */
typedef struct outbox_row {
  int64_t id, bot_id, contact_id;
  char *number, *sender, *text;
  char *media; /* JSON list of URLs, or NULL */
  int transactional, priority, segments, attempts;
} outbox_row;
void outbox_row_free(outbox_row *r);

/* The next (bot, sender) after (*bot, *sender) in order that has queued
 * messages (start with *bot = 0): 1 found (*sender replaced, caller frees),
 * 0 none, -1 error. */
int store_outbox_next_sender(store_reader *rd, int64_t *bot, char **sender);
/* One sender's queued messages due by now, replies and transactional first,
 * then oldest first; at most limit. Caller frees each row and the array. */
int store_outbox_due(store_reader *rd, int64_t bot_id, const char *sender, int64_t now,
                     long limit, outbox_row **out, size_t *n);
/* The earliest retry time after `after` among queued messages (0: none).
 * It reads every queued message: call it seldom. */
int64_t store_outbox_next_retry_after(store_reader *rd, int64_t after);
/* 1 claimed (now "sending", attempts + 1), 0 no longer queued (or, not
 * transactional, its contact opted out since: now "suppressed"), -1. */
int store_outbox_claim(store *st, int64_t id, int64_t now);
/* The provider took it: "sent" (unless a delivery report got there first). */
int store_outbox_sent(store *st, int64_t id, const char *provider_id, int64_t now);
/* Back to the queue until next_at, with the reason of this failure. */
int store_outbox_retry(store *st, int64_t id, int64_t next_at, const char *error, int64_t now);
/* Back to the queue until next_at without counting the attempt (the
 * provider refused the account, not the message). */
int store_outbox_wait(store *st, int64_t id, int64_t next_at, const char *error, int64_t now);
/* "failed" for good, with the reason: 1, or 0 if it was no longer being
 * sent (a delivery report or an erasure got there first), or -1. */
int store_outbox_failed(store *st, int64_t id, const char *error, int64_t now);
/* After a restart: sends that were in flight go back to the queue (those
 * claimed before `before`, 0: all; of the sending numbers whose partition
 * has a '1' in partitions, NULL: all). How many, or -1. */
long store_outbox_recover(store *st, int64_t before, const char *partitions);
/* Messages queued or in flight (the outbox depth), or -1. */
long store_outbox_depth(store_reader *rd);
/* The carrier says the number opted out (Twilio 21610): unless it already
 * is, the contact is opted out, the consent ledger gets an "optout" from
 * source "carrier" with the reason, and its drips stop. */
int store_carrier_optout(store *st, int64_t bot_id, int64_t contact_id, const char *number,
                         const char *reason, int64_t at);
/* The provider's verdict on a contact's number ("invalid_number",
 * "not_mobile"): kept on the contact. */
int store_contact_undeliverable(store *st, int64_t contact_id, const char *why);

/* An outgoing message, for a delivery report: found by our id (id > 0) or
 * by the provider's; of bot_id (0: any bot, with an id). 1 found, 0 not,
 * -1 error. */
typedef struct outbound_row {
  int64_t id, bot_id, contact_id;
  char *number, *status, *provider_id, *text, *error;
} outbound_row;
void outbound_row_free(outbound_row *r);
int store_outbound_get(store_reader *rd, int64_t bot_id, int64_t id,
                       const char *provider_id, outbound_row *out);
/* A delivery report: moves the message to status if that is further on
 * (see above). 1 changed, 0 not (unknown, or not newer), -1 error. */
int store_delivery_status(store *st, int64_t id, const char *status, const char *error,
                          int64_t now);
/* The name of the bot with this id (caller frees), or NULL. */
char *store_bot_name(store_reader *rd, int64_t id);
/* How far a status is along (0: not one of ours). */
int store_status_rank(const char *status);

/* error records of handlers */
int store_error_add(store *st, int64_t bot_id, int64_t contact_id,
                    int64_t message_id, const char *kind, const char *text,
                    int64_t at);

#endif
