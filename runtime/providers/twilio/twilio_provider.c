/* twilio_provider: Twilio's registration. Its messaging webhook (POST
 * /twilio/BOT, or /twilio with the To number picking the bot) and status
 * callbacks (POST /twilio/status/BOT?m=ID), both signed with
 * X-Twilio-Signature (twilio_webhook.h); its answers in TwiML; its
 * settings; sending is twilio.c. */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provider_registry.h"
#include "twilio_webhook.h"
#include "util.h"

extern const provider_ops provider_twilio;

static const provider_setting settings[] = {
    {"twilio_account_sid", "PARLEY_TWILIO_ACCOUNT_SID", NULL, 0, 1,
     "Twilio account SID (AC...) to send with"},
    {"twilio_auth_token", "PARLEY_TWILIO_AUTH_TOKEN", NULL, 1, 1,
     "Twilio auth token: checks X-Twilio-Signature, and sends with twilio_account_sid"},
    {"twilio_messaging_service_sid", "PARLEY_TWILIO_MESSAGING_SERVICE_SID", NULL, 0, 1,
     "send through this Messaging Service (MG...) instead of From numbers"},
    {"twilio_api_url", "PARLEY_TWILIO_API_URL", "https://api.twilio.com", 0, 1,
     "Twilio's API base URL (a local fake in tests)"},
    {NULL, NULL, NULL, 0, 0, NULL}};

static const char *configure(provider_config *cfg, provider_setting_fn setting,
                             void *ud) {
  cfg->url = setting(ud, "twilio_api_url");
  cfg->account_sid = setting(ud, "twilio_account_sid");
  cfg->auth_token = setting(ud, "twilio_auth_token");
  cfg->messaging_service_sid = setting(ud, "twilio_messaging_service_sid");
  return NULL;
}

/* ---------------------------------------------------------------- signatures */

/* Past this many distinct tokens (there is one per bot at most: they come
 * from the settings), a token's key is made for each request again. */
#define TWILIO_KEYS_MAX 1024

/* Auth tokens made ready for checking signatures, made on the first
 * request that needs one and kept for the process's life. */
static pthread_mutex_t keys_mu = PTHREAD_MUTEX_INITIALIZER;
static struct token_key {
  char *token;
  twilio_key *key;
} * keys;
static size_t nkeys;

/* 1 if signature is token's signature of url and the fields: with the
 * token's key, made once and kept, so a request does not pay for HMAC's
 * key set-up (twilio_webhook.h). */
static int signed_with(const char *token, const char *url, const form_param *p,
                       size_t n, const char *signature) {
  if (!token || !*token) return 0;
  twilio_key *key = NULL, *made = NULL;
  pthread_mutex_lock(&keys_mu);
  for (size_t i = 0; i < nkeys && !key; i++)
    if (strcmp(keys[i].token, token) == 0) key = keys[i].key;
  pthread_mutex_unlock(&keys_mu);
  if (!key) {
    key = made = twilio_key_new(token);
    pthread_mutex_lock(&keys_mu);
    /* kept (a copy another thread made meanwhile is harmless) */
    if (made && nkeys < TWILIO_KEYS_MAX) {
      keys = xrealloc(keys, (nkeys + 1) * sizeof *keys);
      keys[nkeys++] = (struct token_key){xstrdup(token), made};
      made = NULL;
    }
    pthread_mutex_unlock(&keys_mu);
  }
  int valid = twilio_key_signature_valid(key, url, p, n, signature);
  twilio_key_free(made);
  return valid;
}

static const char *signature_header(const provider_request *rq) {
  return rq->header(rq->ctx, "X-Twilio-Signature");
}

/* 1 if X-Twilio-Signature is the bot's (or the server's) signature of this
 * request: the public URL as Twilio called it and the form fields. */
static int request_signed(const provider_request *rq, const char *b,
                          const form_param *p, size_t n) {
  const char *sig = signature_header(rq);
  const char *token = rq->secret(rq->ctx, b, "twilio_auth_token");
  if (!token || !sig) return 0;
  return signed_with(token, rq->url, p, n, sig);
}

static int refuse(provider_answer *a, unsigned status, const char *error) {
  a->status = status;
  a->error = error;
  return -1;
}

#define NOT_SIGNED "X-Twilio-Signature does not match this request"

/* The request's form, decoded and its signature checked: 0 with *p, *n
 * (for form_free), or -1 with the answer (400, 403). */
static int signed_form(const provider_request *rq, form_param **p, size_t *n,
                       provider_answer *a) {
  if (form_decode(rq->body, rq->len, p, n))
    return refuse(a, 400, "the body is not application/x-www-form-urlencoded");
  if (!request_signed(rq, rq->bot, *p, *n)) {
    form_free(*p, *n);
    *p = NULL;
    *n = 0;
    rq->rejected(rq->ctx, "twilio", signature_header(rq) ? "signature" : "missing",
                 rq->bot, rq->endpoint);
    return refuse(a, 403, NOT_SIGNED);
  }
  return 0;
}

static int refused_early(const provider_request *rq, provider_answer *a) {
  const char *sig = signature_header(rq);
  if (sig && *sig && (!rq->bot || rq->secret(rq->ctx, rq->bot, "twilio_auth_token")))
    return 0;
  rq->rejected(rq->ctx, "twilio", sig && *sig ? "signature" : "missing", rq->bot,
               rq->endpoint);
  return refuse(a, 403, NOT_SIGNED);
}

/* ---------------------------------------------------------------- messages */

static int read_message(const provider_request *rq, provider_message *m,
                        provider_answer *a) {
  form_param *p = NULL;
  size_t n = 0;
  if (signed_form(rq, &p, &n, a)) return -1;
  const char *from = form_get(p, n, "From"), *body = form_get(p, n, "Body");
  const char *to = form_get(p, n, "To"), *sid = form_get(p, n, "MessageSid");
  const char *bad =
      !from || !body || !inbound_sender_ok(from) ? "From and Body are required"
      : to && !inbound_sender_ok(to) ? "To is not a number (1 to 32 characters)"
      : sid && !inbound_provider_id_ok(sid)
          ? "MessageSid is not an id (1 to 128 characters, no control characters)"
          : NULL;
  if (bad) {
    form_free(p, n);
    return refuse(a, 400, bad);
  }
  m->from = xstrdup(from);
  m->to = strdup_or_null(to);
  m->text = xstrdup(body);
  m->provider_id = strdup_or_null(sid);
  /* NumMedia, MediaUrl0..N-1 -> msg.media */
  const char *num = form_get(p, n, "NumMedia");
  long nmedia = num ? strtol(num, NULL, 10) : 0;
  if (nmedia > 0 && nmedia <= 10) {
    json_t *media = json_array();
    for (long i = 0; i < nmedia; i++) {
      char key[32];
      snprintf(key, sizeof key, "MediaUrl%ld", i);
      const char *u = form_get(p, n, key);
      if (u && strlen(u) <= MEDIA_URL_MAX) json_array_append_new(media, json_string(u));
    }
    m->media_json = json_dumps(media, JSON_COMPACT);
    json_decref(media);
  }
  form_free(p, n);
  return 0;
}

static int read_to(const provider_request *rq, char **to, provider_answer *a) {
  form_param *p = NULL;
  size_t n = 0;
  if (rq->len && form_decode(rq->body, rq->len, &p, &n))
    return refuse(a, 400, "the body is not application/x-www-form-urlencoded");
  *to = strdup_or_null(form_get(p, n, "To"));
  form_free(p, n);
  return 0;
}

static int check_unrouted(const provider_request *rq, provider_answer *a) {
  form_param *p = NULL;
  size_t n = 0;
  form_decode(rq->body, rq->len, &p, &n);
  int valid = request_signed(rq, "", p, n);
  form_free(p, n);
  if (valid) return 0;
  rq->rejected(rq->ctx, "twilio", "signature", NULL, "messages");
  return refuse(a, 403, NOT_SIGNED);
}

/* ---------------------------------------------------------------- status callbacks */

/* Twilio's MessageStatus in our terms (NULL: not a report on an outgoing
 * message): queued, accepted, scheduled and sending mean Twilio has it. */
static const char *twilio_status(const char *s) {
  static const char *const map[][2] = {{"accepted", "sent"},
                                       {"scheduled", "sent"},
                                       {"queued", "sent"},
                                       {"sending", "sent"},
                                       {"sent", "sent"},
                                       {"delivered", "delivered"},
                                       {"undelivered", "undelivered"},
                                       {"failed", "failed"},
                                       {"canceled", "failed"},
                                       {"read", "read"}};
  for (size_t i = 0; s && i < sizeof map / sizeof *map; i++)
    if (strcmp(map[i][0], s) == 0) return map[i][1];
  return NULL;
}

/* ?m=ID of the status URL (or a form field m): our message id, or 0. */
static int64_t message_param(const provider_request *rq, const form_param *p,
                             size_t n) {
  const char *m = rq->query(rq->ctx, "m");
  if (!m) m = form_get(p, n, "m");
  char *end;
  long long id = m ? strtoll(m, &end, 10) : 0;
  return m && *m && !*end && id > 0 ? (int64_t)id : 0;
}

static int read_report(const provider_request *rq, provider_report *r,
                       provider_answer *a) {
  form_param *p = NULL;
  size_t n = 0;
  if (signed_form(rq, &p, &n, a)) return -1;
  const char *raw = form_get(p, n, "MessageStatus");
  if (!raw) raw = form_get(p, n, "SmsStatus");
  const char *status = twilio_status(raw);
  const char *sid = form_get(p, n, "MessageSid");
  int64_t id = message_param(rq, p, n);
  const char *code = form_get(p, n, "ErrorCode");
  const char *bad =
      !raw || (!sid && !id) ? "MessageStatus and MessageSid are required"
      : sid && !inbound_provider_id_ok(sid)
          ? "MessageSid is not an id (1 to 128 characters, no control characters)"
      : code && *code && !inbound_short_text_ok(code, 256)
          ? "ErrorCode must be at most 256 characters without control characters"
          : NULL;
  int rc = 0;
  if (bad) {
    rc = refuse(a, 400, bad);
  } else if (!status) { /* receiving, received: not about a message we sent */
    rc = refuse(a, 200, NULL);
  } else {
    r->message_id = id;
    r->provider_id = sid && *sid ? xstrdup(sid) : NULL;
    r->status = xstrdup(status);
    r->error = code && *code ? xstrdup(code) : NULL;
  }
  form_free(p, n);
  return rc;
}

/* ---------------------------------------------------------------- answers */

static void reply(const char *const *texts, size_t n, provider_reply *out) {
  out->body = twiml_messages(texts, n);
  out->content_type = "text/xml";
}

const provider_registration twilio_registration = {
    .name = "twilio",
    .log_name = "twilio",
    .ops = &provider_twilio,
    .settings = settings,
    .messages_help = "Twilio messaging webhook (TwiML reply)",
    .configure = configure,
    .reports = {"/twilio/status/", NULL},
    .messages = {"/twilio/", NULL},
    .unrouted = "/twilio",
    .refused_early = refused_early,
    .read_message = read_message,
    .read_to = read_to,
    .check_unrouted = check_unrouted,
    .read_report = read_report,
    .reply = reply,
};
