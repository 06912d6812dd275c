/* messenger_provider: the Messenger and Instagram channels' registrations.
 * One webhook (/messenger/BOT) for both, as a page's app receives them:
 * GET is Meta's subscription handshake; each POST, signed with
 * X-Hub-Signature-256 (meta_webhook.h), delivers any number of events:
 *
 *   {"object": "page" (or "instagram"), "entry": [{"id": PAGE_ID, "time",
 *    "messaging": [{"sender": {"id": PSID}, "recipient": {"id": PAGE_ID},
 *    "timestamp", "message": {"mid", "text", "quick_reply": {"payload"},
 *    "attachments": [{"type", "payload": {"url"}}]}
 *    | "postback": {"mid", "title", "payload"}
 *    | "delivery": {"mids": [...], "watermark"}}]}]}
 *
 * A message becomes one from "messenger:PSID" ("instagram:IGSID"): its
 * text, a quick reply's or a postback's payload as msg.choice, attachments
 * as msg.media. Echoes of the page's own messages are not messages. A
 * delivery event reports its mids delivered. Sending is messenger.c. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meta_webhook.h"
#include "provider_registry.h"
#include "util.h"

extern const provider_ops provider_messenger;

static const provider_setting settings[] = {
    {"messenger_page_id", "PARLEY_MESSENGER_PAGE_ID", NULL, 0, 1,
     "Messenger: the Facebook page the bot answers for (sets up its Messenger and Instagram "
     "channels)"},
    {"messenger_page_token", "PARLEY_MESSENGER_PAGE_TOKEN", NULL, 1, 1,
     "Messenger: the page access token the Send API is called with"},
    {"messenger_app_secret", "PARLEY_MESSENGER_APP_SECRET", NULL, 1, 1,
     "Messenger: the Meta app's secret, the key of X-Hub-Signature-256 on its webhooks"},
    {"messenger_verify_token", "PARLEY_MESSENGER_VERIFY_TOKEN", NULL, 1, 1,
     "Messenger: the verify token given to Meta for the webhook's subscription handshake"},
    {"messenger_api_url", "PARLEY_MESSENGER_API_URL", "https://graph.facebook.com/v21.0", 0, 1,
     "the Graph API's base URL for Messenger, with its version (a local fake in tests)"},
    {NULL, NULL, NULL, 0, 0, NULL}};

static const char *configure(provider_config *cfg, provider_setting_fn setting, void *ud) {
  cfg->sender_id = setting(ud, "messenger_page_id");
  if (!cfg->sender_id || !*cfg->sender_id) { /* the bot has no page */
    cfg->kind = NULL;
    return NULL;
  }
  cfg->kind = "messenger"; /* Instagram's messages go through the page's Send API too */
  cfg->url = setting(ud, "messenger_api_url");
  cfg->auth_token = setting(ud, "messenger_page_token");
  const char *secret = setting(ud, "messenger_app_secret");
  if (!secret || !*secret)
    return "messenger needs its app secret (PARLEY_MESSENGER_APP_SECRET) to check its webhooks";
  return NULL;
}

static const meta_keys keys = {"messenger", "messenger_verify_token", "messenger_app_secret"};

static int refused_early(const provider_request *rq, provider_answer *a) {
  return meta_refused_early(&keys, rq, a);
}

static void verify(const provider_request *rq, provider_answer *a, char **body) {
  meta_verify(&keys, rq, a, body);
}

/* ---------------------------------------------------------------- deliveries */

/* A page-scoped id: 1 to 20 digits. */
static int scoped_id_ok(const char *v) {
  size_t n = v ? strlen(v) : 0;
  return n >= 1 && n <= 20 && strspn(v, "0123456789") == n;
}

/* What came with a message beside its text (a JSON object; NULL: nothing). */
static json_t *came_with(json_t *message, json_t *postback) {
  json_t *came = json_object();
  json_t *qr = json_object_get(message, "quick_reply");
  if (qr)
    json_object_set_new(came, "choice",
                        json_pack("{s:O?, s:O?}", "id", json_object_get(qr, "payload"), "title",
                                  json_object_get(message, "text")));
  if (postback)
    json_object_set_new(came, "choice",
                        json_pack("{s:O?, s:O?}", "id", json_object_get(postback, "payload"),
                                  "title", json_object_get(postback, "title")));
  json_t *media = json_array(), *att;
  size_t i;
  json_array_foreach(json_object_get(message, "attachments"), i, att) {
    const char *url = json_string_value(json_object_get(json_object_get(att, "payload"), "url"));
    const char *type = json_string_value(json_object_get(att, "type"));
    if (url && type)
      json_array_append_new(media, json_pack("{s:s, s:s}", "type", type, "url", url));
  }
  if (json_array_size(media)) json_object_set(came, "media", media);
  json_decref(media);
  if (!json_object_size(came)) {
    json_decref(came);
    return NULL;
  }
  return came;
}

static void add_message(provider_delivery *d, const char *prefix, const char *psid,
                        const char *mid, const char *text, json_t *came) {
  d->messages = xrealloc(d->messages, (d->nmessages + 1) * sizeof *d->messages);
  d->messages[d->nmessages++] =
      (provider_message){.from = xasprintf("%s%s", prefix, psid),
                         .text = xstrdup(text),
                         .provider_id = xstrdup(mid),
                         .media_json = came ? json_dumps(came, JSON_COMPACT) : NULL};
}

static void add_delivered(provider_delivery *d, json_t *mids) {
  size_t i;
  json_t *mid;
  json_array_foreach(mids, i, mid) {
    const char *id = json_string_value(mid);
    if (!id || !inbound_provider_id_ok(id)) continue;
    d->reports = xrealloc(d->reports, (d->nreports + 1) * sizeof *d->reports);
    d->reports[d->nreports++] =
        (provider_report){.provider_id = xstrdup(id), .status = xstrdup("delivered")};
  }
}

/* One messaging event of the page's (or its Instagram account's). */
static void read_event(json_t *ev, const char *prefix, const char *page, provider_delivery *d) {
  const char *psid = json_string_value(json_object_get(json_object_get(ev, "sender"), "id"));
  json_t *message = json_object_get(ev, "message"), *postback = json_object_get(ev, "postback");
  json_t *delivery = json_object_get(ev, "delivery");
  if (delivery) {
    add_delivered(d, json_object_get(delivery, "mids"));
    return;
  }
  if (!scoped_id_ok(psid) || (page && strcmp(psid, page) == 0)) return; /* the page's own */
  if (json_is_true(json_object_get(message, "is_echo"))) return;
  const char *mid = json_string_value(json_object_get(message ? message : postback, "mid"));
  const char *text = json_string_value(
      message ? json_object_get(message, "text") : json_object_get(postback, "title"));
  if ((!message && !postback) || !mid || !inbound_provider_id_ok(mid)) return;
  if (!text) text = "";
  if (!utf8_valid(text, strlen(text))) return;
  json_t *came = came_with(message, postback);
  add_message(d, prefix, psid, mid, text, came);
  json_decref(came);
}

static int read_delivery(const provider_request *rq, provider_delivery *d, provider_answer *a) {
  if (meta_refused_unsigned(&keys, rq, a)) return -1;
  json_t *o = json_loadb(rq->body, rq->len, 0, NULL);
  const char *object = json_string_value(json_object_get(o, "object"));
  const char *prefix = !object                             ? NULL
                       : strcmp(object, "page") == 0      ? channel_prefix(CHANNEL_MESSENGER)
                       : strcmp(object, "instagram") == 0 ? channel_prefix(CHANNEL_INSTAGRAM)
                                                           : NULL;
  if (!prefix) {
    json_decref(o);
    a->status = 400;
    a->error = "the body is not a Messenger or Instagram webhook "
               "({\"object\": \"page\" or \"instagram\", \"entry\": [...]})";
    return -1;
  }
  const char *page = rq->secret(rq->ctx, rq->bot, "messenger_page_id");
  int messenger = prefix == channel_prefix(CHANNEL_MESSENGER);
  size_t i, k;
  json_t *entry, *ev;
  json_array_foreach(json_object_get(o, "entry"), i, entry) {
    const char *id = json_string_value(json_object_get(entry, "id"));
    if (messenger && page && id && strcmp(id, page) != 0) continue; /* another page's */
    json_array_foreach(json_object_get(entry, "messaging"), k, ev)
        read_event(ev, prefix, messenger ? page : NULL, d);
  }
  json_decref(o);
  return 0;
}

const provider_registration messenger_registration = {
    .name = "messenger",
    .channel = CHANNEL_MESSENGER,
    .log_name = "messenger",
    .ops = &provider_messenger,
    .settings = settings,
    .messages_help = "Messenger and Instagram webhook (GET: the verify handshake)",
    .configure = configure,
    .messages = {"/messenger/", NULL},
    .takes_get = 1,
    .refused_early = refused_early,
    .read_delivery = read_delivery,
    .verify = verify,
};

/* Instagram's messages go out through the page's Send API, with the
 * Messenger settings; they come in on the Messenger webhook. */
const provider_registration instagram_registration = {
    .name = "instagram",
    .channel = CHANNEL_INSTAGRAM,
    .log_name = "instagram",
    .ops = &provider_messenger,
    .configure = configure,
};
