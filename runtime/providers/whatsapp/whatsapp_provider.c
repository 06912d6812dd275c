/* whatsapp_provider: the WhatsApp channel's registration. Its webhook
 * (/whatsapp/BOT): GET is Meta's subscription handshake (hub.mode,
 * hub.verify_token, hub.challenge); each POST, signed with
 * X-Hub-Signature-256 (signature.h), delivers messages and statuses, any
 * number of each:
 *
 *   {"object": "whatsapp_business_account", "entry": [{"id": WABA,
 *    "changes": [{"field": "messages", "value": {"messaging_product":
 *    "whatsapp", "metadata": {"display_phone_number", "phone_number_id"},
 *    "contacts": [{"profile": {"name"}, "wa_id"}],
 *    "messages": [{"from", "id", "timestamp", "type", "text": {"body"}}],
 *    "statuses": [{"id", "status", "timestamp", "recipient_id",
 *    "errors": [{"code", "title", "message", "error_data": {"details"}}]}]}}]}]}
 *
 * A message becomes one from "whatsapp:+<wa_id>": its text is what the
 * fan wrote or picked (a button's or a list row's title, a caption); what
 * else came with it (media ids, the choice's id, a location, contacts) is
 * its media JSON as an object (router.lua makes msg.media, msg.choice,
 * msg.location, msg.contacts of it). Its wamid deduplicates Meta's retries.
 * Sending is whatsapp.c; its settings are below. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provider_registry.h"
#include "meta_webhook.h"
#include "util.h"

extern const provider_ops provider_whatsapp;

static const provider_setting settings[] = {
    {"whatsapp_phone_number_id", "PARLEY_WHATSAPP_PHONE_NUMBER_ID", NULL, 0, 1,
     "WhatsApp Cloud API: the phone number id the bot sends from and takes messages for "
     "(sets up the bot's WhatsApp channel)"},
    {"whatsapp_access_token", "PARLEY_WHATSAPP_ACCESS_TOKEN", NULL, 1, 1,
     "WhatsApp: the access token (a system user's) the Cloud API is called with"},
    {"whatsapp_app_secret", "PARLEY_WHATSAPP_APP_SECRET", NULL, 1, 1,
     "WhatsApp: the Meta app's secret, the key of X-Hub-Signature-256 on its webhooks"},
    {"whatsapp_verify_token", "PARLEY_WHATSAPP_VERIFY_TOKEN", NULL, 1, 1,
     "WhatsApp: the verify token given to Meta for the webhook's subscription handshake"},
    {"whatsapp_api_url", "PARLEY_WHATSAPP_API_URL", "https://graph.facebook.com/v21.0", 0, 1,
     "the Graph API's base URL, with its version (a local fake in tests)"},
    {NULL, NULL, NULL, 0, 0, NULL}};

static const char *configure(provider_config *cfg, provider_setting_fn setting, void *ud) {
  cfg->sender_id = setting(ud, "whatsapp_phone_number_id");
  if (!cfg->sender_id || !*cfg->sender_id) { /* the bot has no WhatsApp channel */
    cfg->kind = NULL;
    return NULL;
  }
  cfg->url = setting(ud, "whatsapp_api_url");
  cfg->auth_token = setting(ud, "whatsapp_access_token");
  const char *secret = setting(ud, "whatsapp_app_secret");
  if (!secret || !*secret)
    return "whatsapp needs its app secret (PARLEY_WHATSAPP_APP_SECRET) to check its webhooks";
  return NULL;
}

static const meta_keys keys = {"whatsapp", "whatsapp_verify_token", "whatsapp_app_secret"};

/* Before the body: a POST without a signature, or for a bot without an app
 * secret, is refused (403). */
static int refused_early(const provider_request *rq, provider_answer *a) {
  return meta_refused_early(&keys, rq, a);
}

static void verify(const provider_request *rq, provider_answer *a, char **body) {
  meta_verify(&keys, rq, a, body);
}

/* ---------------------------------------------------------------- deliveries */

/* What a fan's message says as text, and what else came with it (a JSON
 * object, or NULL); 0, or -1 for a kind of message no handler gets (a
 * reaction, an unsupported one). */
static int message_parts(json_t *m, const char **text, json_t **came) {
  const char *type = json_string_value(json_object_get(m, "type"));
  json_t *body = type ? json_object_get(m, type) : NULL;
  *text = "";
  *came = NULL;
  if (!type) return -1;
  static const char *const media_types[] = {"image", "audio", "video", "document", "sticker"};
  if (strcmp(type, "text") == 0) {
    *text = json_string_value(json_object_get(body, "body"));
  } else if (strcmp(type, "interactive") == 0) { /* a button or a list row picked */
    const char *kind = json_string_value(json_object_get(body, "type"));
    json_t *reply = kind ? json_object_get(body, kind) : NULL;
    *text = json_string_value(json_object_get(reply, "title"));
    if (!json_is_object(reply)) return -1;
    *came = json_pack("{s:{s:O?, s:O?}}", "choice", "id", json_object_get(reply, "id"), "title",
                      json_object_get(reply, "title"));
  } else if (strcmp(type, "button") == 0) { /* a template's quick-reply button */
    *text = json_string_value(json_object_get(body, "text"));
    *came = json_pack("{s:{s:O?, s:O?}}", "choice", "id", json_object_get(body, "payload"),
                      "title", json_object_get(body, "text"));
  } else if (strcmp(type, "location") == 0) {
    *text = json_string_value(json_object_get(body, "name"));
    *came = json_pack("{s:O}", "location", body);
  } else if (strcmp(type, "contacts") == 0) {
    *came = json_pack("{s:O}", "contacts", body);
  } else {
    size_t i = 0;
    while (i < sizeof media_types / sizeof *media_types && strcmp(type, media_types[i])) i++;
    if (i == sizeof media_types / sizeof *media_types || !json_is_object(body)) return -1;
    *text = json_string_value(json_object_get(body, "caption"));
    json_t *item = json_deep_copy(body);
    json_object_set_new(item, "type", json_string(type));
    *came = json_pack("{s:[o]}", "media", item);
  }
  if (!*text) *text = "";
  return 0;
}

static void add_message(provider_delivery *d, const char *wa_id, const char *id,
                        const char *text, json_t *came, const char *phone_number_id) {
  d->messages = xrealloc(d->messages, (d->nmessages + 1) * sizeof *d->messages);
  provider_message *m = &d->messages[d->nmessages++];
  *m = (provider_message){.from = xasprintf("whatsapp:+%s", wa_id),
                          .to = phone_number_id ? xasprintf("whatsapp:%s", phone_number_id) : NULL,
                          .text = xstrdup(text),
                          .provider_id = xstrdup(id),
                          .media_json = came ? json_dumps(came, JSON_COMPACT) : NULL};
}

/* Meta's status in our terms (NULL: none of ours: deleted, warning). */
static const char *status_of(const char *s) {
  static const char *const known[] = {"sent", "delivered", "read", "failed"};
  for (size_t i = 0; s && i < sizeof known / sizeof *known; i++)
    if (strcmp(known[i], s) == 0) return known[i];
  return NULL;
}

static void add_report(provider_delivery *d, json_t *st) {
  const char *id = json_string_value(json_object_get(st, "id"));
  const char *status = status_of(json_string_value(json_object_get(st, "status")));
  if (!id || !inbound_provider_id_ok(id) || !status) return;
  json_t *e = json_array_get(json_object_get(st, "errors"), 0);
  char *error = NULL;
  if (e) {
    const char *title = json_string_value(json_object_get(e, "title"));
    const char *details =
        json_string_value(json_object_get(json_object_get(e, "error_data"), "details"));
    error = xasprintf("%lld %s%s%s", (long long)json_integer_value(json_object_get(e, "code")),
                      title ? title : "", details ? ": " : "", details ? details : "");
    size_t cut = 256; /* on a character's boundary */
    while (strlen(error) > cut && cut > 0 && ((unsigned char)error[cut] & 0xC0) == 0x80) cut--;
    if (strlen(error) > cut) error[cut] = 0;
  }
  /* our message id, echoed from the send (whatsapp.c): 0 if none */
  const char *ours = json_string_value(json_object_get(st, "biz_opaque_callback_data"));
  char *end;
  long long message_id = ours ? strtoll(ours, &end, 10) : 0;
  if (!ours || !*ours || *end || message_id <= 0) message_id = 0;
  d->reports = xrealloc(d->reports, (d->nreports + 1) * sizeof *d->reports);
  d->reports[d->nreports++] = (provider_report){.message_id = message_id,
                                                .provider_id = xstrdup(id),
                                                .status = xstrdup(status),
                                                .error = error};
}

/* A wa_id: 5 to 15 digits (an E.164 number without its '+'). */
static int wa_id_ok(const char *v) {
  size_t n = v ? strlen(v) : 0;
  return n >= 5 && n <= 15 && strspn(v, "0123456789") == n;
}

/* The messages and statuses of one change's value for this bot's number. */
static void read_value(json_t *value, const char *own_id, provider_delivery *d) {
  const char *number_id =
      json_string_value(json_object_get(json_object_get(value, "metadata"), "phone_number_id"));
  if (own_id && number_id && strcmp(own_id, number_id) != 0) return; /* another number's */
  size_t i;
  json_t *m;
  json_array_foreach(json_object_get(value, "messages"), i, m) {
    const char *from = json_string_value(json_object_get(m, "from"));
    const char *id = json_string_value(json_object_get(m, "id"));
    const char *text;
    json_t *came;
    if (!wa_id_ok(from) || !id || !inbound_provider_id_ok(id) || message_parts(m, &text, &came))
      continue;
    if (utf8_valid(text, strlen(text))) add_message(d, from, id, text, came, number_id);
    json_decref(came);
  }
  json_array_foreach(json_object_get(value, "statuses"), i, m) add_report(d, m);
}

static int read_delivery(const provider_request *rq, provider_delivery *d, provider_answer *a) {
  if (meta_refused_unsigned(&keys, rq, a)) return -1;
  json_t *o = json_loadb(rq->body, rq->len, 0, NULL);
  const char *object = json_string_value(json_object_get(o, "object"));
  if (!object || strcmp(object, "whatsapp_business_account") != 0) {
    json_decref(o);
    a->status = 400;
    a->error = "the body is not a WhatsApp Business Account webhook "
               "({\"object\": \"whatsapp_business_account\", \"entry\": [...]})";
    return -1;
  }
  const char *own_id = rq->secret(rq->ctx, rq->bot, "whatsapp_phone_number_id");
  size_t i, k;
  json_t *entry, *change;
  json_array_foreach(json_object_get(o, "entry"), i, entry)
      json_array_foreach(json_object_get(entry, "changes"), k, change) {
    const char *field = json_string_value(json_object_get(change, "field"));
    if (field && strcmp(field, "messages") == 0)
      read_value(json_object_get(change, "value"), own_id, d);
  }
  json_decref(o);
  return 0;
}

const provider_registration whatsapp_registration = {
    .name = "whatsapp",
    .channel = CHANNEL_WHATSAPP,
    .log_name = "whatsapp",
    .ops = &provider_whatsapp,
    .settings = settings,
    .messages_help = "WhatsApp Cloud API webhook (GET: the verify handshake)",
    .configure = configure,
    .messages = {"/whatsapp/", NULL},
    .takes_get = 1,
    .refused_early = refused_early,
    .read_delivery = read_delivery,
    .verify = verify,
};
