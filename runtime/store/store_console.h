/* store_console: what the console keeps in the store (store_console.c):
 * the sessions of the people signed in to it, so that any node sharing the
 * database knows them and they outlive a restart, and how far each
 * conversation has been read there. Its inbox reads the conversations of a
 * bot from the messages and contacts the engine writes. */
#ifndef PARLEY_STORE_CONSOLE_H
#define PARLEY_STORE_CONSOLE_H

#include <stdint.h>

#include "store.h"

/* A signed-in person. id is the SHA-256 (hex) of the secret the browser
 * holds in its cookie: the store never sees the secret itself. */
typedef struct console_session {
  char *id;
  char *who;  /* the name given at sign-in: the actions are recorded under it */
  char *bots; /* a JSON list of the bots it may see, NULL: every bot (the admin token) */
  char *csrf; /* what every change must carry in X-CSRF-Token */
  int64_t created_at, expires_at; /* ms */
} console_session;
void console_session_free(console_session *s);

/* Records s, and forgets the sessions expired at now. 0 or -1. */
int store_session_add(store *st, const console_session *s, int64_t now);
/* 1 with *out (the caller frees it) if id is a session not expired at now,
 * 0 if not, -1 on an error. */
int store_session_get(store_reader *rd, const char *id, int64_t now, console_session *out);
/* Forgets the session (signed out). 0 or -1. */
int store_session_end(store *st, const char *id);

/* The conversation of contact_id has been read up to at (ms): its inbound
 * messages from then on count as unread. 0 or -1. */
int store_inbox_read(store *st, int64_t contact_id, int64_t at);

/* The time of the contact's newest message (ms), 0 if none, -1 on an error. */
int64_t store_newest_message_at(store_reader *rd, int64_t contact_id);

/* A conversation in the inbox: its contact and its last message. */
typedef struct inbox_row {
  int64_t contact_id;
  const char *number, *status, *name, *tags; /* name: the contact's field "name", or NULL */
  int64_t message_id; /* the last message's: the cursor of the next page */
  const char *direction, *text, *message_status;
  int64_t at;     /* the last message's time */
  int64_t unread; /* inbound messages since it was last read */
  const char *handoff; /* a person has it, or is asked to: JSON; NULL: the bot's */
} inbox_row;
typedef void (*inbox_fn)(void *ud, const inbox_row *r);
/* The bot's conversations (contacts with a message), the one with the
 * latest message first: those whose last message is before the cursor
 * (a message id; 0: from the top), at most limit. search (NULL: all) is
 * found in the number, the name or a message's text, the case of ASCII
 * letters aside; tag (NULL: all) is one of the contact's tags. 0 or -1. */
typedef struct inbox_query {
  const char *search, *tag;
  int64_t before;
  long limit;
  int needs_person; /* only those a person has or is asked to take */
  const char *field, *value; /* only those whose field (NULL: any) has that value, as text */
  const char *segment; /* only the contacts of this segment (store_contacts_match's JSON), or NULL */
} inbox_query;
int store_inbox_each(store_reader *rd, int64_t bot_id, const inbox_query *q, inbox_fn fn,
                     void *ud);

/* A person in the loop. A conversation handed to a person (c:handoff,
 * or taken in the console) has a handoff: JSON {"reason", "since" (ms),
 * "by" (who took it; absent: nobody yet), "taken_at"}, which the engine
 * keeps with the contact (contact_row.handoff). NULL: the bot's again. */
int store_handoff_set(store *st, int64_t contact_id, const char *handoff);

/* What a person did in a conversation: took it, replied, added a note,
 * handed it back. Kept until the contact is erased. */
typedef struct operator_action {
  int64_t bot_id, contact_id;
  const char *who, *action, *text; /* action: take, reply, note, handback */
  int64_t at;                      /* ms */
} operator_action;
int store_operator_action_add(store *st, const operator_action *a);
typedef void (*operator_action_fn)(void *ud, const operator_action *a);
/* The contact's, oldest first. 0 or -1. */
int store_operator_actions_each(store_reader *rd, int64_t contact_id, operator_action_fn fn,
                                void *ud);

/* The handler errors of a contact's conversation (kind: "handler", ...;
 * at in ms), oldest first. 0 or -1. */
typedef void (*contact_error_fn)(void *ud, const char *kind, const char *text, int64_t at);
int store_contact_errors_each(store_reader *rd, int64_t contact_id, contact_error_fn fn,
                              void *ud);

/* Numbers at a glance: what happened to a bot from `since` (ms) on, in
 * buckets of bucket_ms (an hour, a day), shifted by offset_ms (the
 * viewer's time zone: a day starts at its midnight). Each call of fn is
 * one bucket's count of one kind: "in", "out", "delivered", "undelivered",
 * "failed" (outbound messages now in that status), "optin", "optout",
 * "error". Messages are found from the first whose time is since (their
 * ids grow with time: a few look-ups by id, then the window's rows only).
 * 0 or -1. */
typedef void (*stats_fn)(void *ud, int64_t bucket_start_ms, const char *kind, int64_t count);
int store_bot_stats(store_reader *rd, int64_t bot_id, int64_t since, int64_t bucket_ms,
                    int64_t offset_ms, stats_fn fn, void *ud);
/* How long fans waited for an answer: for each of the bot's last `limit`
 * inbound messages from since on, the time (ms) to the next message out
 * to that contact that is not a broadcast's (a handler's reply, a
 * person's); fn gets each (unanswered ones are left out). 0 or -1. */
int store_reply_waits(store_reader *rd, int64_t bot_id, int64_t since, long limit,
                      void (*fn)(void *ud, int64_t wait_ms), void *ud);

#endif
