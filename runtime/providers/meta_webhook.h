/* meta_webhook: what Meta's webhooks (WhatsApp, Messenger, Instagram)
 * share: the subscription handshake and the signature every POST carries
 * (signature.h), each checked against the bot's settings named by the
 * channel. */
#ifndef PARLEY_META_WEBHOOK_H
#define PARLEY_META_WEBHOOK_H

#include "provider_registry.h"

/* A channel's names: who it logs as, the settings of its verify token and
 * of its app secret. */
typedef struct meta_keys {
  const char *who, *verify_token, *app_secret;
} meta_keys;

/* GET ?hub.mode=subscribe&hub.verify_token=T&hub.challenge=C: 200 with C
 * in *body when T is the bot's verify token (constant time); 403 (logged)
 * or 400 otherwise. */
void meta_verify(const meta_keys *k, const provider_request *rq, provider_answer *a,
                 char **body);
/* Before the body: -1 with a 403 (logged) when X-Hub-Signature-256 is
 * missing or the bot has no app secret; else 0. */
int meta_refused_early(const meta_keys *k, const provider_request *rq, provider_answer *a);
/* With the body: 0 if X-Hub-Signature-256 is the app secret's signature of
 * it, else -1 with a 403 (logged). */
int meta_refused_unsigned(const meta_keys *k, const provider_request *rq, provider_answer *a);

#endif
