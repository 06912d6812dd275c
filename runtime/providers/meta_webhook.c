/* meta_webhook: Meta's handshake and signature checks (meta_webhook.h). */
#include "meta_webhook.h"

#include <string.h>

#include "signature.h"
#include "util.h"

#define NOT_SIGNED "X-Hub-Signature-256 does not match this request"

static int refuse(provider_answer *a, unsigned status, const char *error) {
  a->status = status;
  a->error = error;
  return -1;
}

static const char *signature_header(const provider_request *rq) {
  return rq->header(rq->ctx, "X-Hub-Signature-256");
}

void meta_verify(const meta_keys *k, const provider_request *rq, provider_answer *a,
                 char **body) {
  const char *mode = rq->query(rq->ctx, "hub.mode");
  const char *token = rq->query(rq->ctx, "hub.verify_token");
  const char *challenge = rq->query(rq->ctx, "hub.challenge");
  if (!mode || strcmp(mode, "subscribe") != 0 || !challenge) {
    refuse(a, 400, "a subscription handshake needs hub.mode=subscribe, hub.verify_token and "
                   "hub.challenge");
    return;
  }
  if (!secret_matches(token, rq->secret(rq->ctx, rq->bot, k->verify_token))) {
    rq->rejected(rq->ctx, k->who, token ? "token" : "missing", rq->bot, "verify");
    refuse(a, 403, "hub.verify_token is not this bot's verify token");
    return;
  }
  /* echoed as text: Meta's challenge is a number; nothing else goes back */
  if (!inbound_short_text_ok(challenge, 128) || strpbrk(challenge, "<>&\"'")) {
    refuse(a, 400, "hub.challenge must be 1 to 128 plain characters");
    return;
  }
  a->status = 200;
  a->error = NULL;
  *body = xstrdup(challenge);
}

int meta_refused_early(const meta_keys *k, const provider_request *rq, provider_answer *a) {
  const char *sig = signature_header(rq);
  if (sig && *sig && rq->secret(rq->ctx, rq->bot, k->app_secret)) return 0;
  rq->rejected(rq->ctx, k->who, sig && *sig ? "signature" : "missing", rq->bot, rq->endpoint);
  return refuse(a, 403, NOT_SIGNED);
}

int meta_refused_unsigned(const meta_keys *k, const provider_request *rq, provider_answer *a) {
  const char *secret = rq->secret(rq->ctx, rq->bot, k->app_secret);
  if (meta_signature_valid(secret, signature_header(rq), rq->body, rq->len)) return 0;
  rq->rejected(rq->ctx, k->who, signature_header(rq) ? "signature" : "missing", rq->bot,
               rq->endpoint);
  return refuse(a, 403, NOT_SIGNED);
}
