/* whatsapp: the WhatsApp Business Cloud API's messages endpoint.
 *
 *   POST {url}/{phone-number-id}/messages     (url: https://graph.facebook.com/v21.0)
 *   Authorization: Bearer {access token}
 *   {"messaging_product": "whatsapp", "recipient_type": "individual",
 *    "to": "15550001", "type": "text", "text": {"body": "...", "preview_url": false}}
 *
 * What the message carries beside its text picks the type
 * (stdlib/internal/channels.lua): buttons and a list are "interactive",
 * a template is "template", a media URL is an image, video, audio or
 * document sent by link with the text as its caption. Our message id goes
 * as biz_opaque_callback_data, which Meta echoes in the statuses. 200 answers
 * {"messages": [{"id": "wamid..."}]}: the wamid is the provider id, and
 * the statuses Meta posts later name it. Errors answer Meta's envelope
 * {"error": {"message", "type", "code", "error_subcode", "error_data":
 * {"details"}, "fbtrace_id"}}, read below by their codes. */
#include <jansson.h>
#include <string.h>

#include "channel.h"
#include "provider.h"

static const char *check(const provider_config *cfg) {
  if (!cfg->sender_id || !*cfg->sender_id) return "whatsapp needs whatsapp_phone_number_id";
  if (!cfg->auth_token || !*cfg->auth_token)
    return "whatsapp needs its access token (PARLEY_WHATSAPP_ACCESS_TOKEN)";
  return NULL;
}

/* The type Meta sends a media URL as, by the file's extension: images,
 * videos and documents take a caption; audio does not, so it goes as a
 * document (with its caption) rather than lose the text. */
static const char *media_type(const char *url) {
  static const ext_type types[] = {{".jpg", "image"}, {".jpeg", "image"}, {".png", "image"},
                                   {".mp4", "video"}, {".3gp", "video"}};
  return type_by_extension(url, types, sizeof types / sizeof *types, "document");
}

/* {"type": "reply", "reply": {"id", "title"}} for each of the buttons. */
static json_t *reply_buttons(json_t *buttons) {
  json_t *out = json_array(), *b;
  size_t i;
  json_array_foreach(buttons, i, b)
      json_array_append_new(out, json_pack("{s:s, s:{s:O, s:O}}", "type", "reply", "reply", "id",
                                           json_object_get(b, "id"), "title",
                                           json_object_get(b, "title")));
  return out;
}

static json_t *interactive(const char *text, json_t *buttons, json_t *list) {
  if (buttons)
    return json_pack("{s:s, s:{s:s}, s:{s:o}}", "type", "button", "body", "text", text, "action",
                     "buttons", reply_buttons(buttons));
  json_t *rows = json_array(), *item;
  size_t i;
  json_array_foreach(json_object_get(list, "items"), i, item) {
    json_t *row = json_pack("{s:O, s:O}", "id", json_object_get(item, "id"), "title",
                            json_object_get(item, "title"));
    json_t *d = json_object_get(item, "description");
    if (d) json_object_set(row, "description", d);
    json_array_append_new(rows, row);
  }
  return json_pack("{s:s, s:{s:s}, s:{s:O, s:[{s:o}]}}", "type", "list", "body", "text", text,
                   "action", "button", json_object_get(list, "button"), "sections", "rows",
                   rows);
}

static json_t *template_of(json_t *t) {
  json_t *o = json_pack("{s:O, s:{s:O}}", "name", json_object_get(t, "name"), "language", "code",
                        json_object_get(t, "language"));
  json_t *params = json_object_get(t, "params"), *p;
  if (json_array_size(params)) {
    json_t *list = json_array();
    size_t i;
    json_array_foreach(params, i, p)
        json_array_append_new(list, json_pack("{s:s, s:O}", "type", "text", "text", p));
    json_object_set_new(o, "components",
                        json_pack("[{s:s, s:o}]", "type", "body", "parameters", list));
  }
  return o;
}

/* The message's body: text, or what its content makes it. */
static json_t *message_body(const outgoing *m) {
  json_t *o = json_pack("{s:s, s:s, s:s}", "messaging_product", "whatsapp", "recipient_type",
                        "individual", "to", channel_id(m->to) + (channel_id(m->to)[0] == '+'));
  /* echoed in its statuses: they find the message even before the answer
   * with its wamid is recorded (as Twilio's ?m= does) */
  char id[24];
  snprintf(id, sizeof id, "%lld", (long long)m->id);
  json_object_set_new(o, "biz_opaque_callback_data", json_string(id));
  json_t *content = m->media ? json_loads(m->media, 0, NULL) : NULL;
  json_t *media = json_is_array(content) ? content : json_object_get(content, "media");
  json_t *buttons = json_object_get(content, "buttons"), *list = json_object_get(content, "list");
  json_t *tmpl = json_object_get(content, "template");
  const char *url = json_string_value(json_array_get(media, 0));
  if (tmpl) {
    json_object_set_new(o, "type", json_string("template"));
    json_object_set_new(o, "template", template_of(tmpl));
  } else if (buttons || list) {
    json_object_set_new(o, "type", json_string("interactive"));
    json_object_set_new(o, "interactive", interactive(m->text, buttons, list));
  } else if (url) {
    const char *type = media_type(url);
    json_object_set_new(o, "type", json_string(type));
    json_object_set_new(o, type, json_pack("{s:s, s:s}", "link", url, "caption", m->text));
  } else {
    json_object_set_new(o, "type", json_string("text"));
    json_object_set_new(o, "text", json_pack("{s:s, s:b}", "body", m->text, "preview_url", 0));
  }
  json_decref(content);
  return o;
}

static int prepare(const provider_config *cfg, const outgoing *m, http_request *req,
                   send_result *res) {
  if (channel_of(m->to) != CHANNEL_WHATSAPP) {
    res->outcome = SEND_FAILED;
    send_reason(res, "not a WhatsApp address: %s", m->to);
    return -1;
  }
  const char *base = cfg->url && *cfg->url ? cfg->url : "https://graph.facebook.com/v21.0";
  req->method = "POST";
  req->url = xasprintf("%s/%s/messages", base, cfg->sender_id);
  json_t *body = message_body(m);
  char *text = json_dumps(body, JSON_COMPACT);
  json_decref(body);
  buf_puts(&req->body, text ? text : "{}");
  free(text);
  http_request_header(req, "Authorization: Bearer %s", cfg->auth_token);
  http_request_header(req, "Content-Type: application/json");
  http_request_header(req, "Accept: application/json");
  return 0;
}

/* What Meta's error codes mean for the message (Cloud API error codes;
 * Graph API errors): codes not listed keep the reading of the HTTP
 * status. */
static send_outcome outcome_of(long long code, send_outcome by_status) {
  static const struct {
    long long code;
    send_outcome outcome;
  } codes[] = {
      /* the account or its token: its messages wait until the settings are fixed */
      {0, SEND_PAUSE},      /* AuthException */
      {3, SEND_PAUSE},      /* the app lacks the API's capability */
      {10, SEND_PAUSE},     /* permission denied */
      {190, SEND_PAUSE},    /* access token expired or invalid */
      {368, SEND_PAUSE},    /* temporarily blocked for policy violations */
      {131031, SEND_PAUSE}, /* account locked */
      {133010, SEND_PAUSE}, /* phone number not registered */
      /* throughput: tried again later */
      {4, SEND_RETRY},      /* too many API calls */
      {80007, SEND_RETRY},  /* rate limit issues */
      {130429, SEND_RETRY}, /* rate limit hit (throughput) */
      {131056, SEND_RETRY}, /* pair rate limit: too many to this recipient */
      /* Meta's side: tried again */
      {1, SEND_RETRY},      /* API unknown */
      {2, SEND_RETRY},      /* API service: temporarily unavailable */
      {131000, SEND_RETRY}, /* something went wrong */
      {131016, SEND_RETRY}, /* service unavailable */
      {133004, SEND_RETRY}, /* server temporarily unavailable */
      /* the message: failed for good */
      {131047, SEND_FAILED}, /* re-engagement: outside the 24-hour window */
      {131026, SEND_FAILED}, /* undeliverable */
      {131051, SEND_FAILED}, /* unsupported message type */
      {131008, SEND_FAILED}, /* a required parameter is missing */
      {131009, SEND_FAILED}, /* a parameter's value is not valid */
      {100, SEND_FAILED},    /* invalid parameter */
  };
  for (size_t i = 0; i < sizeof codes / sizeof *codes; i++)
    if (codes[i].code == code) return codes[i].outcome;
  if (code >= 132000 && code < 133000) return SEND_FAILED; /* the template's */
  return by_status;
}

static void answer(const provider_config *cfg, long status, const char *body, size_t len,
                   send_result *res) {
  (void)cfg;
  json_t *doc = answer_json(status, body, len, "id", res); /* (no top-level id) */
  if (res->outcome == SEND_OK) {
    const char *id = json_string_value(
        json_object_get(json_array_get(json_object_get(doc, "messages"), 0), "id"));
    if (id && strlen(id) < sizeof res->provider_id) {
      strcpy(res->provider_id, id);
    } else {
      res->outcome = SEND_RETRY;
      send_reason(res, "WhatsApp answered %ld without a message id", status);
    }
    json_decref(doc);
    return;
  }
  graph_error e;
  if (graph_error_of(doc, &e)) {
    res->code = (int)e.code;
    res->outcome = outcome_of(e.code, res->outcome);
    send_reason(res, "WhatsApp %lld: %s%s%s (HTTP %ld)", e.code, e.message,
                e.details ? ": " : "", e.details ? e.details : "", status);
  }
  json_decref(doc);
}

const provider_ops provider_whatsapp = {"whatsapp", check, prepare, answer};
