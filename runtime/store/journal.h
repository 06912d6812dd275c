/* journal: the writes of one batch, and the writer that applies them.
 *
 * The engine runs scripts and decides every effect in memory (its contact
 * cache is always the newest state), recording the SQL writes as a journal.
 * A writer applies a journal in one transaction: inline (sim, test, an
 * in-memory store), or on its own thread, so the next batch's scripts run
 * while this one is written and committed (group commit on two cores).
 * One journal at a time is in flight; a journal is durable when the writer
 * reports it done. */
#ifndef PARLEY_JOURNAL_H
#define PARLEY_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

typedef enum {
  J_CONTACT_ADD,      /* id, bot, number, at */
  J_CONTACT_UPDATE,   /* id, status, fields, tags, timezone (NULL: unchanged) */
  J_CONTACT_SEEN,     /* id, at */
  J_CONTACT_JOINED,   /* id */
  J_CONVERSATION,     /* id, state, expect, at */
  J_MESSAGE,          /* the message row */
  J_CONSENT,          /* bot, contact, number, action, source, text, at */
  J_ERROR,            /* bot, contact, message, kind, text, at */
  J_BOT_STORE,        /* bot, json */
  J_TIMER_ADD,        /* the timer row */
  J_TIMER_DONE,       /* id, status, error, at */
  J_TIMER_CANCEL,     /* id, bot */
  J_DRIPS_CANCEL,     /* contact, handler (NULL: every drip) */
  J_MESSAGE_RELEASE,  /* id, status, at */
  J_BROADCAST_ADD,    /* the broadcast row */
  J_BROADCAST_UPDATE, /* id, status, cursor, next_at, counts */
  J_CONTACT_ERASE,    /* bot, contact, number, suppress */
  J_DELIVERY,         /* id, status, error, at: a delivery report */
  /* the sender's (outbox.c), applied as side journals */
  J_OUTBOX_CLAIM,   /* id, at; result: 1 claimed, 0 no longer queued */
  J_OUTBOX_SENT,    /* id, provider id, at */
  J_OUTBOX_RETRY,   /* id, next attempt (due), error, at */
  J_OUTBOX_WAIT,    /* the same, the attempt not counted */
  J_OUTBOX_FAILED,  /* id, error, at; result: 1 recorded, 0 no longer being sent */
  J_CARRIER_OPTOUT, /* bot, contact, number, reason, at */
  J_UNDELIVERABLE,  /* contact, why */
  J_OUTBOX_RECOVER, /* result: how many sends left in flight went back to the queue */
  /* the engine's own, applied by writer_apply */
  J_BOT_VERSION, /* bot name, sha, files (JSON), at: the bot made if new, the version
                    added if new; result: the version's row id, with result_bot and
                    result_number (its number among the bot's versions) */
  J_BOT_ACTIVE,  /* bot, id: the version that runs */
  J_BOT_SERVED,  /* bot, folder sha (NULL: unchanged) */
  J_BROADCAST_CANCEL, /* bot, id; result: 1 cancelled, 0 not running */
} journal_kind;

enum { JOURNAL_STRINGS = 8 };

typedef struct journal_op {
  journal_kind kind;
  int64_t id, bot, contact, message, at, due;
  double rate;
  long counts[5];
  int transactional;
  /* set when applied, for the kinds that answer (see above) */
  int64_t result, result_bot, result_number;
  char *s[JOURNAL_STRINGS];
} journal_op;

/* The ops' strings are copies kept in blocks the journal owns (one
 * allocation for many strings), valid until the journal is cleared. */
typedef struct journal_block journal_block;

typedef struct journal {
  journal_op *ops;
  size_t n, cap;
  int queued; /* messages it puts in the outbox */
  journal_block *blocks; /* the first takes the next strings */
} journal;

void journal_contact_add(journal *j, int64_t id, int64_t bot, const char *number,
                         int64_t at);
void journal_contact_update(journal *j, int64_t id, const char *status,
                            const char *fields, const char *tags,
                            const char *timezone);
void journal_contact_seen(journal *j, int64_t id, int64_t at);
void journal_contact_joined(journal *j, int64_t id);
void journal_conversation(journal *j, int64_t contact, const char *state,
                          const char *expect, int64_t at);
void journal_message(journal *j, const message_row *m);
void journal_consent(journal *j, int64_t bot, int64_t contact, const char *number,
                     const char *action, const char *source, const char *text,
                     int64_t at);
void journal_error(journal *j, int64_t bot, int64_t contact, int64_t message,
                   const char *kind, const char *text, int64_t at);
void journal_bot_store(journal *j, int64_t bot, const char *json);
void journal_timer_add(journal *j, const timer_row *t, int64_t at);
void journal_timer_done(journal *j, int64_t id, const char *status,
                        const char *error, int64_t at);
void journal_timer_cancel(journal *j, int64_t id, int64_t bot);
void journal_drips_cancel(journal *j, int64_t contact, const char *handler);
void journal_message_release(journal *j, int64_t id, const char *status, int64_t at);
void journal_broadcast_add(journal *j, const broadcast_row *b, int64_t at);
void journal_broadcast_update(journal *j, int64_t id, const char *status,
                              int64_t cursor, int64_t next_at, long sent, long held,
                              long suppressed, long failed, long not_opted_in);
void journal_contact_erase(journal *j, int64_t bot, int64_t contact, const char *number,
                           int suppress, int64_t at);
void journal_delivery(journal *j, int64_t id, const char *status, const char *error,
                      int64_t at);
void journal_outbox(journal *j, journal_kind kind, int64_t id, const char *text,
                    int64_t due, int64_t at);
void journal_carrier_optout(journal *j, int64_t bot, int64_t contact, const char *number,
                            const char *reason, int64_t at);
void journal_undeliverable(journal *j, int64_t contact, const char *why);
void journal_outbox_recover(journal *j);
void journal_bot_version(journal *j, const char *bot_name, const char *sha,
                         const char *files_json, int64_t at);
void journal_bot_active(journal *j, int64_t bot, int64_t version_id);
void journal_bot_served(journal *j, int64_t bot, const char *folder_sha);
void journal_broadcast_cancel(journal *j, int64_t bot, int64_t id);
/* Moves every op of src to the end of dst (in order), leaving src empty; no
 * string is copied (src's blocks go to dst with them, so src's next string
 * takes a new block: one allocation). dst's queued count grows by src's. */
void journal_append(journal *dst, journal *src);
/* Empties it, keeping its ops buffer (free(j->ops) or journal_free frees
 * that); its strings' blocks are freed. */
void journal_clear(journal *j);
void journal_free(journal *j); /* empties it and frees the buffer */

/* Applies a journal in one transaction; on failure nothing of it is kept and
 * err says why (a message refused names its id and provider id). Messages go
 * in INSERTs of many rows: one waits past the ops that leave the messages
 * table alone (contacts, conversations, timers...), never past one that
 * reads or changes it (a release, an erase, a delivery, the outbox's). */
int journal_apply(store *st, journal *j, char *err, size_t errlen);

/* The writer owns the one connection that writes on a database (a
 * `store`: nobody else has one), and applies on it the journals of the
 * engine (writer_submit, writer_apply) and of other threads
 * (writer_apply_side), one at a time. */
typedef struct writer writer;
/* Opens path for writing, making the database's keys if it has none
 * (store_ensure_keys). threaded: journals are applied on a thread of the
 * writer's own (and a file's WAL is checkpointed on another connection and
 * thread); otherwise inline, on the caller's thread. NULL with err. */
writer *writer_open(const char *path, int threaded, char *err, size_t errlen);
void writer_close(writer *w); /* closes the connection */
/* Without a thread of its own (an in-memory store: one connection for
 * everything), the writer's connection for the reads of the thread that
 * submits; NULL when the writer has its thread (readers then open their own
 * connection: store_reader_open). */
store_reader *writer_reader(writer *w);
/* Waits for the journal in flight, then takes j, giving back the buffers of
 * the one before, empty, to record the next in (no allocation once they are
 * big enough). Returns -1 if the one before failed (its error in err); j is
 * not taken then. */
int writer_submit(writer *w, journal *j, char *err, size_t errlen);
/* Waits until nothing is in flight; -1 if the last journal failed. */
int writer_wait(writer *w, char *err, size_t errlen);
/* Called on the writer's thread after a journal that queued messages
 * commits (the sender's wake-up). */
void writer_on_queued(writer *w, void (*fn)(void *ud), void *ud);
/* Applies j on the writer's thread between the engine's journals, in a
 * transaction of its own, and waits for it (any thread but the engine's;
 * the sender's writes, so one connection writes and no one waits for the
 * lock). -1 (err) if it failed, or if the writer has no thread. */
int writer_apply_side(writer *w, journal *j, char *err, size_t errlen);
/* For the thread that submits (the engine's): applies j in a transaction of
 * its own after the journal in flight, and waits for it, so its results
 * (op->result) can be read and what it wrote is durable when it returns (a
 * version, a cancel, a batch of an import). 0, or -1 with err (nothing of
 * j kept). */
int writer_apply(writer *w, journal *j, char *err, size_t errlen);
/* Journals committed so far (each submit counts one). */
uint64_t writer_committed(writer *w);

#endif
