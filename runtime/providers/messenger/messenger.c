/* messenger: the Messenger Platform's Send API, for Messenger and
 * Instagram messaging (a page's token reaches both).
 *
 *   POST {url}/me/messages                (url: https://graph.facebook.com/v21.0)
 *   Authorization: Bearer {page access token}
 *   {"recipient": {"id": PSID}, "messaging_type": "RESPONSE",
 *    "message": {"text": "...", "quick_replies": [...]}}
 *
 * messaging_type is RESPONSE (the engine sends free-form messages only
 * within 24 hours of the person's last message), or MESSAGE_TAG with the
 * message's tag outside it. Buttons are quick replies. 200 answers
 * {"recipient_id", "message_id"}: the message id is the provider id.
 * Errors answer Graph's envelope {"error": {"message", "type", "code",
 * "error_subcode", "fbtrace_id"}}. */
#include <jansson.h>
#include <string.h>

#include "channel.h"
#include "provider.h"

static const char *check(const provider_config *cfg) {
  if (!cfg->sender_id || !*cfg->sender_id) return "messenger needs messenger_page_id";
  if (!cfg->auth_token || !*cfg->auth_token)
    return "messenger needs its page access token (PARLEY_MESSENGER_PAGE_TOKEN)";
  return NULL;
}

/* An attachment's type by the URL's extension: image, video, audio, else
 * file. */
static const char *attachment_type(const char *url) {
  static const ext_type types[] = {
      {".jpg", "image"}, {".jpeg", "image"}, {".png", "image"}, {".gif", "image"},
      {".mp4", "video"}, {".mov", "video"},  {".mp3", "audio"}, {".m4a", "audio"},
      {".wav", "audio"}, {".ogg", "audio"}};
  return type_by_extension(url, types, sizeof types / sizeof *types, "file");
}

static json_t *quick_replies(json_t *buttons) {
  json_t *out = json_array(), *b;
  size_t i;
  json_array_foreach(buttons, i, b)
      json_array_append_new(out, json_pack("{s:s, s:O, s:O}", "content_type", "text", "title",
                                           json_object_get(b, "title"), "payload",
                                           json_object_get(b, "id")));
  return out;
}

static int prepare(const provider_config *cfg, const outgoing *m, http_request *req,
                   send_result *res) {
  channel ch = channel_of(m->to);
  if (ch != CHANNEL_MESSENGER && ch != CHANNEL_INSTAGRAM) {
    res->outcome = SEND_FAILED;
    send_reason(res, "not a Messenger or Instagram address: %s", m->to);
    return -1;
  }
  json_t *content = m->media ? json_loads(m->media, 0, NULL) : NULL;
  const char *tag = json_string_value(json_object_get(content, "tag"));
  json_t *media = json_is_array(content) ? content : json_object_get(content, "media");
  const char *url = json_string_value(json_array_get(media, 0));
  json_t *message;
  if (url) /* an attachment (the script's text went as a message before it) */
    message = json_pack("{s:{s:s, s:{s:s, s:b}}}", "attachment", "type", attachment_type(url),
                        "payload", "url", url, "is_reusable", 1);
  else
    message = json_pack("{s:s}", "text", m->text);
  json_t *buttons = json_object_get(content, "buttons");
  if (buttons) json_object_set_new(message, "quick_replies", quick_replies(buttons));
  json_t *body = json_pack("{s:{s:s}, s:s, s:o}", "recipient", "id", channel_id(m->to),
                           "messaging_type", tag ? "MESSAGE_TAG" : "RESPONSE", "message",
                           message);
  if (tag) json_object_set_new(body, "tag", json_string(tag));
  json_decref(content);
  char *text = json_dumps(body, JSON_COMPACT);
  json_decref(body);
  const char *base = cfg->url && *cfg->url ? cfg->url : "https://graph.facebook.com/v21.0";
  req->method = "POST";
  req->url = xasprintf("%s/me/messages", base);
  buf_puts(&req->body, text ? text : "{}");
  free(text);
  http_request_header(req, "Authorization: Bearer %s", cfg->auth_token);
  http_request_header(req, "Content-Type: application/json");
  http_request_header(req, "Accept: application/json");
  return 0;
}

/* What the Send API's error codes mean for the message (Messenger
 * Platform error codes). */
static send_outcome outcome_of(long long code, long long subcode, send_outcome by_status) {
  switch (code) {
    case 190: /* the page token expired or is invalid */
      return SEND_PAUSE;
    case 200: /* permissions: the app's, or (with a subcode) this person's */
    case 10:  /* 2018278, 2534022 outside the window; 2018065, 2018108 the person blocks */
      return subcode ? SEND_FAILED : SEND_PAUSE;
    case 4:   /* too many calls for the app */
    case 613: /* too many calls */
    case 1:
    case 2:
    case 1200: /* temporary send error */
      return SEND_RETRY;
    case 100: /* invalid parameter (no such person, a bad body) */
    case 551: /* the person is not available */
      return SEND_FAILED;
    default:
      return by_status;
  }
}

static void answer(const provider_config *cfg, long status, const char *body, size_t len,
                   send_result *res) {
  (void)cfg;
  json_t *doc = answer_json(status, body, len, "message_id", res);
  if (res->outcome == SEND_OK) {
    if (!res->provider_id[0]) {
      res->outcome = SEND_RETRY;
      send_reason(res, "Messenger answered %ld without a message id", status);
    }
    json_decref(doc);
    return;
  }
  graph_error e;
  if (graph_error_of(doc, &e)) {
    res->code = (int)e.code;
    res->outcome = outcome_of(e.code, e.subcode, res->outcome);
    send_reason(res, "Messenger %lld%s%.0lld: %s (HTTP %ld)", e.code, e.subcode ? "/" : "",
                e.subcode, e.message, status);
  }
  json_decref(doc);
}

const provider_ops provider_messenger = {"messenger", check, prepare, answer};
