/* webhook_provider: the JSON webhook's registration. Messages (POST
 * /v1/bots/BOT/messages, or /v1/messages with "to" picking the bot) and
 * delivery reports (POST /v1/bots/BOT/status), proved by the bearer
 * webhook_token or an X-Parley-Signature (webhook_auth.h); the answer
 * carries the replies as JSON; its settings; sending is webhook.c. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "provider_registry.h"
#include "store.h"
#include "util.h"
#include "webhook_auth.h"

extern const provider_ops provider_webhook;

static const provider_setting settings[] = {
    {"webhook_url", "PARLEY_WEBHOOK_URL", NULL, 0, 1,
     "provider webhook: where outgoing messages are POSTed as JSON"},
    {"webhook_send_secret", "PARLEY_WEBHOOK_SEND_SECRET", NULL, 1, 1,
     "provider webhook: HMAC-SHA256 key signing what is POSTed"},
    {"webhook_secret", "PARLEY_WEBHOOK_SECRET", NULL, 1, 1,
     "HMAC-SHA256 key of signed JSON webhooks (X-Parley-Signature)"},
    {NULL, NULL, NULL, 0, 0, NULL}};

static const provider_setting *const shared_settings[] = {&provider_webhook_token, NULL};

static const char *configure(provider_config *cfg, provider_setting_fn setting,
                             void *ud) {
  cfg->url = setting(ud, "webhook_url");
  cfg->secret = setting(ud, "webhook_send_secret");
  cfg->webhook_token = setting(ud, "webhook_token");
  const char *secret = setting(ud, "webhook_secret");
  /* delivery reports come back authenticated like the bot's webhooks */
  if (cfg->status_url && !(cfg->webhook_token && *cfg->webhook_token) &&
      !(secret && *secret))
    return "webhook delivery reports need webhook_token or webhook_secret, or "
           "delivery_reports = off";
  return NULL;
}

static int refuse(provider_answer *a, unsigned status, const char *error) {
  a->status = status;
  a->error = error;
  return -1;
}

/* Before the body: a wrong bearer token, no credential at all, or headers
 * no body can make a valid X-Parley-Signature of: -1 with the answer (401,
 * 403), logged as rejected; else 0. */
static int webhook_refused_early(const provider_request *rq, provider_answer *a) {
  const char *b = rq->bot;
  const char *auth = rq->header(rq->ctx, "Authorization");
  const char *sig = rq->header(rq->ctx, "X-Parley-Signature");
  if (auth && strncmp(auth, "Bearer ", 7) == 0) {
    if (b && !secret_matches(auth + 7, rq->secret(rq->ctx, b, "webhook_token"))) {
      rq->rejected(rq->ctx, "json", "token", b, rq->endpoint);
      return refuse(a, 403, "the bearer token is not this bot's");
    }
    return 0;
  }
  if (!sig) {
    rq->rejected(rq->ctx, "json", "missing", b, rq->endpoint);
    return refuse(a, 401,
                  "an Authorization: Bearer token or an X-Parley-Signature "
                  "(with X-Parley-Timestamp) is required");
  }
  if (!b) return 0;
  const char *problem = webhook_headers_problem(
      rq->secret(rq->ctx, b, "webhook_secret"),
      rq->header(rq->ctx, "X-Parley-Timestamp"), sig, (int64_t)time(NULL));
  if (problem) {
    rq->rejected(rq->ctx, "json", "signature", b, rq->endpoint);
    return refuse(a, 403, problem);
  }
  return 0;
}

/* 0 if the request proves it comes from the bot's owner: its bearer token,
 * or an X-Parley-Signature of the body under its webhook secret
 * (webhook_auth.h); else -1 with the answer, logged as rejected. */
static int webhook_authentic(const provider_request *rq, provider_answer *a) {
  if (webhook_refused_early(rq, a)) return -1;
  const char *auth = rq->header(rq->ctx, "Authorization");
  if (auth && strncmp(auth, "Bearer ", 7) == 0) return 0; /* the token was checked */
  const char *problem =
      webhook_signature_problem(rq->secret(rq->ctx, rq->bot, "webhook_secret"),
                                rq->header(rq->ctx, "X-Parley-Timestamp"),
                                rq->header(rq->ctx, "X-Parley-Signature"), rq->body,
                                rq->len, (int64_t)time(NULL));
  if (problem) {
    rq->rejected(rq->ctx, "json", "signature", rq->bot, rq->endpoint);
    return refuse(a, 403, problem);
  }
  return 0;
}

/* 0 if the body is declared JSON; else -1 with the answer (415). */
static int webhook_json_type(const provider_request *rq, provider_answer *a) {
  const char *type = rq->header(rq->ctx, "Content-Type");
  if (type && strncasecmp(type, "application/json", 16) == 0 &&
      (type[16] == 0 || type[16] == ';' || type[16] == ' '))
    return 0;
  return refuse(a, 415, "Content-Type must be application/json");
}

/* The message's id as a string: a JSON string or integer, else NULL. */
static char *json_id(json_t *id) {
  if (json_is_string(id)) return xstrdup(json_string_value(id));
  if (json_is_integer(id)) return xasprintf("%lld", (long long)json_integer_value(id));
  return NULL;
}

/* 1 if media is a list of at most 10 strings of at most MEDIA_URL_MAX bytes. */
static int media_list_ok(json_t *media) {
  if (!json_is_array(media) || json_array_size(media) > 10) return 0;
  size_t i;
  json_t *u;
  json_array_foreach(media, i, u) if (!json_is_string(u) ||
                                      json_string_length(u) > MEDIA_URL_MAX) return 0;
  return 1;
}

static int read_message(const provider_request *rq, provider_message *m,
                        provider_answer *a) {
  if (webhook_authentic(rq, a) || webhook_json_type(rq, a)) return -1;
  json_error_t jerr;
  json_t *o = json_loadb(rq->body, rq->len, 0, &jerr);
  json_t *idv = json_object_get(o, "id");
  if (!json_is_object(o) || !json_is_string(json_object_get(o, "from")) ||
      !inbound_sender_ok(json_string_value(json_object_get(o, "from"))) ||
      !json_is_string(json_object_get(o, "text")) ||
      (idv && !json_is_string(idv) && !json_is_integer(idv))) {
    json_decref(o);
    return refuse(a, 400,
                  "the body must be JSON like "
                  "{\"from\":\"+15550001\",\"text\":\"hi\",\"id\":\"...\"}");
  }
  json_t *tov = json_object_get(o, "to"), *media = json_object_get(o, "media");
  char *id = json_id(idv);
  const char *bad =
      tov && !inbound_sender_ok(json_string_value(tov))
          ? "to must be a number (1 to 32 characters)"
      : idv && !inbound_provider_id_ok(id)
          ? "id must be 1 to 128 characters without control characters"
      : media && !media_list_ok(media)
          ? "media must be a list of up to 10 URLs of at most 1024 characters"
          : NULL;
  if (bad) {
    free(id);
    json_decref(o);
    return refuse(a, 400, bad);
  }
  m->from = xstrdup(json_string_value(json_object_get(o, "from")));
  m->to = strdup_or_null(json_string_value(tov));
  m->text = xstrdup(json_string_value(json_object_get(o, "text")));
  m->provider_id = id;
  if (media && json_array_size(media) > 0)
    m->media_json = json_dumps(media, JSON_COMPACT);
  json_decref(o);
  return 0;
}

static int read_to(const provider_request *rq, char **to, provider_answer *a) {
  if (webhook_json_type(rq, a)) return -1;
  json_error_t jerr;
  json_t *o = json_loadb(rq->body, rq->len, 0, &jerr);
  if (!json_is_object(o)) {
    json_decref(o);
    return refuse(a, 400,
                  "the body must be JSON like {\"from\":\"+15550001\","
                  "\"to\":\"+15550100\",\"text\":\"hi\",\"id\":\"...\"}");
  }
  *to = strdup_or_null(json_string_value(json_object_get(o, "to")));
  json_decref(o);
  return 0;
}

static int check_unrouted(const provider_request *rq, provider_answer *a) {
  return webhook_authentic(rq, a);
}

/* The server's events (POST /v1/bots/BOT/events) are the brand's backend
 * posting JSON: proved like the JSON webhook. */
static int events_authentic(const provider_request *rq, provider_answer *a) {
  return webhook_authentic(rq, a) || webhook_json_type(rq, a) ? -1 : 0;
}

/* POST /v1/bots/BOT/status {"id": ID or "provider_id": "...", "status":
 * "delivered", "error": "..."}: a delivery report from the webhook
 * provider's side, authenticated like the JSON webhook. */
static int read_report(const provider_request *rq, provider_report *r,
                       provider_answer *a) {
  if (webhook_authentic(rq, a) || webhook_json_type(rq, a)) return -1;
  json_t *o = json_loadb(rq->body, rq->len, 0, NULL);
  char *idtext = json_id(json_object_get(o, "id"));
  const char *pid = json_string_value(json_object_get(o, "provider_id"));
  const char *status = json_string_value(json_object_get(o, "status"));
  json_t *err = json_object_get(o, "error");
  char *end = NULL;
  long long id = idtext ? strtoll(idtext, &end, 10) : 0;
  char *error = err ? json_id(err) : NULL;
  int ok = json_is_object(o) && status && store_status_rank(status) >= 3 &&
           ((idtext && *idtext && !*end && id > 0) ||
            (!idtext && inbound_provider_id_ok(pid))) &&
           (!err || (error && (!*error || inbound_short_text_ok(error, 256))));
  if (ok) {
    r->message_id = (int64_t)id;
    r->provider_id = pid && *pid ? xstrdup(pid) : NULL;
    r->status = xstrdup(status);
    r->error = error && *error ? xstrdup(error) : NULL;
  }
  free(error);
  free(idtext);
  json_decref(o);
  if (!ok)
    return refuse(a, 400,
                  "the body must be JSON like {\"id\":\"42\",\"status\":"
                  "\"delivered\"} (status: sent, delivered, undelivered, "
                  "failed or read; or \"provider_id\" instead of \"id\"; "
                  "error: at most 256 characters)");
  return 0;
}

/* {"status":"accepted","replies":[...]} */
static void reply(const char *const *texts, size_t n, provider_reply *out) {
  json_t *replies = json_array();
  for (size_t i = 0; i < n; i++) json_array_append_new(replies, json_string(texts[i]));
  json_t *o = json_pack("{s:s,s:o}", "status", "accepted", "replies", replies);
  out->body = json_dumps(o, JSON_COMPACT);
  out->content_type = "application/json";
  json_decref(o);
}

const provider_registration webhook_registration = {
    .name = "webhook",
    .log_name = "json",
    .ops = &provider_webhook,
    .settings = settings,
    .shared_settings = shared_settings,
    .messages_help = "JSON {\"from\",\"to\",\"text\",\"id\"}, bearer token\n"
                     "or X-Parley-Signature (docs/serve.md)",
    .configure = configure,
    .reports = {"/v1/bots/", "/status"},
    .messages = {"/v1/bots/", "/messages"},
    .unrouted = "/v1/messages",
    .refused_early = webhook_refused_early,
    .read_message = read_message,
    .read_to = read_to,
    .check_unrouted = check_unrouted,
    .read_report = read_report,
    .reply = reply,
    .events_refused_early = webhook_refused_early,
    .events_authentic = events_authentic,
};
