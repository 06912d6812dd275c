/* compliance: the opt-out rules every bot gets before its script runs.
 *
 * STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE, OPTOUT opt out;
 * START, UNSTOP, YES opt back in (only an opted-out contact: from anyone else
 * they are ordinary messages); HELP, INFO get the bot's help text. The whole
 * message counts, trimmed, case-insensitive, trailing punctuation ignored:
 * "please stop by the store" is not an opt-out. */
#ifndef PARLEY_COMPLIANCE_H
#define PARLEY_COMPLIANCE_H

#include <stddef.h>

typedef enum {
  COMPLIANCE_NONE = 0,
  COMPLIANCE_OPTOUT,
  COMPLIANCE_OPTIN,
  COMPLIANCE_HELP
} compliance_kind;

/* Classifies a whole inbound message. When it is a keyword, the normalized
 * keyword (upper case, e.g. "STOP") is written to keyword. */
compliance_kind compliance_classify(const char *text, size_t len,
                                    char keyword[16]);

/* The runtime's default texts, naming the bot. Caller frees. */
char *compliance_default_help(const char *bot_name);
char *compliance_default_optout(const char *bot_name);
char *compliance_default_optin(const char *bot_name);

#endif
