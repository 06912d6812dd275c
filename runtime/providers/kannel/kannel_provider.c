/* kannel_provider: Kannel's registration. smsbox's sms-service get-url or
 * post-url (GET|POST /kannel/BOT?token=..., or /kannel with the to number
 * picking the bot), its DLRs (GET|POST /kannel/dlr/BOT?token=...&m=ID&type=N),
 * both proved by the webhook_token in the query; a reply is the answer's
 * text body; its settings; sending is kannel.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gsm.h"
#include "provider_registry.h"
#include "util.h"

extern const provider_ops provider_kannel;

static const provider_setting settings[] = {
    {"kannel_url", "PARLEY_KANNEL_URL", "http://127.0.0.1:13013/cgi-bin/sendsms", 0, 1,
     "smsbox's sendsms URL"},
    {"kannel_username", "PARLEY_KANNEL_USERNAME", NULL, 0, 1, "sendsms username"},
    {"kannel_password", "PARLEY_KANNEL_PASSWORD", NULL, 1, 1, "sendsms password"},
    {NULL, NULL, NULL, 0, 0, NULL}};

/* its get-url and DLR URL carry ?token= */
static const provider_setting *const shared_settings[] = {&provider_webhook_token, NULL};

static const char *configure(provider_config *cfg, provider_setting_fn setting,
                             void *ud) {
  cfg->url = setting(ud, "kannel_url");
  cfg->username = setting(ud, "kannel_username");
  cfg->password = setting(ud, "kannel_password");
  cfg->webhook_token = setting(ud, "webhook_token");
  /* delivery reports come back authenticated like the bot's get-url */
  if (cfg->status_url && !(cfg->webhook_token && *cfg->webhook_token))
    return "kannel delivery reports (dlr-url) need webhook_token "
           "(PARLEY_WEBHOOK_TOKEN), "
           "or delivery_reports = off";
  return NULL;
}

static int refuse(provider_answer *a, unsigned status, const char *error) {
  a->status = status;
  a->error = error;
  return -1;
}

/* 1 if the token query parameter is the bot's (or the server's) webhook
 * token; else 0, logged as rejected. */
static int token_ok(const provider_request *rq, const char *b) {
  const char *token = rq->query(rq->ctx, "token");
  int ok = secret_matches(token, rq->secret(rq->ctx, b, "webhook_token"));
  if (!ok)
    rq->rejected(rq->ctx, "kannel", token ? "token" : "missing", b, rq->endpoint);
  return ok;
}

static int refused_early(const provider_request *rq, provider_answer *a) {
  if (rq->bot) {
    if (token_ok(rq, rq->bot)) return 0; /* else logged there */
  } else if (rq->query(rq->ctx, "token")) {
    return 0;
  } else {
    rq->rejected(rq->ctx, "kannel", "missing", NULL, rq->endpoint);
  }
  return refuse(a, 403, "the token query parameter is not this bot's");
}

/* sms-service get-url (query) or post-url (form body) */
static int read_message(const provider_request *rq, provider_message *m,
                        provider_answer *a) {
  form_param *p = NULL;
  size_t n = 0;
  if (rq->len && form_decode(rq->body, rq->len, &p, &n))
    return refuse(a, 400, "the body is not a form");
  const char *from = form_get(p, n, "from");
  const char *text = form_get(p, n, "text");
  const char *to = form_get(p, n, "to"), *id = form_get(p, n, "id");
  if (!from) from = rq->query(rq->ctx, "from");
  if (!text) text = rq->query(rq->ctx, "text");
  if (!to) to = rq->query(rq->ctx, "to");
  if (!id) id = rq->query(rq->ctx, "id");
  if (refused_early(rq, a)) {
    form_free(p, n);
    return -1;
  }
  const char *bad =
      !from || !text || !inbound_sender_ok(from)
          ? "from (a sender of up to 32 characters) and text are required"
      : !utf8_valid(text, strlen(text)) ? "text is not valid UTF-8 (send charset=UTF-8)"
      : to && *to && !inbound_sender_ok(to) ? "to is not a number (1 to 32 characters)"
      : id && !inbound_provider_id_ok(id)
          ? "id must be 1 to 128 characters without control characters"
          : NULL;
  if (bad) {
    form_free(p, n);
    return refuse(a, 400, bad);
  }
  m->from = xstrdup(from);
  m->to = strdup_or_null(to);
  m->text = xstrdup(text);
  m->provider_id = strdup_or_null(id);
  form_free(p, n);
  return 0;
}

static int read_to(const provider_request *rq, char **to, provider_answer *a) {
  form_param *p = NULL;
  size_t n = 0;
  if (rq->len && form_decode(rq->body, rq->len, &p, &n))
    return refuse(a, 400, "the body is not application/x-www-form-urlencoded");
  *to = strdup_or_null(form_get(p, n, "to"));
  form_free(p, n);
  if (!*to) *to = strdup_or_null(rq->query(rq->ctx, "to"));
  return 0;
}

static int check_unrouted(const provider_request *rq, provider_answer *a) {
  if (token_ok(rq, "")) return 0;
  return refuse(a, 403, "the token query parameter is not this server's");
}

/* Kannel's DLR types (the dlr-url's %d) in our terms. */
static const char *dlr_status(long type) {
  switch (type) {
    case 1:
      return "delivered"; /* delivered to the phone */
    case 2:
      return "undelivered"; /* not delivered to the phone */
    case 4:
      return "sent"; /* queued on the SMSC */
    case 8:
      return "sent"; /* accepted by the SMSC */
    case 16:
      return "failed"; /* rejected by the SMSC */
    default:
      return NULL;
  }
}

/* GET|POST /kannel/dlr/BOT?token=...&m=ID&type=%d: a delivery report from
 * the dlr-url the kannel provider asks for. */
static int read_report(const provider_request *rq, provider_report *r,
                       provider_answer *a) {
  if (refused_early(rq, a)) return -1;
  const char *type = rq->query(rq->ctx, "type");
  char *end = NULL;
  long t = type ? strtol(type, &end, 10) : 0;
  const char *status = type && *type && !*end ? dlr_status(t) : NULL;
  const char *m = rq->query(rq->ctx, "m");
  char *mend;
  long long id = m ? strtoll(m, &mend, 10) : 0;
  if (!(m && *m && !*mend && id > 0)) id = 0;
  if (!status || !id)
    return refuse(a, 400,
                  "m (the message id) and type (Kannel's DLR type 1, 2, 4, "
                  "8 or 16) are required");
  r->message_id = (int64_t)id;
  r->status = xstrdup(status);
  if (t == 2 || t == 16) r->error = xasprintf("kannel dlr %ld", t);
  return 0;
}

/* The reply, as the sms-service's text body: text GSM-7 cannot carry goes
 * as UCS-2 (smsbox: accept-x-kannel-headers). */
static void reply(const char *const *texts, size_t n, provider_reply *out) {
  const char *text = n ? texts[0] : "";
  out->body = xstrdup(text);
  out->content_type = "text/plain; charset=utf-8";
  if (gsm_count_text(text, strlen(text)).encoding == GSM_ENCODING_UCS2) {
    out->header_name = "X-Kannel-Coding";
    out->header_value = "2";
  }
}

const provider_registration kannel_registration = {
    .name = "kannel",
    .log_name = "kannel",
    .ops = &provider_kannel,
    .settings = settings,
    .shared_settings = shared_settings,
    .messages_help = "Kannel sms-service get-url / post-url (?token=...)",
    .configure = configure,
    .reports = {"/kannel/dlr/", NULL},
    .messages = {"/kannel/", NULL},
    .unrouted = "/kannel",
    .takes_get = 1,
    .inline_max = 1,
    .refused_early = refused_early,
    .read_message = read_message,
    .read_to = read_to,
    .check_unrouted = check_unrouted,
    .read_report = read_report,
    .reply = reply,
};
