/* webhook_provider: the JSON webhook's checks, which the server's own JSON
 * endpoints (events) share with the webhook provider's messages and
 * delivery reports. */
#ifndef PARLEY_WEBHOOK_PROVIDER_H
#define PARLEY_WEBHOOK_PROVIDER_H

#include "provider_registry.h"

/* Before the body: a wrong bearer token, no credential at all, or headers
 * no body can make a valid X-Parley-Signature of: -1 with the answer (401,
 * 403), logged as rejected; else 0. */
int webhook_refused_early(const provider_request *rq, provider_answer *a);
/* 0 if the request proves it comes from the bot's owner: its bearer token,
 * or an X-Parley-Signature of the body under its webhook secret
 * (webhook_auth.h); else -1 with the answer, logged as rejected. */
int webhook_authentic(const provider_request *rq, provider_answer *a);
/* 0 if the body is declared JSON; else -1 with the answer (415). */
int webhook_json_type(const provider_request *rq, provider_answer *a);

#endif
