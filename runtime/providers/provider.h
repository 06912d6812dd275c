/* provider: how one outgoing message becomes one HTTP request to an SMS
 * provider, and the provider's answer a result.
 *
 * A provider only describes requests and reads answers; the sender
 * (outbox.c) does the HTTP (libcurl multi), the rate limits and the
 * retries. That keeps each provider a small pure file, tested without a
 * network. One file each: twilio.c, kannel.c, webhook.c, sim.c. */
#ifndef PARLEY_PROVIDER_H
#define PARLEY_PROVIDER_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* A bot's provider settings (strings owned by the caller). */
typedef struct provider_config {
  const char *kind;     /* "twilio", "kannel", "webhook" or "sim" */
  const char *url;      /* twilio: API base (https://api.twilio.com);
                         * kannel: the sendsms URL; webhook: where to POST */
  const char *account_sid, *auth_token, *messaging_service_sid; /* twilio */
  const char *username, *password;                                /* kannel */
  const char *secret;   /* webhook: HMAC-SHA256 key of X-Parley-Signature */
  /* where delivery reports come back (public URL + the bot's status path);
   * NULL or "": none asked for */
  const char *status_url;
  const char *webhook_token; /* kannel: ?token= of the DLR URL */
  const char *sender_id; /* whatsapp: the phone number id (its API's path) */
} provider_config;

/* One message to send. */
typedef struct outgoing {
  int64_t id;        /* ours: in status URLs and idempotency keys */
  const char *from;  /* the bot's number ("" : the provider's default) */
  const char *to, *text;
  /* what it carries beside the text (the messages' media column): a JSON
   * list of media URLs, or an object {media, buttons, list, template, tag}
   * (stdlib/internal/channels.lua); NULL: nothing */
  const char *media;
  int attempt;       /* 1 for the first try */
} outgoing;

/* The request a provider wants made. */
typedef struct http_request {
  const char *method; /* "POST" or "GET" */
  char *url;
  buf body;
  char *headers[6];   /* "Name: value" */
  int nheaders;
} http_request;
void http_request_free(http_request *r);
void http_request_header(http_request *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* SEND_PAUSE: the provider refused the bot's account (credentials, URL), not
 * the message: its messages wait, their attempts not counted, until a
 * later try is taken (the settings fixed and the server restarted). */
typedef enum { SEND_OK, SEND_RETRY, SEND_FAILED, SEND_PAUSE } send_outcome;

/* What the provider says of a contact's number, from an error. */
typedef enum {
  VERDICT_NONE,
  VERDICT_OPTED_OUT,     /* Twilio 21610: unsubscribed at the carrier (STOP) */
  VERDICT_INVALID,       /* Twilio 21211 */
  VERDICT_NOT_MOBILE     /* Twilio 21614 */
} number_verdict;

typedef struct send_result {
  send_outcome outcome;
  char provider_id[96];  /* "" when the provider gives none */
  int code;              /* the provider's error code, 0 if none */
  number_verdict verdict;
  char reason[300];      /* a sentence for the message's error column */
} send_result;

typedef struct provider_ops {
  const char *kind;
  /* Checks a configuration: NULL, or a sentence naming what is missing. */
  const char *(*check)(const provider_config *cfg);
  /* Describes the request for m. 0: make it; 1: nothing to request, *res
   * is the result (sim); -1: cannot (res says why, SEND_FAILED). */
  int (*prepare)(const provider_config *cfg, const outgoing *m, http_request *req,
                 send_result *res);
  /* Reads the provider's answer to a request that got one. */
  void (*answer)(const provider_config *cfg, long status, const char *body, size_t len,
                 send_result *res);
} provider_ops;

/* The provider of that kind, or NULL. */
const provider_ops *provider_find(const char *kind);

/* ---------------------------------------------------------------- helpers */

/* Appends name=value (application/x-www-form-urlencoded) to b, with '&'
 * before it unless b is empty. */
void form_add(buf *b, const char *name, const char *value);
/* Calls fn for each media URL a message carries (its media JSON: a list,
 * or an object's "media" list; NULL: none). */
void each_media(const char *media_json, void (*fn)(void *ud, const char *url), void *ud);
/* "Basic base64(user:password)" (caller frees). */
char *basic_auth(const char *user, const char *password);
/* The usual reading of an HTTP status when the body says no more: 2xx ok;
 * 408, 425, 429 and 5xx retried; 401 and 403 (the account refused) pause;
 * other statuses failed. */
void answer_by_status(long status, send_result *res);
/* answer_by_status, then the body as JSON (NULL if it is not; the caller
 * frees it with json_decref): a taken message's provider id is its
 * string field `id_key`. */
struct json_t;
struct json_t *answer_json(long status, const char *body, size_t len, const char *id_key,
                           send_result *res);
/* The type a media URL's extension names in types (".jpg" -> "image"; the
 * path's last extension, compared ignoring case; the query ignored), else
 * otherwise. */
typedef struct ext_type {
  const char *ext, *type;
} ext_type;
const char *type_by_extension(const char *url, const ext_type *types, size_t n,
                              const char *otherwise);

/* Meta's Graph API error envelope: {"error": {"message", "type", "code",
 * "error_subcode", "error_data": {"details"}, "fbtrace_id"}}. */
typedef struct graph_error {
  long long code, subcode; /* 0: none */
  const char *message, *details; /* doc's strings, or "" and NULL */
} graph_error;
/* 1 with e filled if doc carries Graph's error envelope, else 0. */
int graph_error_of(struct json_t *doc, graph_error *e);
/* res->reason = printf(fmt, ...) */
void send_reason(send_result *res, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
