/* Unit tests for runtime/providers/ and the sender's rate arithmetic: the
 * request each provider describes for a message (URL, auth, form or JSON
 * body, status and DLR URLs), how each reads its provider's answers
 * (success ids, retried and final errors, the number verdicts of Twilio's
 * 21610/21211/21614), the token bucket, and number types.
 *
 *   make build/test_providers && ./build/test_providers */
#include <jansson.h>

#include "outbox.h"
#include "provider.h"
#include "test.h"
#include "twilio_webhook.h"
#include "webhook_auth.h"

static const char *header(const http_request *r, const char *name) {
  size_t n = strlen(name);
  for (int i = 0; i < r->nheaders; i++)
    if (strncasecmp(r->headers[i], name, n) == 0 && r->headers[i][n] == ':')
      return r->headers[i] + n + 2;
  return NULL;
}

/* The decoded value of a form field (the first with that name), or NULL. */
static char *form_value(const char *body, const char *name) {
  form_param *p;
  size_t n;
  char *v = NULL;
  if (form_decode(body, strlen(body), &p, &n) == 0) {
    for (size_t i = 0; i < n && !v; i++)
      if (strcmp(p[i].name, name) == 0) v = strdup(p[i].value);
    form_free(p, n);
  }
  return v;
}

static void check_field(const char *body, const char *name, const char *want, const char *what) {
  char *v = form_value(body, name);
  CHECK_STR(v, want, "%s", what);
  free(v);
}

static void test_twilio_request(void) {
  const provider_ops *tw = provider_find("twilio");
  CHECK(tw != NULL, "the twilio provider exists");
  provider_config cfg = {.kind = "twilio", .url = "http://127.0.0.1:9/fake",
                         .account_sid = "AC123", .auth_token = "secret",
                         .status_url = "https://bot.example/twilio/status/fanclub"};
  CHECK(tw->check(&cfg) == NULL, "a configuration with sid and token is complete");
  provider_config bad = {.kind = "twilio", .account_sid = "AC123"};
  CHECK_HAS(tw->check(&bad), "auth token", "without the auth token the check names it");

  outgoing m = {.id = 42, .from = "+15550100", .to = "+15550001",
                .text = "Café & tickets? 100% yes", .attempt = 1};
  http_request req = {0};
  send_result res = {0};
  CHECK_INT(tw->prepare(&cfg, &m, &req, &res), 0, "twilio describes a request");
  CHECK_STR(req.method, "POST", "it is a POST");
  CHECK_STR(req.url, "http://127.0.0.1:9/fake/2010-04-01/Accounts/AC123/Messages.json",
            "to the Messages resource of the account under the configured base URL");
  CHECK_STR(header(&req, "Authorization"), "Basic QUMxMjM6c2VjcmV0",
            "with basic auth of sid:token (base64 of 'AC123:secret')");
  CHECK_STR(header(&req, "Content-Type"), "application/x-www-form-urlencoded",
            "as a form");
  check_field(req.body.data, "To", "+15550001", "To is the contact ('+' survives encoding)");
  check_field(req.body.data, "From", "+15550100", "From is the bot's number");
  check_field(req.body.data, "Body", "Café & tickets? 100% yes",
              "Body round-trips UTF-8, '&', '?' and '%'");
  check_field(req.body.data, "StatusCallback",
              "https://bot.example/twilio/status/fanclub?m=42",
              "StatusCallback is the status URL with our id");
  CHECK(strstr(req.body.data, "MessagingServiceSid") == NULL,
        "no MessagingServiceSid without one configured");
  http_request_free(&req);

  outgoing mms = {.id = 43, .from = "+15550100", .to = "+15550001", .text = "Poster",
                 .media = "[\"https://cdn.example.com/a.jpg\",\"https://cdn.example.com/b.png\"]"};
  CHECK_INT(tw->prepare(&cfg, &mms, &req, &res), 0, "a message with media");
  form_param *fp;
  size_t fn;
  int urls = 0;
  if (form_decode(req.body.data, req.body.len, &fp, &fn) == 0) {
    for (size_t i = 0; i < fn; i++)
      if (strcmp(fp[i].name, "MediaUrl") == 0)
        urls += strcmp(fp[i].value, urls ? "https://cdn.example.com/b.png"
                                          : "https://cdn.example.com/a.jpg") == 0;
    form_free(fp, fn);
  }
  CHECK_INT(urls, 2, "sends one MediaUrl per picture, in order");
  http_request_free(&req);

  cfg.messaging_service_sid = "MG999";
  cfg.status_url = NULL;
  outgoing nofrom = {.id = 7, .from = "", .to = "+15550001", .text = "hi", .attempt = 1};
  CHECK_INT(tw->prepare(&cfg, &nofrom, &req, &res), 0,
            "with a messaging service a message needs no From");
  check_field(req.body.data, "MessagingServiceSid", "MG999", "it names the service");
  char *from = form_value(req.body.data, "From");
  CHECK(from == NULL, "and sends no From");
  free(from);
  char *cb = form_value(req.body.data, "StatusCallback");
  CHECK(cb == NULL, "no StatusCallback without a status URL");
  free(cb);
  http_request_free(&req);

  cfg.messaging_service_sid = NULL;
  memset(&res, 0, sizeof res);
  CHECK_INT(tw->prepare(&cfg, &nofrom, &req, &res), -1,
            "without From or a messaging service the message cannot be sent");
  CHECK(res.outcome == SEND_FAILED, "it fails");
  CHECK_HAS(res.reason, "numbers", "saying how to give a number");
  http_request_free(&req);
}

static send_result twilio_answer(long status, const char *body) {
  send_result res = {0};
  provider_config cfg = {.kind = "twilio"};
  provider_find("twilio")->answer(&cfg, status, body, strlen(body), &res);
  return res;
}

static void test_twilio_answers(void) {
  send_result r = twilio_answer(
      201, "{\"sid\":\"SM0123456789abcdef0123456789abcdef\",\"status\":\"queued\"}");
  CHECK(r.outcome == SEND_OK, "201 takes the message");
  CHECK_STR(r.provider_id, "SM0123456789abcdef0123456789abcdef", "its sid is the provider id");

  r = twilio_answer(429, "{\"code\":20429,\"message\":\"Too Many Requests\",\"status\":429}");
  CHECK(r.outcome == SEND_RETRY, "429 is retried");
  r = twilio_answer(500, "{\"code\":20500,\"message\":\"Internal Server Error\",\"status\":500}");
  CHECK(r.outcome == SEND_RETRY, "500 is retried");
  r = twilio_answer(503, "<html>gateway</html>");
  CHECK(r.outcome == SEND_RETRY, "503 with a body that is not JSON is retried");
  CHECK_HAS(r.reason, "503", "the reason names the status");

  r = twilio_answer(400, "{\"code\":21610,\"message\":\"Attempt to send to unsubscribed "
                         "recipient\",\"status\":400}");
  CHECK(r.outcome == SEND_FAILED, "21610 is final");
  CHECK(r.verdict == VERDICT_OPTED_OUT, "and says the recipient opted out at the carrier");
  CHECK_INT(r.code, 21610, "the code is kept");
  CHECK_HAS(r.reason, "21610", "the reason names the code");
  CHECK_HAS(r.reason, "unsubscribed", "and Twilio's message");
  r = twilio_answer(400, "{\"code\":21211,\"message\":\"Invalid 'To' Phone Number\"}");
  CHECK(r.outcome == SEND_FAILED && r.verdict == VERDICT_INVALID, "21211: an invalid number");
  r = twilio_answer(400, "{\"code\":21614,\"message\":\"'To' number is not a valid mobile "
                         "number\"}");
  CHECK(r.outcome == SEND_FAILED && r.verdict == VERDICT_NOT_MOBILE, "21614: not a mobile");
  r = twilio_answer(401, "{\"code\":20003,\"message\":\"Authenticate\",\"status\":401}");
  CHECK(r.outcome == SEND_PAUSE && r.verdict == VERDICT_NONE,
        "401 (bad credentials) pauses the bot's sending: the account, not the message");
  r = twilio_answer(404, "{\"code\":20404,\"message\":\"The requested resource was not found\"}");
  CHECK(r.outcome == SEND_PAUSE, "20404 (no such account) pauses too");
  r = twilio_answer(400, "{\"code\":21602,\"message\":\"Message body is required.\"}");
  CHECK(r.outcome == SEND_FAILED, "an error in the message itself fails it");
}

static void test_kannel(void) {
  const provider_ops *k = provider_find("kannel");
  CHECK(k != NULL, "the kannel provider exists");
  provider_config cfg = {.kind = "kannel", .url = "http://127.0.0.1:13013/cgi-bin/sendsms",
                         .username = "parley", .password = "p&ss",
                         .status_url = "http://127.0.0.1:8080/kannel/dlr/fanclub",
                         .webhook_token = "tok en"};
  CHECK(k->check(&cfg) == NULL, "url and username make a complete configuration");
  outgoing m = {.id = 9, .from = "+15550100", .to = "+15550001", .text = "Hello there"};
  http_request req = {0};
  send_result res = {0};
  CHECK_INT(k->prepare(&cfg, &m, &req, &res), 0, "kannel describes a request");
  CHECK_STR(req.method, "GET", "sendsms is a GET");
  const char *q = strchr(req.url, '?');
  CHECK(q && strncmp(req.url, "http://127.0.0.1:13013/cgi-bin/sendsms?", 39) == 0,
        "to the sendsms URL with a query");
  q = q ? q + 1 : "";
  check_field(q, "username", "parley", "username");
  check_field(q, "password", "p&ss", "password, encoded");
  check_field(q, "to", "+15550001", "to");
  check_field(q, "from", "+15550100", "from");
  check_field(q, "text", "Hello there", "text");
  check_field(q, "charset", "UTF-8", "charset UTF-8");
  check_field(q, "coding", "0", "GSM-7 text goes as coding 0");
  check_field(q, "dlr-mask", "31", "every delivery report is asked for (dlr-mask 31)");
  check_field(q, "dlr-url", "http://127.0.0.1:8080/kannel/dlr/fanclub?token=tok+en&m=9&type=%d",
              "the DLR URL carries the token, our id and Kannel's %d");
  http_request_free(&req);

  outgoing pic = {.id = 11, .from = "+15550100", .to = "+15550001", .text = "Poster",
                 .media = "[\"https://cdn.example.com/a.jpg\"]"};
  k->prepare(&cfg, &pic, &req, &res);
  q = strchr(req.url, '?');
  check_field(q ? q + 1 : "", "text", "Poster\nhttps://cdn.example.com/a.jpg",
              "SMS has no pictures: their URLs follow the text");
  http_request_free(&req);

  outgoing uni = {.id = 10, .from = "+15550100", .to = "+15550001", .text = "Olá ☕"};
  k->prepare(&cfg, &uni, &req, &res);
  q = strchr(req.url, '?');
  check_field(q ? q + 1 : "", "coding", "2", "text GSM-7 cannot carry goes as UCS-2 (coding 2)");
  check_field(q ? q + 1 : "", "text", "Olá ☕", "as UTF-8, which Kannel converts");
  http_request_free(&req);

  send_result r = {0};
  k->answer(&cfg, 202, "0: Accepted for delivery", 24, &r);
  CHECK(r.outcome == SEND_OK, "202 'Accepted for delivery' takes it");
  memset(&r, 0, sizeof r);
  k->answer(&cfg, 403, "Authorization failed for sendsms\n", 33, &r);
  CHECK(r.outcome == SEND_PAUSE, "403 (the sendsms user refused) pauses the bot's sending");
  CHECK_HAS(r.reason, "Authorization failed", "with Kannel's words");
  memset(&r, 0, sizeof r);
  k->answer(&cfg, 400, "Missing receiver number\n", 24, &r);
  CHECK(r.outcome == SEND_FAILED, "400 fails the message");
  memset(&r, 0, sizeof r);
  k->answer(&cfg, 503, "Temporal failure, try again later.", 34, &r);
  CHECK(r.outcome == SEND_RETRY, "503 is retried");
}

static void test_webhook(void) {
  const provider_ops *w = provider_find("webhook");
  provider_config cfg = {.kind = "webhook", .url = "http://127.0.0.1:9/sms", .secret = "s3"};
  CHECK(w && w->check(&cfg) == NULL, "the webhook provider takes url and secret");
  outgoing m = {.id = 5, .from = "+15550100", .to = "+15550001", .text = "hi \"you\"",
                .media = "[\"https://cdn.example.com/a.jpg\"]"};
  http_request req = {0};
  send_result res = {0};
  CHECK_INT(w->prepare(&cfg, &m, &req, &res), 0, "webhook describes a request");
  json_t *doc = json_loads(req.body.data, 0, NULL);
  CHECK(doc && strcmp(json_string_value(json_object_get(doc, "text")), "hi \"you\"") == 0 &&
            strcmp(json_string_value(json_object_get(doc, "id")), "5") == 0,
        "the body is JSON with our id and the text");
  CHECK(doc && json_is_array(json_object_get(doc, "media")) &&
            json_array_size(json_object_get(doc, "media")) == 1,
        "and the media URLs");
  json_decref(doc);
  CHECK_STR(header(&req, "Idempotency-Key"), "parley-5", "an idempotency key from our id");
  const char *ts = header(&req, "X-Parley-Timestamp");
  const char *sig = header(&req, "X-Parley-Signature");
  CHECK(ts && sig &&
            webhook_signature_problem("s3", ts, sig, req.body.data, req.body.len,
                                      strtoll(ts, NULL, 10)) == NULL,
        "the signature verifies with the inbound checker");
  http_request_free(&req);
  send_result r = {0};
  w->answer(&cfg, 200, "{\"id\":\"abc\"}", 12, &r);
  CHECK(r.outcome == SEND_OK, "200 takes it");
  CHECK_STR(r.provider_id, "abc", "with the answer's id");
}

static void test_sim(void) {
  const provider_ops *s = provider_find("sim");
  provider_config cfg = {.kind = "sim"};
  outgoing m = {.id = 77, .from = "", .to = "+15550001", .text = "x"};
  http_request req = {0};
  send_result res = {0};
  CHECK_INT(s->prepare(&cfg, &m, &req, &res), 1, "sim needs no request");
  CHECK(res.outcome == SEND_OK, "and takes the message");
  CHECK_STR(res.provider_id, "sim-77", "with id sim-<id>");
  CHECK(provider_find("carrier-pigeon") == NULL, "an unknown provider is not found");
}

static void test_bucket(void) {
  token_bucket b;
  bucket_init(&b, 10, 0);
  int sent = 0;
  for (int64_t t = 0; t < 10000; t++)
    if (bucket_take(&b, 1, t)) sent++;
  CHECK(sent >= 100 && sent <= 101, "10/s over 10 s lets 100 through (+1 at start): %d", sent);
  bucket_init(&b, 1, 0);
  CHECK_INT(bucket_take(&b, 1, 0), 1, "a fresh 1/s bucket lets one through");
  CHECK_INT(bucket_take(&b, 1, 0), 0, "not two");
  CHECK_INT(bucket_ready_at(&b, 1, 0), 1000, "the next one is ready a second later");
  CHECK_INT(bucket_take(&b, 3, 1000), 1, "a 3-segment message takes a full bucket");
  CHECK_INT(bucket_ready_at(&b, 1, 1000), 4000, "and leaves a debt of two seconds");
  bucket_init(&b, 100, 0);
  CHECK(b.burst >= 9.99 && b.burst <= 10.01, "100/s holds a tenth of a second (10)");

  outbox_bot_config c = {.rate_long_code = 1, .rate_toll_free = 3, .rate_short_code = 100};
  CHECK(outbox_rate_for(&c, "+15550100") == 1, "a long code sends 1/s");
  CHECK(outbox_rate_for(&c, "+18885550100") == 3, "a toll-free number 3/s");
  CHECK(outbox_rate_for(&c, "+18335550100") == 3, "833 is toll-free too");
  CHECK(outbox_rate_for(&c, "72345") == 100, "a short code 100/s");
  CHECK(outbox_rate_for(&c, "") == 1, "no number: the long code rate");
}

int main(void) {
  test_twilio_request();
  test_twilio_answers();
  test_kannel();
  test_webhook();
  test_sim();
  test_bucket();
  return test_done();
}
