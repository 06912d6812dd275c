/* provider_registry: the providers, one registration each, in one table.
 *
 * A provider is one folder, runtime/providers/<name>/, holding all of it:
 * how it sends (provider_ops, provider.h), the settings it reads, how it
 * reads and authenticates the messages and delivery reports it posts to
 * us, and how a message's inline replies go back in the answer. Its
 * registration (below) names all of that, and registry.c lists it. The
 * server's routes, `parley serve` and its settings iterate the table and
 * name no provider: adding one is a folder and a line in registry.c.
 *
 * What a provider reads of a request goes through provider_request, so
 * that this layer needs no HTTP server: the server fills it. */
#ifndef PARLEY_PROVIDER_REGISTRY_H
#define PARLEY_PROVIDER_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "channel.h"
#include "form.h"
#include "provider.h"

/* A request as a provider reads it. */
typedef struct provider_request {
  /* the bot named in the path; "" when the To number picked no bot (the
   * server-wide credentials are checked); NULL before the body when the
   * To number will pick the bot (only whether a credential is there can
   * be checked) */
  const char *bot;
  const char *endpoint; /* "messages", "status" or "events": for the log */
  const char *url;      /* the public URL as called: public_url + path + query */
  const char *body;     /* "" before the body or without one */
  size_t len;
  const char *(*header)(void *ctx, const char *name);
  const char *(*query)(void *ctx, const char *name); /* the URL's arguments */
  /* a secret setting (a key of the provider's settings): the bot's own if
   * it has one, else the server-wide one; NULL if neither */
  const char *(*secret)(void *ctx, const char *bot, const char *key);
  /* logs a refused credential (`rejected`; reason: token, signature or
   * missing), never the secret */
  void (*rejected)(void *ctx, const char *who, const char *reason, const char *bot,
                   const char *endpoint);
  void *ctx;
} provider_request;

/* The answer to a request a provider does not turn into a message or a
 * report: status with {"error": error}; or, with error NULL, status and an
 * empty text/plain body (a report about no message we sent). */
typedef struct provider_answer {
  unsigned status;
  const char *error;
} provider_answer;

/* A message received (strings allocated; provider_message_free). */
typedef struct provider_message {
  char *from, *to, *text; /* to: NULL if not given */
  char *provider_id;      /* NULL if not given */
  char *media_json;       /* a JSON list of URLs, or NULL */
} provider_message;
void provider_message_free(provider_message *m);

/* A delivery report received (provider_report_free). */
typedef struct provider_report {
  int64_t message_id; /* ours (?m= or the JSON "id"), or 0 */
  char *provider_id;  /* NULL: not given */
  char *status;       /* sent, delivered, undelivered, failed or read */
  char *error;        /* NULL: none */
} provider_report;
void provider_report_free(provider_report *r);

/* What one request of a provider that delivers several at once carries
 * (Meta's webhooks): messages and delivery reports, in order
 * (provider_delivery_free). */
typedef struct provider_delivery {
  provider_message *messages;
  size_t nmessages;
  provider_report *reports;
  size_t nreports;
} provider_delivery;
void provider_delivery_free(provider_delivery *d);

/* The answer to a message, carrying its inline replies. */
typedef struct provider_reply {
  char *body; /* allocated */
  const char *content_type;
  const char *header_name; /* one more header, or NULL */
  const char *header_value;
} provider_reply;

/* A path with a bot's name in it: prefix NAME suffix ("/twilio/" NAME ""). */
typedef struct provider_route {
  const char *prefix, *suffix;
} provider_route;

/* A setting the provider reads (settings.c lists them between its own:
 * after the server's and before the sending ones), secrets included. */
typedef struct provider_setting {
  const char *key;   /* in the config file, and --key */
  const char *env;   /* PARLEY_... */
  const char *value; /* the default, or NULL: unset */
  int secret;        /* only from the environment, never printed */
  int per_bot;       /* may be set per bot */
  const char *help;
} provider_setting;

/* Reads a bot's setting (its own value, else the server-wide one). */
typedef const char *(*provider_setting_fn)(void *ud, const char *key);

typedef struct provider_registration {
  const char *name;                 /* the `provider` setting's value */
  /* CHANNEL_SMS: a provider of SMS, for the `provider` setting; another
   * channel's (channel.h): that channel's, for every bot whose settings
   * set it up (configure leaves cfg->kind NULL for one that does not) */
  int channel;
  const char *log_name;             /* who `rejected` names ("json" for webhook) */
  const provider_ops *ops;          /* sending */
  const provider_setting *settings; /* its own, ended by a NULL key */
  /* Settings it shares with other providers, declared once in providers/
   * (provider_webhook_token) and listed once, ended by NULL. */
  const provider_setting *const *shared_settings;
  /* What `parley serve --help` says: after its name in the provider
   * setting's help ("taken as sent at once"), or NULL; of its messages
   * route ("Twilio messaging webhook (TwiML reply)"; "\n" goes on below). */
  const char *about;
  const char *messages_help;
  /* Fills cfg's fields from the bot's settings (cfg->kind and
   * cfg->status_url are the caller's); then NULL, or a sentence saying
   * what is unusable beyond ops->check. */
  const char *(*configure)(provider_config *cfg, provider_setting_fn setting, void *ud);
  /* Where its delivery reports come: public_url + prefix BOT suffix (NULL
   * prefix: none). */
  provider_route reports;
  /* Its messages: to prefix BOT suffix; unrouted: a path without a bot,
   * the To number picks it (NULL: none). */
  provider_route messages;
  const char *unrouted;
  int takes_get; /* GET as well as POST on its routes (the others: 405) */
  /* How many of a message's replies its answer can carry (0: any). */
  int inline_max;
  /* Before the body: 0 if the headers leave the request possible; else -1
   * with the answer (the credential is missing or wrong, and logged). */
  int (*refused_early)(const provider_request *rq, provider_answer *a);
  /* The message in a request (credentials, then the body): 0, or -1 with
   * the answer. */
  int (*read_message)(const provider_request *rq, provider_message *m,
                      provider_answer *a);
  /* The To number of an unrouted request, before its credentials are
   * checked: 0 with *to (NULL: none), or -1 with the answer. */
  int (*read_to)(const provider_request *rq, char **to, provider_answer *a);
  /* An unrouted request whose To picks no bot: 0 if it carries the
   * server-wide credentials (the caller answers 404), else -1 with the
   * answer. */
  int (*check_unrouted)(const provider_request *rq, provider_answer *a);
  /* A delivery report: 0, or -1 with the answer. */
  int (*read_report)(const provider_request *rq, provider_report *r,
                     provider_answer *a);
  /* The answer to a message with these inline replies (NULL: it takes
   * none; every reply goes through the provider). */
  void (*reply)(const char *const *texts, size_t n, provider_reply *out);
  /* A delivery of several messages and reports (set instead of
   * read_message and read_report): credentials, then the body; 0 with d,
   * or -1 with the answer. */
  int (*read_delivery)(const provider_request *rq, provider_delivery *d, provider_answer *a);
  /* GET on its messages route when it takes one (takes_get): the answer
   * (the subscription handshake's), its text/plain body in *body
   * (allocated) when a->status is 200. */
  void (*verify)(const provider_request *rq, provider_answer *a, char **body);
  /* The server's own JSON endpoint (POST /v1/bots/BOT/events, a brand's
   * backend) takes this provider's credentials: events_refused_early
   * before the body, events_authentic with it (the credentials, and the
   * body declared JSON); 0, or -1 with the answer. One registration sets
   * them; provider_events_* below find it. */
  int (*events_refused_early)(const provider_request *rq, provider_answer *a);
  int (*events_authentic)(const provider_request *rq, provider_answer *a);
} provider_registration;

/* The table, ended by NULL. */
extern const provider_registration *const provider_registrations[];
/* The provider of that name, or NULL. */
const provider_registration *provider_registration_find(const char *name);
/* The SMS provider of that name (the `provider` setting's), or NULL. */
const provider_registration *provider_sms_find(const char *name);
/* "provider must be sim, twilio, kannel or webhook" (SMS's) */
const char *provider_names_problem(void);
/* The events' checks (events_refused_early, events_authentic above) of
 * the registration that sets them; without one, events are refused (404). */
int provider_events_refused_early(const provider_request *rq, provider_answer *a);
int provider_events_authentic(const provider_request *rq, provider_answer *a);
/* The bot's name if path is prefix NAME suffix (NAME: 1 to 64 letters,
 * digits, '_' or '-'), a copy; else NULL. */
char *provider_route_bot(const provider_route *route, const char *path);

/* webhook_token, per bot and secret: the bearer token of the JSON webhook
 * (and of the events), and the ?token= of Kannel's get-url and DLR URL.
 * Both registrations name it in shared_settings (inbound.c). */
extern const provider_setting provider_webhook_token;

/* Shared checks of received fields. */
#define PROVIDER_ID_MAX 128 /* a provider's id of a message */
#define MEDIA_URL_MAX 1024  /* a media URL of a message */
/* A sender as providers give it: 1 to 32 printable ASCII characters. */
int inbound_sender_ok(const char *v);
/* A short text field: 1 to max bytes of UTF-8 without control characters. */
int inbound_short_text_ok(const char *v, size_t max);
/* A provider's id of a message (MessageSid, Kannel's %I, a JSON "id"). */
int inbound_provider_id_ok(const char *v);
/* The first value of a form field, or NULL. */
const char *form_get(const form_param *p, size_t n, const char *name);
/* A copy, or NULL for NULL. */
char *strdup_or_null(const char *v);
/* The secret's constant-time comparison: 1 if given equals want (both
 * non-empty). */
int secret_matches(const char *given, const char *want);

#endif
