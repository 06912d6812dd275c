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
#include "store_console.h"
#include "store_history.h"
#include "store_links.h"

typedef enum {
  J_CONTACT_ADD,
  J_CONTACT_UPDATE,
  J_CONTACT_SEEN,
  J_CONTACT_JOINED,
  J_CONVERSATION,
  J_MESSAGE,
  J_CONSENT,
  J_ERROR,
  J_BOT_STORE,
  J_TIMER_ADD,
  J_TIMER_DONE,
  J_TIMER_CANCEL,
  J_DRIPS_CANCEL,
  J_MESSAGE_RELEASE,
  J_BROADCAST_ADD,
  J_BROADCAST_UPDATE,
  J_CONTACT_ERASE,
  J_DELIVERY, /* a delivery report */
  /* the sender's (outbox.c), applied as side journals */
  J_OUTBOX_CLAIM,
  J_OUTBOX_SENT,
  J_OUTBOX_RETRY,
  J_OUTBOX_WAIT, /* a retry, the attempt not counted */
  J_OUTBOX_FAILED,
  J_CARRIER_OPTOUT,
  J_UNDELIVERABLE,
  J_OUTBOX_RECOVER,
  /* the engine's own, applied by writer_apply */
  J_BOT_VERSION,
  J_BOT_ACTIVE,
  J_BOT_SERVED,
  J_BROADCAST_CANCEL,
  J_INBOX_ADD,  /* a message for the node holding its conversation */
  J_INBOX_DONE, /* an inbox item handled (and its inline replies) */
  /* the console's (store_console.h) */
  J_SESSION_ADD,
  J_SESSION_END,
  J_INBOX_READ,
  J_HANDOFF,          /* who has a conversation (store_handoff_set) */
  J_OPERATOR_ACTION,  /* what a person did */
  /* tracked links (store_links.h) */
  J_LINK_ADD,
  J_CLICK_ADD,
  /* a conversation's past (store_history.h) */
  J_SNAPSHOT,
  J_HTTP_ANSWER,
} journal_kind;

/* What one op of each kind carries (the member of journal_op's u its kind
 * names: J_CONTACT_ADD, u.contact_add). Strings are the journal's copies;
 * the fields called "answer" are set when the op is applied (0 before). */
struct j_contact_add {
  int64_t id, bot, at;
  char *number;
};
struct j_contact_update { /* a string NULL: that column unchanged */
  int64_t id;
  char *status, *fields, *tags, *timezone;
};
struct j_contact_seen {
  int64_t id, at;
};
struct j_contact_joined {
  int64_t id;
};
struct j_conversation {
  int64_t contact, at;
  char *state, *expect;
};
struct j_consent {
  int64_t bot, contact, at;
  char *number, *action, *source, *text;
};
struct j_error {
  int64_t bot, contact, message, at;
  char *kind, *text; /* kind: the error's, e.g. "handler" */
};
struct j_bot_store {
  int64_t bot;
  char *json;
  int64_t version; /* the one it is written over (store_bot_store_set) */
};
struct j_timer_add {
  timer_row row;
  int64_t at;
};
struct j_status_change { /* J_TIMER_DONE (a timer's), J_DELIVERY (a message's) */
  int64_t id, at;
  char *status, *error;
};
struct j_timer_cancel {
  int64_t id, bot;
};
struct j_drips_cancel {
  int64_t contact;
  char *handler; /* NULL: every drip */
};
struct j_message_release {
  int64_t id, at;
  char *status;
  int64_t broadcast; /* the broadcast that sent it (0: none): its counts follow */
};
struct j_broadcast_add { /* row: id, bot_id, segment, text, rate, next_at */
  broadcast_row row;
  int64_t at;
};
struct j_broadcast_update { /* the counts are added to the row's */
  int64_t id, cursor, next_at;
  char *status;
  long sent, held, suppressed, failed, not_opted_in;
};
struct j_contact_erase {
  int64_t bot, contact, at;
  char *number;
  int suppress;
};
struct j_outbox { /* J_OUTBOX_CLAIM ... J_OUTBOX_FAILED: one queued message */
  int64_t id, at;
  int64_t due;       /* RETRY, WAIT: the next attempt */
  char *provider_id; /* SENT */
  char *error;       /* RETRY, WAIT, FAILED */
  /* answer: CLAIM, 1 claimed, 0 no longer queued; FAILED, 1 recorded, 0 no
   * longer being sent */
  int64_t applied;
};
struct j_carrier_optout {
  int64_t bot, contact, at;
  char *number, *reason;
};
struct j_undeliverable {
  int64_t contact;
  char *why; /* NULL: deliverable again */
};
struct j_outbox_recover { /* see store_outbox_recover */
  int64_t before;
  char *partitions;
  int64_t requeued; /* answer: sends left in flight that went back to the queue */
};
struct j_bot_version {               /* the bot made if new, the version added if new */
  char *bot_name, *sha, *files_json; /* files: JSON */
  int64_t at;
  /* answer: the bot's row id, the version's, and its number among the
   * bot's versions */
  int64_t bot_id, version_id, version_number;
};
struct j_bot_active { /* the version that runs */
  int64_t bot, version_id;
};
struct j_bot_served {
  int64_t bot;
  char *folder_sha; /* NULL: unchanged */
};
struct j_broadcast_cancel {
  int64_t bot, id;
  int64_t cancelled; /* answer: 1 cancelled, 0 not running */
};

struct j_inbox_add { /* see store_inbox_add */
  char *ticket, *item;
  int64_t bot;
  int partition, inline_max;
  int64_t reply_ms;
};
struct j_inbox_done { /* see store_inbox_done */
  int64_t id;
  int waited;
  char *replies, *reply_ids;
};

typedef struct journal_op {
  journal_kind kind;
  union {
    struct j_contact_add contact_add;
    struct j_contact_update contact_update;
    struct j_contact_seen contact_seen;
    struct j_contact_joined contact_joined;
    struct j_conversation conversation;
    message_row message;
    struct j_consent consent;
    struct j_error error;
    struct j_bot_store bot_store;
    struct j_timer_add timer_add;
    struct j_status_change timer_done;
    struct j_timer_cancel timer_cancel;
    struct j_drips_cancel drips_cancel;
    struct j_message_release message_release;
    struct j_broadcast_add broadcast_add;
    struct j_broadcast_update broadcast_update;
    struct j_contact_erase contact_erase;
    struct j_status_change delivery;
    struct j_outbox outbox;
    struct j_carrier_optout carrier_optout;
    struct j_undeliverable undeliverable;
    struct j_outbox_recover outbox_recover;
    struct j_bot_version bot_version;
    struct j_bot_active bot_active;
    struct j_bot_served bot_served;
    struct j_broadcast_cancel broadcast_cancel;
    struct j_inbox_add inbox_add;
    struct j_inbox_done inbox_done;
    struct console_session session_add; /* its strings the journal's */
    char *session_end;                  /* the session's id */
    struct j_inbox_read {
      int64_t contact, at;
    } inbox_read;
    struct j_handoff {
      int64_t contact;
      char *json; /* NULL: the bot's again */
    } handoff;
    struct operator_action operator_action; /* its strings the journal's */
    link_row link_add;                      /* its strings the journal's */
    click_row click_add;                    /* its strings the journal's */
    snapshot_row snapshot;                  /* its strings the journal's */
    http_answer_row http_answer;            /* its strings the journal's */
  } u;
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
void journal_bot_store(journal *j, int64_t bot, const char *json, int64_t version);
void journal_timer_add(journal *j, const timer_row *t, int64_t at);
void journal_timer_done(journal *j, int64_t id, const char *status,
                        const char *error, int64_t at);
void journal_timer_cancel(journal *j, int64_t id, int64_t bot);
void journal_drips_cancel(journal *j, int64_t contact, const char *handler);
/* A held message released (or one sent inline queued again); broadcast:
 * the broadcast that sent a held one (0: none), whose held count moves to
 * sent or suppressed. */
void journal_message_release(journal *j, int64_t id, const char *status, int64_t at,
                             int64_t broadcast);
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
void journal_outbox_recover(journal *j, int64_t before, const char *partitions);
void journal_bot_version(journal *j, const char *bot_name, const char *sha,
                         const char *files_json, int64_t at);
void journal_bot_active(journal *j, int64_t bot, int64_t version_id);
void journal_bot_served(journal *j, int64_t bot, const char *folder_sha);
void journal_broadcast_cancel(journal *j, int64_t bot, int64_t id);
void journal_inbox_add(journal *j, const char *ticket, int partition, int64_t bot,
                       const char *item, int64_t reply_ms, int inline_max);
void journal_inbox_done(journal *j, int64_t id, int waited, const char *replies,
                        const char *reply_ids);
void journal_session_add(journal *j, const console_session *s);
void journal_session_end(journal *j, const char *id);
void journal_inbox_read(journal *j, int64_t contact, int64_t at);
void journal_handoff(journal *j, int64_t contact, const char *json);
void journal_operator_action(journal *j, const operator_action *a);
void journal_link_add(journal *j, const link_row *l);
void journal_click_add(journal *j, const click_row *c);
void journal_snapshot(journal *j, const snapshot_row *s);
void journal_http_answer(journal *j, const http_answer_row *a);
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
/* Its write transactions check the node's fencing number f from now on
 * (store_set_fence), after the journal in flight. 0, or -1 with err. */
struct store_fence;
int writer_set_fence(writer *w, const struct store_fence *f, char *err, size_t errlen);
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
 * (the ops' answers) can be read and what it wrote is durable when it returns (a
 * version, a cancel, a batch of an import). 0, or -1 with err (nothing of
 * j kept). */
int writer_apply(writer *w, journal *j, char *err, size_t errlen);
/* Journals committed so far (each submit counts one). */
uint64_t writer_committed(writer *w);

#endif
