/* webhook_auth: how a JSON webhook (messages, events) proves it comes from
 * the bot's owner, when a bearer token is not enough (a token travels with
 * every request; a signature proves the body and expires).
 *
 *   X-Parley-Timestamp: 1767225600              (seconds since 1970)
 *   X-Parley-Signature: sha256=<64 hex digits>
 *
 * where the hex is HMAC-SHA256(key = the webhook secret,
 * data = timestamp + "." + the raw request body). A request whose timestamp
 * is more than WEBHOOK_TOLERANCE seconds from the server's clock is refused,
 * so a captured request cannot be replayed later. */
#ifndef PARLEY_WEBHOOK_AUTH_H
#define PARLEY_WEBHOOK_AUTH_H

#include <stddef.h>
#include <stdint.h>

#define WEBHOOK_TOLERANCE 300

/* "sha256=" + 64 hex digits + NUL */
#define WEBHOOK_SIGNATURE_SIZE 72

/* The X-Parley-Signature value for timestamp and body, into out. */
void webhook_sign(const char *secret, const char *timestamp, const char *body, size_t len,
                  char out[WEBHOOK_SIGNATURE_SIZE]);

/* What the headers alone show: NULL if a body could still match (a secret
 * is set, the timestamp is within the tolerance of now and the signature
 * has its form), else the sentence webhook_signature_problem would give.
 * Lets a server refuse a request before reading its body. */
const char *webhook_headers_problem(const char *secret, const char *timestamp,
                                    const char *signature, int64_t now);

/* NULL if signature and timestamp (the headers, either may be NULL) are
 * secret's signature of body within the tolerance of now (seconds); else a
 * sentence saying what is wrong. An empty or NULL secret accepts nothing. */
const char *webhook_signature_problem(const char *secret, const char *timestamp,
                                      const char *signature, const char *body, size_t len,
                                      int64_t now);

#endif
