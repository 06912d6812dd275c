/* chat_pull: a conversation from the store written as a .chat transcript
 * that plays it again (`parley pull`, GET /v1/bots/BOT/contacts/NUMBER/
 * transcript): @clock at its first message, @contact with the contact as
 * it was before it (store_history.h), each message, click and handler error
 * in order with ~ steps for the time between them, @http lines for the
 * answers its handlers got. What the store cannot play again (a broadcast,
 * a person's reply, a message that was not sent) is written as a comment;
 * the limits are in docs/transcripts.md (Pulling a live conversation). */
#ifndef PARLEY_CHAT_PULL_H
#define PARLEY_CHAT_PULL_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "util.h"

typedef struct pull_options {
  int64_t bot_id;
  const char *bot;    /* its name, for the header */
  const char *number; /* the contact's address */
  long last;          /* its last messages (both directions); 0: all */
  int mask;           /* the contact's number replaced by PULL_MASKED everywhere */
} pull_options;

/* The number a masked transcript gives the contact (on its channel). */
#define PULL_MASKED "+15550100"

/* The transcript into out (without @bot: the caller knows where it goes):
 * 1 done, 0 no such contact or no message, -1 the store failed (err). */
int chat_pull(store_reader *rd, const pull_options *o, buf *out, char *err, size_t errlen);

#endif
