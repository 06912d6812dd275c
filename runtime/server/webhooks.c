/* webhooks: what providers and a brand's backend post, read into jobs for
 * the engine: Twilio's messaging webhook, Kannel's sms-service get-url and
 * post-url, the JSON webhook, triggered events, and the delivery reports
 * of messages sent (Twilio status callbacks, Kannel DLRs, JSON). Each
 * checks its credentials first, then the body, and answers 4xx with a
 * sentence when either is wrong. */
#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http_internal.h"
#include "log.h"
#include "store.h"
#include "twilio_webhook.h"
#include "webhook_auth.h"

const char *form_get(const form_param *p, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(p[i].name, name) == 0) return p[i].value;
  return NULL;
}

char *strdup_or_null(const char *v) { return v ? xstrdup(v) : NULL; }

/* A sender as providers give it: 1 to 32 printable ASCII characters. */
static int valid_sender(const char *v) {
  size_t n = v ? strlen(v) : 0;
  if (n == 0 || n > 32) return 0;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)v[i] <= ' ' || (unsigned char)v[i] >= 0x7f) return 0;
  return 1;
}

/* A short text field (a provider's message id, an error code): 1 to max
 * bytes of UTF-8 without control characters. */
static int valid_short_text(const char *v, size_t max) {
  size_t n = v ? strlen(v) : 0;
  if (n == 0 || n > max || !utf8_valid(v, n)) return 0;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)v[i] < ' ' || v[i] == 0x7f) return 0;
  return 1;
}

/* A provider's id of a message (MessageSid, Kannel's %I, a JSON "id"). */
#define PROVIDER_ID_MAX 128
static int valid_provider_id(const char *v) { return valid_short_text(v, PROVIDER_ID_MAX); }

/* A media URL of a message (MediaUrlN, a JSON "media" entry). */
#define MEDIA_URL_MAX 1024

/* The peer's address as text ("127.0.0.1", "::1"), or "" if unknown. */
static void remote_address(struct MHD_Connection *conn, char *out, size_t n) {
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  out[0] = 0;
  if (!ci || !ci->client_addr) return;
  const struct sockaddr *sa = ci->client_addr;
  if (sa->sa_family == AF_INET)
    inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
              (socklen_t)n);
  else if (sa->sa_family == AF_INET6)
    inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
              (socklen_t)n);
}

void log_rejected(struct MHD_Connection *conn, const char *provider, const char *reason,
                  const char *bot, const char *endpoint) {
  char remote[INET6_ADDRSTRLEN];
  remote_address(conn, remote, sizeof remote);
  log_event(LOG_WARN, "rejected", "provider", provider, "reason", reason, "bot",
            bot && *bot ? bot : NULL, "endpoint", endpoint, "remote", remote, NULL);
}

/* 0 if the body is declared JSON; else the request has been answered (415). */
int check_json_type(struct MHD_Connection *conn, enum MHD_Result *rc) {
  const char *type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
  if (type && strncasecmp(type, "application/json", 16) == 0 &&
      (type[16] == 0 || type[16] == ';' || type[16] == ' '))
    return 0;
  *rc = respond_error(conn, 415, "Content-Type must be application/json");
  return -1;
}

/* The message's id as a string: a JSON string or integer, else NULL. */
static char *json_id(json_t *id) {
  if (json_is_string(id)) return xstrdup(json_string_value(id));
  if (json_is_integer(id)) return xasprintf("%lld", (long long)json_integer_value(id));
  return NULL;
}


/* A job for bot b (from and text are required; to and provider_id may be
 * NULL). */
static job *new_job(enum job_kind kind, const char *b, const char *from, const char *to,
                    const char *text, const char *provider_id) {
  job *j = xcalloc(1, sizeof *j);
  j->kind = kind;
  j->botname = xstrdup(b);
  j->from = xstrdup(from);
  j->to = strdup_or_null(to);
  j->text = xstrdup(text);
  j->provider_id = strdup_or_null(provider_id);
  return j;
}

/* Past this many distinct tokens (there is one per bot at most: they come
 * from the settings), a token's key is made for each request again. */
#define TWILIO_KEYS_MAX 1024

/* 1 if signature is token's signature of url and the fields: with the
 * token's key, made once and kept, so a request does not pay for HMAC's
 * key set-up (twilio_webhook.h). */
static int signed_with(server *s, const char *token, const char *url,
                       const form_param *p, size_t n, const char *signature) {
  if (!token || !*token) return 0;
  twilio_key *key = NULL, *made = NULL;
  pthread_mutex_lock(&s->keys_mu);
  for (size_t i = 0; i < s->nkeys && !key; i++)
    if (strcmp(s->keys[i].token, token) == 0) key = s->keys[i].key;
  pthread_mutex_unlock(&s->keys_mu);
  if (!key) {
    key = made = twilio_key_new(token);
    pthread_mutex_lock(&s->keys_mu);
    /* kept (a copy another thread made meanwhile is harmless) */
    if (made && s->nkeys < TWILIO_KEYS_MAX) {
      s->keys = xrealloc(s->keys, (s->nkeys + 1) * sizeof *s->keys);
      s->keys[s->nkeys++] = (struct token_key){xstrdup(token), made};
      made = NULL;
    }
    pthread_mutex_unlock(&s->keys_mu);
  }
  int valid = twilio_key_signature_valid(key, url, p, n, signature);
  twilio_key_free(made);
  return valid;
}

void twilio_keys_free(server *s) {
  for (size_t i = 0; i < s->nkeys; i++) {
    free(s->keys[i].token);
    twilio_key_free(s->keys[i].key);
  }
  free(s->keys);
  s->keys = NULL;
  s->nkeys = 0;
}

/* 1 if X-Twilio-Signature is the bot's (or the server's) signature of this
 * request: the public URL as Twilio called it and the form fields. */
static int twilio_signed(server *s, struct MHD_Connection *conn, request *r, const char *b,
                         const form_param *p, size_t n) {
  const char *sig = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Twilio-Signature");
  const char *token = secret_of(s, b, "twilio_auth_token", s->cfg.twilio_auth_token);
  if (!token || !sig) return 0;
  char *url = xasprintf("%s%s", s->cfg.public_url, r->raw_uri);
  int valid = signed_with(s, token, url, p, n, sig);
  free(url);
  return valid;
}

/* 1 if the token query parameter is the bot's (or the server's) webhook
 * token; else 0, logged as rejected. */
static int kannel_token_ok(server *s, struct MHD_Connection *conn, const char *b,
                           const char *endpoint) {
  const char *token = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "token");
  const char *want = secret_of(s, b, "webhook_token", s->cfg.webhook_token);
  int ok = want && *want && token && strlen(token) == strlen(want) &&
           CRYPTO_memcmp(token, want, strlen(want)) == 0;
  if (!ok) log_rejected(conn, "kannel", token ? "token" : "missing", b, endpoint);
  return ok;
}

/* A Twilio request's form, decoded and its signature checked: 0 with *p,
 * *n (for form_free), or -1 with the request answered (400, 403). */
static int signed_form(server *s, struct MHD_Connection *conn, request *r, const char *b,
                       const char *endpoint, form_param **p, size_t *n, enum MHD_Result *rc) {
  if (form_decode(r->body.data ? r->body.data : "", r->body.len, p, n)) {
    *rc = respond_error(conn, 400, "the body is not application/x-www-form-urlencoded");
    return -1;
  }
  if (!twilio_signed(s, conn, r, b, *p, *n)) {
    form_free(*p, *n);
    log_rejected(conn, "twilio",
                 MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Twilio-Signature")
                     ? "signature"
                     : "missing",
                 b, endpoint);
    *rc = respond_error(conn, 403, "X-Twilio-Signature does not match this request");
    return -1;
  }
  return 0;
}

enum MHD_Result twilio_inbound(server *s, struct MHD_Connection *conn,
                                      request *r, char *b) {
  form_param *p = NULL;
  size_t n = 0;
  enum MHD_Result rc;
  if (signed_form(s, conn, r, b, "messages", &p, &n, &rc)) return rc;
  const char *from = form_get(p, n, "From"), *body = form_get(p, n, "Body");
  const char *to = form_get(p, n, "To"), *sid = form_get(p, n, "MessageSid");
  const char *bad = !from || !body || !valid_sender(from) ? "From and Body are required"
                    : to && !valid_sender(to) ? "To is not a number (1 to 32 characters)"
                    : sid && !valid_provider_id(sid)
                        ? "MessageSid is not an id (1 to 128 characters, no control characters)"
                        : NULL;
  if (bad) {
    form_free(p, n);
    return respond_error(conn, 400, bad);
  }
  job *j = new_job(JOB_TWILIO, b, from, form_get(p, n, "To"), body,
                   form_get(p, n, "MessageSid"));
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
    j->media_json = json_dumps(media, JSON_COMPACT);
    json_decref(media);
  }
  form_free(p, n);
  return start_job(s, conn, r, j);
}

/* ---------------------------------------------------------------- before the body
 *
 * What the headers alone show of a request's credentials, checked on
 * libmicrohttpd's first call, before any body byte is read (b: the bot in
 * the path, or NULL when the To number will pick it, so that only whether
 * a credential is there can be checked). 0 if the body may still prove
 * the request; else it has been answered as the full check would, and
 * logged as rejected. */

int webhook_refused_early(server *s, struct MHD_Connection *conn, const char *b,
                          const char *endpoint, enum MHD_Result *rc) {
  const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
  const char *sig = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Parley-Signature");
  if (auth && strncmp(auth, "Bearer ", 7) == 0) {
    const char *want = b ? secret_of(s, b, "webhook_token", s->cfg.webhook_token) : NULL;
    if (b && (!want || !*want || strlen(auth + 7) != strlen(want) ||
              CRYPTO_memcmp(auth + 7, want, strlen(want)) != 0)) {
      log_rejected(conn, "json", "token", b, endpoint);
      *rc = respond_error(conn, 403, "the bearer token is not this bot's");
      return -1;
    }
    return 0;
  }
  if (!sig) {
    log_rejected(conn, "json", "missing", b, endpoint);
    *rc = respond_error(conn, 401, "an Authorization: Bearer token or an X-Parley-Signature "
                                   "(with X-Parley-Timestamp) is required");
    return -1;
  }
  if (!b) return 0;
  const char *problem = webhook_headers_problem(
      secret_of(s, b, "webhook_secret", s->cfg.webhook_secret),
      MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Parley-Timestamp"), sig,
      (int64_t)time(NULL));
  if (problem) {
    log_rejected(conn, "json", "signature", b, endpoint);
    *rc = respond_error(conn, 403, problem);
    return -1;
  }
  return 0;
}

int twilio_refused_early(server *s, struct MHD_Connection *conn, const char *b,
                         const char *endpoint, enum MHD_Result *rc) {
  const char *sig = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Twilio-Signature");
  if (sig && *sig && (!b || secret_of(s, b, "twilio_auth_token", s->cfg.twilio_auth_token)))
    return 0;
  log_rejected(conn, "twilio", sig && *sig ? "signature" : "missing", b, endpoint);
  *rc = respond_error(conn, 403, "X-Twilio-Signature does not match this request");
  return -1;
}

int kannel_refused_early(server *s, struct MHD_Connection *conn, const char *b,
                         const char *endpoint, enum MHD_Result *rc) {
  if (b) {
    if (kannel_token_ok(s, conn, b, endpoint)) return 0; /* else logged there */
  } else if (MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "token")) {
    return 0;
  } else {
    log_rejected(conn, "kannel", "missing", NULL, endpoint);
  }
  *rc = respond_error(conn, 403, "the token query parameter is not this bot's");
  return -1;
}

/* ---------------------------------------------------------------- requests */

/* 0 if the request proves it comes from the bot's owner: its bearer token,
 * or an X-Parley-Signature of the body under its webhook secret (see
 * webhook_auth.h); else it has been answered (401 without either, 403 with
 * a wrong one) and logged as rejected. */
static int check_webhook_auth(server *s, struct MHD_Connection *conn, request *r, const char *b,
                              const char *endpoint, enum MHD_Result *rc) {
  if (webhook_refused_early(s, conn, b, endpoint, rc)) return -1;
  const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
  const char *sig = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Parley-Signature");
  if (auth && strncmp(auth, "Bearer ", 7) == 0) return 0; /* the token was checked */
  const char *ts = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Parley-Timestamp");
  const char *problem = webhook_signature_problem(
      secret_of(s, b, "webhook_secret", s->cfg.webhook_secret), ts, sig,
      r->body.data ? r->body.data : "", r->body.len, (int64_t)time(NULL));
  if (problem) {
    log_rejected(conn, "json", "signature", b, endpoint);
    *rc = respond_error(conn, 403, problem);
    return -1;
  }
  return 0;
}

/* POST /v1/bots/BOT/events {"type": "order.paid", "contact": "+1555...",
 * "data": {...}}: bot.on_event in that contact's conversation. */
enum MHD_Result event_inbound(server *s, struct MHD_Connection *conn, request *r,
                                     char *b) {
  enum MHD_Result rc;
  if (check_webhook_auth(s, conn, r, b, "events", &rc) || check_json_type(conn, &rc)) return rc;
  json_error_t jerr;
  json_t *o = json_loadb(r->body.data ? r->body.data : "", r->body.len, 0, &jerr);
  json_t *type = json_object_get(o, "type"), *contact = json_object_get(o, "contact");
  json_t *data = json_object_get(o, "data");
  if (!json_is_object(o) || !json_is_string(type) || !json_is_string(contact) ||
      !valid_sender(json_string_value(contact)) || (data && !json_is_object(data))) {
    json_decref(o);
    return respond_error(conn, 400, "the body must be JSON like {\"type\":\"order.paid\","
                                    "\"contact\":\"+15550001\",\"data\":{...}}");
  }
  char *dumped = data ? json_dumps(data, JSON_COMPACT) : NULL;
  char problem[512], *event_data = NULL;
  int bad = engine_event_check(json_string_value(type), dumped, &event_data, problem,
                               sizeof problem);
  free(dumped);
  if (bad) {
    json_decref(o);
    return respond_error(conn, 400, problem);
  }
  job *j = new_job(JOB_EVENT, b, json_string_value(contact), NULL, "", NULL);
  j->event_type = xstrdup(json_string_value(type));
  j->event_data = event_data;
  json_decref(o);
  return start_job(s, conn, r, j);
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

enum MHD_Result json_inbound(server *s, struct MHD_Connection *conn,
                                    request *r, char *b) {
  enum MHD_Result rc;
  if (check_webhook_auth(s, conn, r, b, "messages", &rc) || check_json_type(conn, &rc))
    return rc;
  json_error_t jerr;
  json_t *o = json_loadb(r->body.data ? r->body.data : "", r->body.len, 0, &jerr);
  const char *from = NULL, *text = NULL;
  json_t *idv = json_object_get(o, "id");
  if (!json_is_object(o) ||
      !json_is_string(json_object_get(o, "from")) ||
      !valid_sender(json_string_value(json_object_get(o, "from"))) ||
      !json_is_string(json_object_get(o, "text")) ||
      (idv && !json_is_string(idv) && !json_is_integer(idv))) {
    json_decref(o);
    return respond_error(conn, 400, "the body must be JSON like "
                                    "{\"from\":\"+15550001\",\"text\":\"hi\",\"id\":\"...\"}");
  }
  from = json_string_value(json_object_get(o, "from"));
  text = json_string_value(json_object_get(o, "text"));
  json_t *tov = json_object_get(o, "to"), *media = json_object_get(o, "media");
  char *id = json_id(idv);
  const char *bad = tov && !valid_sender(json_string_value(tov))
                        ? "to must be a number (1 to 32 characters)"
                    : idv && !valid_provider_id(id)
                        ? "id must be 1 to 128 characters without control characters"
                    : media && !media_list_ok(media)
                        ? "media must be a list of up to 10 URLs of at most 1024 characters"
                        : NULL;
  if (bad) {
    free(id);
    json_decref(o);
    return respond_error(conn, 400, bad);
  }
  job *j = new_job(JOB_JSON, b, from, json_string_value(tov), text, NULL);
  j->provider_id = id;
  if (media && json_array_size(media) > 0) j->media_json = json_dumps(media, JSON_COMPACT);
  json_decref(o);
  return start_job(s, conn, r, j);
}

enum MHD_Result kannel_inbound(server *s, struct MHD_Connection *conn,
                                      request *r, char *b) {
  /* sms-service get-url (query) or post-url (form body) */
  form_param *p = NULL;
  size_t n = 0;
  if (r->body.len && form_decode(r->body.data, r->body.len, &p, &n))
    return respond_error(conn, 400, "the body is not a form");
  const char *from = form_get(p, n, "from");
  const char *text = form_get(p, n, "text");
  const char *to = form_get(p, n, "to"), *id = form_get(p, n, "id");
  if (!from) from = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "from");
  if (!text) text = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "text");
  if (!to) to = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "to");
  if (!id) id = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "id");
  enum MHD_Result rc;
  if (kannel_refused_early(s, conn, b, "messages", &rc)) {
    form_free(p, n);
    return rc;
  }
  const char *bad =
      !from || !text || !valid_sender(from)
          ? "from (a sender of up to 32 characters) and text are required"
      : !utf8_valid(text, strlen(text)) ? "text is not valid UTF-8 (send charset=UTF-8)"
      : to && *to && !valid_sender(to) ? "to is not a number (1 to 32 characters)"
      : id && !valid_provider_id(id) ? "id must be 1 to 128 characters without control characters"
                                     : NULL;
  if (bad) {
    form_free(p, n);
    return respond_error(conn, 400, bad);
  }
  job *j = new_job(JOB_KANNEL, b, from, to, text, id);
  form_free(p, n);
  return start_job(s, conn, r, j);
}


/* ---------------------------------------------------------------- delivery reports */

/* ?m=ID of a status URL: our message id, or 0. */
static int64_t message_param(struct MHD_Connection *conn, const form_param *p, size_t n) {
  const char *m = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "m");
  if (!m) m = form_get(p, n, "m");
  char *end;
  long long id = m ? strtoll(m, &end, 10) : 0;
  return m && *m && !*end && id > 0 ? (int64_t)id : 0;
}

static job *status_job(const char *b, int64_t id, const char *provider_id, const char *status,
                       const char *error) {
  job *j = new_job(JOB_STATUS, b, "", NULL, "", provider_id && *provider_id ? provider_id : NULL);
  j->dl_status = xstrdup(status);
  j->dl_error = strdup_or_null(error && *error ? error : NULL);
  j->dl = (delivery){.message_id = id};
  return j;
}

/* Twilio's MessageStatus in our terms (NULL: not a report on an outgoing
 * message): queued, accepted, scheduled and sending mean Twilio has it. */
static const char *twilio_status(const char *s) {
  static const char *const map[][2] = {
      {"accepted", "sent"}, {"scheduled", "sent"}, {"queued", "sent"},
      {"sending", "sent"},  {"sent", "sent"},      {"delivered", "delivered"},
      {"undelivered", "undelivered"}, {"failed", "failed"}, {"canceled", "failed"},
      {"read", "read"}};
  for (size_t i = 0; s && i < sizeof map / sizeof *map; i++)
    if (strcmp(map[i][0], s) == 0) return map[i][1];
  return NULL;
}

/* POST /twilio/status/BOT?m=ID: a status callback, signed like every
 * Twilio webhook. */
enum MHD_Result twilio_status_inbound(server *s, struct MHD_Connection *conn, request *r,
                                      char *b) {
  form_param *p = NULL;
  size_t n = 0;
  enum MHD_Result rc;
  if (signed_form(s, conn, r, b, "status", &p, &n, &rc)) return rc;
  const char *raw = form_get(p, n, "MessageStatus");
  if (!raw) raw = form_get(p, n, "SmsStatus");
  const char *status = twilio_status(raw);
  const char *sid = form_get(p, n, "MessageSid");
  int64_t id = message_param(conn, p, n);
  const char *code = form_get(p, n, "ErrorCode");
  const char *bad = !raw || (!sid && !id) ? "MessageStatus and MessageSid are required"
                    : sid && !valid_provider_id(sid)
                        ? "MessageSid is not an id (1 to 128 characters, no control characters)"
                    : code && *code && !valid_short_text(code, 256)
                        ? "ErrorCode must be at most 256 characters without control characters"
                        : NULL;
  if (bad) {
    form_free(p, n);
    return respond_error(conn, 400, bad);
  }
  if (!status) { /* receiving, received: not about a message we sent */
    form_free(p, n);
    return respond(conn, 200, "text/plain", "");
  }
  job *j = status_job(b, id, sid, status, form_get(p, n, "ErrorCode"));
  form_free(p, n);
  return start_job(s, conn, r, j);
}

/* Kannel's DLR types (the dlr-url's %d) in our terms. */
static const char *kannel_status(long type) {
  switch (type) {
    case 1: return "delivered";   /* delivered to the phone */
    case 2: return "undelivered"; /* not delivered to the phone */
    case 4: return "sent";        /* queued on the SMSC */
    case 8: return "sent";        /* accepted by the SMSC */
    case 16: return "failed";     /* rejected by the SMSC */
    default: return NULL;
  }
}

/* GET|POST /kannel/dlr/BOT?token=...&m=ID&type=%d: a delivery report from
 * the dlr-url the kannel provider asks for. */
enum MHD_Result kannel_dlr_inbound(server *s, struct MHD_Connection *conn, request *r,
                                   char *b) {
  enum MHD_Result rc;
  if (kannel_refused_early(s, conn, b, "status", &rc)) return rc;
  const char *type = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "type");
  char *end = NULL;
  long t = type ? strtol(type, &end, 10) : 0;
  const char *status = type && *type && !*end ? kannel_status(t) : NULL;
  int64_t id = message_param(conn, NULL, 0);
  if (!status || !id)
    return respond_error(conn, 400, "m (the message id) and type (Kannel's DLR type 1, 2, 4, "
                                    "8 or 16) are required");
  char error[32] = "";
  if (t == 2 || t == 16) snprintf(error, sizeof error, "kannel dlr %ld", t);
  return start_job(s, conn, r, status_job(b, id, NULL, status, error));
}

/* POST /v1/bots/BOT/status {"id": ID or "provider_id": "...", "status":
 * "delivered", "error": "..."}: a delivery report from the webhook
 * provider's side, authenticated like the JSON webhook. */
enum MHD_Result json_status_inbound(server *s, struct MHD_Connection *conn, request *r,
                                    char *b) {
  enum MHD_Result rc;
  if (check_webhook_auth(s, conn, r, b, "status", &rc) || check_json_type(conn, &rc)) return rc;
  json_t *o = json_loadb(r->body.data ? r->body.data : "", r->body.len, 0, NULL);
  char *idtext = json_id(json_object_get(o, "id"));
  const char *pid = json_string_value(json_object_get(o, "provider_id"));
  const char *status = json_string_value(json_object_get(o, "status"));
  json_t *err = json_object_get(o, "error");
  char *end = NULL;
  long long id = idtext ? strtoll(idtext, &end, 10) : 0;
  char *error = err ? json_id(err) : NULL;
  int ok = json_is_object(o) && status && store_status_rank(status) >= 3 &&
           ((idtext && *idtext && !*end && id > 0) || (!idtext && valid_provider_id(pid))) &&
           (!err || (error && (!*error || valid_short_text(error, 256))));
  job *j = NULL;
  if (ok) {
    j = status_job(b, (int64_t)id, pid, status, error);
  }
  free(error);
  free(idtext);
  json_decref(o);
  if (!j)
    return respond_error(conn, 400, "the body must be JSON like {\"id\":\"42\",\"status\":"
                                    "\"delivered\"} (status: sent, delivered, undelivered, "
                                    "failed or read; or \"provider_id\" instead of \"id\"; "
                                    "error: at most 256 characters)");
  return start_job(s, conn, r, j);
}

/* A routed webhook whose To no bot serves: 404 only to a caller with the
 * server's credentials, so nobody else can probe which numbers are served;
 * 401/403 otherwise. */
enum MHD_Result unrouted_inbound(server *s, struct MHD_Connection *conn, request *r,
                                 enum job_kind kind, const char *to) {
  const char *why = to ? "no bot serves this To number (bot.config{numbers = ...})"
                       : "To is required to find the bot (or name it in the path)";
  if (kind == JOB_TWILIO) {
    form_param *p = NULL;
    size_t n = 0;
    form_decode(r->body.data ? r->body.data : "", r->body.len, &p, &n);
    int valid = twilio_signed(s, conn, r, "", p, n);
    form_free(p, n);
    if (!valid) log_rejected(conn, "twilio", "signature", NULL, "messages");
    if (!valid) return respond_error(conn, 403, "X-Twilio-Signature does not match this request");
  } else if (kind == JOB_KANNEL) {
    if (!kannel_token_ok(s, conn, "", "messages"))
      return respond_error(conn, 403, "the token query parameter is not this server's");
  } else {
    enum MHD_Result rc;
    if (check_webhook_auth(s, conn, r, "", "messages", &rc)) return rc;
  }
  return respond_error(conn, 404, why);
}
