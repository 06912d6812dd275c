/* twilio: Programmable Messaging's REST API.
 *
 *   POST {url}/2010-04-01/Accounts/{AccountSid}/Messages.json
 *   Authorization: Basic base64(AccountSid:AuthToken)
 *   To, From (or MessagingServiceSid), Body, MediaUrl (one per picture: MMS),
 *   StatusCallback
 *
 * 201 answers the message resource, whose sid is the provider id. Errors
 * answer {"code": N, "message": "...", "status": S}: 429 and 5xx are
 * retried, other errors are final; 21610 (the recipient replied STOP to the
 * carrier), 21211 (invalid number) and 21614 (not a mobile number) also say
 * something about the contact. Twilio does not deduplicate message
 * creation, so a retry after a timeout can deliver twice (docs/providers.md). */
#include <jansson.h>
#include <string.h>

#include "provider.h"

static const char *check(const provider_config *cfg) {
  if (!cfg->account_sid || !*cfg->account_sid) return "twilio needs twilio_account_sid";
  if (!cfg->auth_token || !*cfg->auth_token)
    return "twilio needs its auth token (PARLEY_TWILIO_AUTH_TOKEN)";
  return NULL;
}

/* StatusCallback: the bot's status URL with our id, so a report finds its
 * message even before the answer with Twilio's sid is recorded. */
static char *status_callback(const provider_config *cfg, int64_t id) {
  if (!cfg->status_url || !*cfg->status_url) return NULL;
  return xasprintf("%s%cm=%lld", cfg->status_url, strchr(cfg->status_url, '?') ? '&' : '?',
                   (long long)id);
}

static void add_media_url(void *ud, const char *url) { form_add(ud, "MediaUrl", url); }

static int prepare(const provider_config *cfg, const outgoing *m, http_request *req,
                   send_result *res) {
  int service = cfg->messaging_service_sid && *cfg->messaging_service_sid;
  if (!service && !*m->from) {
    res->outcome = SEND_FAILED;
    send_reason(res, "no number to send from: list one in bot.config{numbers} or set "
                     "twilio_messaging_service_sid");
    return -1;
  }
  const char *base = cfg->url && *cfg->url ? cfg->url : "https://api.twilio.com";
  req->method = "POST";
  req->url = xasprintf("%s/2010-04-01/Accounts/%s/Messages.json", base, cfg->account_sid);
  form_add(&req->body, "To", m->to);
  if (service)
    form_add(&req->body, "MessagingServiceSid", cfg->messaging_service_sid);
  else
    form_add(&req->body, "From", m->from);
  form_add(&req->body, "Body", m->text);
  each_media(m->media, add_media_url, &req->body);
  char *callback = status_callback(cfg, m->id);
  if (callback) form_add(&req->body, "StatusCallback", callback);
  free(callback);
  char *auth = basic_auth(cfg->account_sid, cfg->auth_token);
  http_request_header(req, "Authorization: %s", auth);
  free(auth);
  http_request_header(req, "Content-Type: application/x-www-form-urlencoded");
  http_request_header(req, "Accept: application/json");
  return 0;
}

static void answer(const provider_config *cfg, long status, const char *body, size_t len,
                   send_result *res) {
  (void)cfg;
  json_t *doc = answer_json(status, body, len, "sid", res);
  if (res->outcome == SEND_OK) {
    json_decref(doc);
    return;
  }
  json_int_t code = json_integer_value(json_object_get(doc, "code"));
  const char *message = json_string_value(json_object_get(doc, "message"));
  if (code > 0) {
    res->code = (int)code;
    send_reason(res, "Twilio %lld: %s (HTTP %ld)", (long long)code,
                message ? message : "no message", status);
  }
  switch (code) {
    case 21610: res->verdict = VERDICT_OPTED_OUT; break;
    case 21211: res->verdict = VERDICT_INVALID; break;
    case 21614: res->verdict = VERDICT_NOT_MOBILE; break;
    case 20429: res->outcome = SEND_RETRY; break; /* too many requests */
    case 20003: /* Authenticate: the sid or the token is wrong */
    case 20404: /* no such account (the sid in the URL) */
      res->outcome = SEND_PAUSE;
      break;
    default: break;
  }
  if (res->verdict != VERDICT_NONE) res->outcome = SEND_FAILED;
  json_decref(doc);
}

const provider_ops provider_twilio = {"twilio", check, prepare, answer};
