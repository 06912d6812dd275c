/* Unit tests for the WhatsApp channel (runtime/providers/whatsapp/ and
 * signature.h): X-Hub-Signature-256 over the raw bytes Meta sends, the
 * verify handshake, a delivery's messages and statuses, the requests made
 * to the Cloud API and how its answers are read.
 *
 *   make build/test_whatsapp && ./build/test_whatsapp */
#include <ctype.h>
#include <jansson.h>

#include "fake_request.h"
#include "signature.h"
#include "test.h"

#define SECRET "test_app_secret"

/* A delivery as Meta writes it: non-ASCII as \uXXXX (an emoji as a
 * surrogate pair), '/' as "\/"; its signature computed with
 * `openssl dgst -sha256 -hmac test_app_secret`. */
static const char signed_body[] =
    "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"102290129340398\",\"changes\":"
    "[{\"value\":{\"messaging_product\":\"whatsapp\",\"metadata\":{\"display_phone_number\":"
    "\"15550783881\",\"phone_number_id\":\"106540352242922\"},\"contacts\":[{\"profile\":{\"name\":"
    "\"Jos\\u00e9 \\ud83c\\udf89\"},\"wa_id\":\"16505551234\"}],\"messages\":[{\"from\":"
    "\"16505551234\",\"id\":\"wamid.HBgLMTY1MDUwNzY1MjAVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=\","
    "\"timestamp\":\"1749416383\",\"text\":{\"body\":\"Caf\\u00e9 \\u00e0 l'heure? "
    "https:\\/\\/shop.example\\/presale\"},\"type\":\"text\"}]},\"field\":\"messages\"}]}]}";
#define SIGNED_BODY_SIGNATURE \
  "sha256=57d41fd6787d04727516f7775a455549e316a7dbd16093eb06909ed6f0d7af07"

extern const provider_registration whatsapp_registration;
extern const provider_ops provider_whatsapp;

static void signatures_are_over_the_raw_bytes(void) {
  char sig[META_SIGNATURE_SIZE];
  meta_sign(SECRET, signed_body, strlen(signed_body), sig);
  CHECK_STR(sig, SIGNED_BODY_SIGNATURE, "the signature of Meta's bytes, escapes and all");
  CHECK(meta_signature_valid(SECRET, SIGNED_BODY_SIGNATURE, signed_body, strlen(signed_body)),
        "... is valid");
  /* the same JSON written again with raw UTF-8 and plain slashes */
  json_t *o = json_loads(signed_body, 0, NULL);
  char *again = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  CHECK(!meta_signature_valid(SECRET, SIGNED_BODY_SIGNATURE, again, strlen(again)),
        "the body decoded and written again does not match: bytes are signed, not JSON");
  free(again);
  char upper[META_SIGNATURE_SIZE];
  strcpy(upper, SIGNED_BODY_SIGNATURE);
  for (char *p = upper + 7; *p; p++) *p = (char)toupper((unsigned char)*p);
  CHECK(meta_signature_valid(SECRET, upper, signed_body, strlen(signed_body)),
        "hex digits in capitals match too");
  CHECK(!meta_signature_valid("other", SIGNED_BODY_SIGNATURE, signed_body, strlen(signed_body)),
        "another secret's signature does not");
  CHECK(!meta_signature_valid("", SIGNED_BODY_SIGNATURE, signed_body, strlen(signed_body)) &&
            !meta_signature_valid(NULL, SIGNED_BODY_SIGNATURE, signed_body, strlen(signed_body)),
        "no secret accepts nothing");
  CHECK(!meta_signature_valid(SECRET, "unavailable", signed_body, strlen(signed_body)) &&
            !meta_signature_valid(SECRET, SIGNED_BODY_SIGNATURE "0", signed_body,
                                  strlen(signed_body)),
        "a header of another shape never matches");
  CHECK(!meta_signature_valid(SECRET, "sha1=57d41fd6787d04727516f7775a455549e316a7dbd16093eb069",
                              signed_body, strlen(signed_body)) &&
            !meta_signature_valid(SECRET, NULL, signed_body, strlen(signed_body)),
        "another form, or none, does not match");
  /* the fake Graph API's signature of its own delivery (tests/fake/README.md) */
  static const char fake_body[] =
      "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"102290129340398\","
      "\"changes\":[{\"value\":{\"messaging_product\":\"whatsapp\",\"metadata\":{"
      "\"display_phone_number\":\"15550783881\",\"phone_number_id\":\"1234567890\"},"
      "\"contacts\":[{\"profile\":{\"name\":\"Zo\\u00eb\"},\"wa_id\":\"15551234567\"}],"
      "\"messages\":[{\"from\":\"15551234567\",\"id\":\"wamid.TEST\",\"timestamp\":"
      "\"1750000000\",\"type\":\"text\",\"text\":{\"body\":\"Caf\\u00e9 \\ud83d\\ude00 "
      "https:\\/\\/a.b\\/c\"}}]},\"field\":\"messages\"}]}]}";
  CHECK(meta_signature_valid(
            "s3cret", "sha256=4016cbb350925b2a62cee34dd3c166705bd30a744fa9d7c5e251a61340e803b2",
            fake_body, strlen(fake_body)),
        "the fake Graph API's vector");
  /* a published HMAC-SHA256 value (key "key") */
  char hex[HMAC_HEX_SIZE];
  const char *fox = "The quick brown fox jumps over the lazy dog";
  size_t len = strlen(fox);
  hmac_sha256_hex("key", &fox, &len, 1, hex);
  CHECK_STR(hex, "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8",
            "HMAC-SHA256 of the fox under 'key'");
}

static void the_handshake_answers_only_the_verify_token(void) {
  fake f = {.query = {{"hub.mode", "subscribe"}, {"hub.verify_token", "tok"},
                      {"hub.challenge", "1158201444"}},
            .secrets = {{"whatsapp_verify_token", "tok"}}};
  provider_request rq = request(&f, "shop", "verify", "http://x/whatsapp/shop", "");
  provider_answer a = {0};
  char *body = NULL;
  whatsapp_registration.verify(&rq, &a, &body);
  CHECK(a.status == 200 && body && strcmp(body, "1158201444") == 0,
        "the right token: 200 with the challenge");
  free(body);
  body = NULL;
  f.query[1][1] = "wrong";
  whatsapp_registration.verify(&rq, &a, &body);
  CHECK(a.status == 403 && !body && strstr(f.log, "whatsapp token shop verify"),
        "a wrong token: 403, logged");
  f.query[1][1] = "tok";
  f.query[0][1] = "unsubscribe";
  whatsapp_registration.verify(&rq, &a, &body);
  CHECK(a.status == 400 && !body, "another mode: 400");
  f.query[0][1] = "subscribe";
  f.query[2][1] = "1\r\nSet-Cookie: x";
  whatsapp_registration.verify(&rq, &a, &body);
  CHECK(a.status == 400 && !body, "a challenge with a line break is not echoed");
  f.secrets[0][0] = NULL;
  f.query[2][1] = "1";
  whatsapp_registration.verify(&rq, &a, &body);
  CHECK(a.status == 403 && !body, "no verify token set: nothing verifies");
}

/* A delivery for the tests below (not signed: it is signed here). */
static const char delivery_body[] =
    "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"W\",\"changes\":[{\"field\":"
    "\"messages\",\"value\":{\"messaging_product\":\"whatsapp\",\"metadata\":{"
    "\"display_phone_number\":\"15550100\",\"phone_number_id\":\"PNID\"},"
    "\"messages\":["
    "{\"from\":\"15550001\",\"id\":\"wamid.1\",\"timestamp\":\"1\",\"type\":\"text\",\"text\":{\"body\":\"hi\"}},"
    "{\"from\":\"15550001\",\"id\":\"wamid.2\",\"timestamp\":\"2\",\"type\":\"interactive\","
    "\"interactive\":{\"type\":\"button_reply\",\"button_reply\":{\"id\":\"track\",\"title\":\"Track order\"}}},"
    "{\"from\":\"15550002\",\"id\":\"wamid.3\",\"timestamp\":\"3\",\"type\":\"interactive\","
    "\"interactive\":{\"type\":\"list_reply\",\"list_reply\":{\"id\":\"m\",\"title\":\"Medium\",\"description\":\"d\"}}},"
    "{\"from\":\"15550002\",\"id\":\"wamid.4\",\"timestamp\":\"4\",\"type\":\"image\","
    "\"image\":{\"id\":\"MEDIA1\",\"mime_type\":\"image/jpeg\",\"sha256\":\"abc\",\"caption\":\"my receipt\"}},"
    "{\"from\":\"15550003\",\"id\":\"wamid.5\",\"timestamp\":\"5\",\"type\":\"location\","
    "\"location\":{\"latitude\":30.26,\"longitude\":-97.74,\"name\":\"Store\"}},"
    "{\"from\":\"15550003\",\"id\":\"wamid.6\",\"timestamp\":\"6\",\"type\":\"reaction\","
    "\"reaction\":{\"message_id\":\"wamid.x\",\"emoji\":\"\\ud83d\\udc4d\"}},"
    "{\"from\":\"not a number\",\"id\":\"wamid.7\",\"timestamp\":\"7\",\"type\":\"text\",\"text\":{\"body\":\"x\"}}],"
    "\"statuses\":["
    "{\"id\":\"wamid.OUT1\",\"status\":\"delivered\",\"timestamp\":\"8\",\"recipient_id\":\"15550001\","
    "\"biz_opaque_callback_data\":\"42\"},"
    "{\"id\":\"wamid.OUT2\",\"status\":\"failed\",\"timestamp\":\"9\",\"recipient_id\":\"15550001\","
    "\"errors\":[{\"code\":131047,\"title\":\"Re-engagement message\",\"error_data\":{\"details\":"
    "\"more than 24 hours\"}}]},"
    "{\"id\":\"wamid.OUT3\",\"status\":\"deleted\",\"timestamp\":\"10\",\"recipient_id\":\"15550001\"}]}},"
    "{\"field\":\"messages\",\"value\":{\"metadata\":{\"phone_number_id\":\"OTHER\"},"
    "\"messages\":[{\"from\":\"15550009\",\"id\":\"wamid.9\",\"type\":\"text\",\"text\":{\"body\":\"not ours\"}}]}}]}]}";

static void a_delivery_reads_messages_and_statuses(void) {
  char sig[META_SIGNATURE_SIZE];
  meta_sign(SECRET, delivery_body, strlen(delivery_body), sig);
  fake f = {.headers = {{"X-Hub-Signature-256", sig}},
            .secrets = {{"whatsapp_app_secret", SECRET}, {"whatsapp_phone_number_id", "PNID"}}};
  provider_request rq = request(&f, "shop", "messages", "http://x/whatsapp/shop", delivery_body);
  provider_delivery d = {0};
  provider_answer a = {0};
  CHECK(whatsapp_registration.read_delivery(&rq, &d, &a) == 0, "a signed delivery is read");
  CHECK_INT(d.nmessages, 5, "five messages: a reaction, a bad sender and another number's are not");
  if (d.nmessages == 5) {
    CHECK(strcmp(d.messages[0].from, "whatsapp:+15550001") == 0 &&
              strcmp(d.messages[0].text, "hi") == 0 &&
              strcmp(d.messages[0].provider_id, "wamid.1") == 0 &&
              strcmp(d.messages[0].to, "whatsapp:PNID") == 0 && !d.messages[0].media_json,
          "a text: from whatsapp:+wa_id, its wamid, the number it came to");
    CHECK(strcmp(d.messages[1].text, "Track order") == 0 && d.messages[1].media_json &&
              strcmp(d.messages[1].media_json,
                     "{\"choice\":{\"id\":\"track\",\"title\":\"Track order\"}}") == 0,
          "a button: its title is the text, its id the choice's");
    CHECK(strcmp(d.messages[2].text, "Medium") == 0 &&
              strstr(d.messages[2].media_json, "\"id\":\"m\""),
          "a list row the same way");
    CHECK(strcmp(d.messages[3].text, "my receipt") == 0 &&
              strstr(d.messages[3].media_json, "\"media\":[{") &&
              strstr(d.messages[3].media_json, "\"id\":\"MEDIA1\"") &&
              strstr(d.messages[3].media_json, "\"type\":\"image\""),
          "an image: its caption is the text, its id and type in the media");
    CHECK(strcmp(d.messages[4].text, "Store") == 0 &&
              strstr(d.messages[4].media_json, "\"location\":{"),
          "a location: its name, and where");
  }
  CHECK_INT(d.nreports, 2, "two statuses of ours (deleted is not a delivery report)");
  if (d.nreports == 2) {
    CHECK(strcmp(d.reports[0].provider_id, "wamid.OUT1") == 0 &&
              strcmp(d.reports[0].status, "delivered") == 0 && !d.reports[0].error &&
              d.reports[0].message_id == 42,
          "delivered, by its wamid and our id echoed in biz_opaque_callback_data");
    CHECK(d.reports[1].message_id == 0, "a status without it: by its wamid alone");
    CHECK(strcmp(d.reports[1].status, "failed") == 0 && d.reports[1].error &&
              strcmp(d.reports[1].error, "131047 Re-engagement message: more than 24 hours") == 0,
          "failed, with Meta's code, title and details");
  }
  provider_delivery_free(&d);

  /* a status error longer than kept is cut on a character's boundary */
  buf long_body = {0};
  buf_puts(&long_body, "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"changes\":[{"
                       "\"field\":\"messages\",\"value\":{\"statuses\":[{\"id\":\"wamid.L\","
                       "\"status\":\"failed\",\"errors\":[{\"code\":1,\"title\":\"x\","
                       "\"error_data\":{\"details\":\"");
  for (int i = 0; i < 200; i++) buf_puts(&long_body, "\\u00e9"); /* é: two bytes each */
  buf_puts(&long_body, "\"}}]}]}}]}]}");
  meta_sign(SECRET, long_body.data, long_body.len, sig);
  rq = request(&f, "shop", "messages", "http://x/whatsapp/shop", long_body.data);
  CHECK(whatsapp_registration.read_delivery(&rq, &d, &a) == 0 && d.nreports == 1 &&
            strlen(d.reports[0].error) <= 256 &&
            utf8_valid(d.reports[0].error, strlen(d.reports[0].error)),
        "a long status error is kept to 256 bytes of valid UTF-8");
  provider_delivery_free(&d);
  buf_free(&long_body);

  /* one byte changed: refused before anything is read */
  char *tampered = xstrdup(delivery_body);
  tampered[strlen(tampered) - 10] ^= 1;
  rq = request(&f, "shop", "messages", "http://x/whatsapp/shop", tampered);
  CHECK(whatsapp_registration.read_delivery(&rq, &d, &a) == -1 && a.status == 403 &&
            d.nmessages == 0 && d.nreports == 0 && strstr(f.log, "whatsapp signature shop"),
        "a tampered body: 403, nothing read, logged");
  free(tampered);
  provider_delivery_free(&d);
  f.headers[0][0] = NULL;
  provider_answer early = {0};
  rq = request(&f, "shop", "messages", "http://x/whatsapp/shop", "");
  CHECK(whatsapp_registration.refused_early(&rq, &early) == -1 && early.status == 403,
        "no signature header: refused before the body");
}

/* prepare's request for a message carrying content, as JSON. */
static json_t *prepared(const char *to, const char *text, const char *content, char *url,
                        size_t n) {
  provider_config cfg = {.kind = "whatsapp", .url = "http://fake/v21.0", .sender_id = "PNID",
                         .auth_token = "TOKEN"};
  outgoing m = {.id = 7, .from = "whatsapp:", .to = to, .text = text, .media = content,
                .attempt = 1};
  http_request req = {0};
  send_result res = {0};
  if (provider_whatsapp.prepare(&cfg, &m, &req, &res) != 0) return NULL;
  snprintf(url, n, "%s %s|%s", req.method, req.url, req.nheaders ? req.headers[0] : "");
  json_t *o = json_loadb(req.body.data, req.body.len, 0, NULL);
  http_request_free(&req);
  return o;
}

static void requests_say_what_the_message_carries(void) {
  char url[256];
  json_t *o = prepared("whatsapp:+15550001", "See you in Austin/TX!", NULL, url, sizeof url);
  CHECK_STR(url, "POST http://fake/v21.0/PNID/messages|Authorization: Bearer TOKEN",
            "POST to the phone number id's messages, with the bearer token");
  CHECK(json_equal_text(o, "{\"messaging_product\":\"whatsapp\",\"recipient_type\":\"individual\",\"biz_opaque_callback_data\":\"7\","
                           "\"to\":\"15550001\",\"type\":\"text\",\"text\":{\"body\":"
                           "\"See you in Austin/TX!\",\"preview_url\":false}}"),
        "a text: to the wa_id, without its '+'");
  json_decref(o);
  o = prepared("whatsapp:+15550001", "Pick one",
               "{\"buttons\":[{\"id\":\"a\",\"title\":\"Yes\"},{\"id\":\"b\",\"title\":\"No\"}]}",
               url, sizeof url);
  CHECK(json_equal_text(o, "{\"messaging_product\":\"whatsapp\",\"recipient_type\":\"individual\",\"biz_opaque_callback_data\":\"7\","
                           "\"to\":\"15550001\",\"type\":\"interactive\",\"interactive\":{\"type\":"
                           "\"button\",\"body\":{\"text\":\"Pick one\"},\"action\":{\"buttons\":["
                           "{\"type\":\"reply\",\"reply\":{\"id\":\"a\",\"title\":\"Yes\"}},"
                           "{\"type\":\"reply\",\"reply\":{\"id\":\"b\",\"title\":\"No\"}}]}}}"),
        "buttons: an interactive button message");
  json_decref(o);
  o = prepared("whatsapp:+15550001", "Sizes?",
               "{\"list\":{\"button\":\"Sizes\",\"items\":[{\"id\":\"s\",\"title\":\"Small\","
               "\"description\":\"fits 2\"},{\"id\":\"m\",\"title\":\"Medium\"}]}}",
               url, sizeof url);
  CHECK(json_equal_text(o, "{\"messaging_product\":\"whatsapp\",\"recipient_type\":\"individual\",\"biz_opaque_callback_data\":\"7\","
                           "\"to\":\"15550001\",\"type\":\"interactive\",\"interactive\":{\"type\":"
                           "\"list\",\"body\":{\"text\":\"Sizes?\"},\"action\":{\"button\":\"Sizes\","
                           "\"sections\":[{\"rows\":[{\"id\":\"s\",\"title\":\"Small\",\"description\":"
                           "\"fits 2\"},{\"id\":\"m\",\"title\":\"Medium\"}]}]}}}"),
        "a list: one section of rows");
  json_decref(o);
  o = prepared("whatsapp:+15550001", "[template order_update en_US: 1042 | shipped]",
               "{\"template\":{\"name\":\"order_update\",\"language\":\"en_US\",\"params\":"
               "[\"1042\",\"shipped\"]}}",
               url, sizeof url);
  CHECK(json_equal_text(o, "{\"messaging_product\":\"whatsapp\",\"recipient_type\":\"individual\",\"biz_opaque_callback_data\":\"7\","
                           "\"to\":\"15550001\",\"type\":\"template\",\"template\":{\"name\":"
                           "\"order_update\",\"language\":{\"code\":\"en_US\"},\"components\":[{"
                           "\"type\":\"body\",\"parameters\":[{\"type\":\"text\",\"text\":\"1042\"},"
                           "{\"type\":\"text\",\"text\":\"shipped\"}]}]}}"),
        "a template: its name, language and body parameters");
  json_decref(o);
  o = prepared("whatsapp:+15550001", "Tonight's poster",
               "[\"https://cdn.example.com/poster.JPG?v=2\"]", url, sizeof url);
  CHECK(json_equal_text(o, "{\"messaging_product\":\"whatsapp\",\"recipient_type\":\"individual\",\"biz_opaque_callback_data\":\"7\","
                           "\"to\":\"15550001\",\"type\":\"image\",\"image\":{\"link\":"
                           "\"https://cdn.example.com/poster.JPG?v=2\",\"caption\":"
                           "\"Tonight's poster\"}}"),
        "a picture: an image by link, the text its caption");
  json_decref(o);
  o = prepared("whatsapp:+15550001", "The menu", "[\"https://cdn.example.com/menu.pdf\"]", url,
               sizeof url);
  CHECK(json_object_get(o, "document") != NULL, "a PDF: a document");
  json_decref(o);
  CHECK(prepared("+15550001", "hi", NULL, url, sizeof url) == NULL,
        "an SMS number is not sent on WhatsApp");
}

static send_result answered(long status, const char *body) {
  provider_config cfg = {.kind = "whatsapp"};
  send_result res = {0};
  provider_whatsapp.answer(&cfg, status, body, strlen(body), &res);
  return res;
}

#define META_ERROR(code, msg) \
  "{\"error\":{\"message\":\"" msg "\",\"type\":\"OAuthException\",\"code\":" #code \
  ",\"error_data\":{\"messaging_product\":\"whatsapp\",\"details\":\"d\"},\"fbtrace_id\":\"A\"}}"

static void answers_are_read_by_their_codes(void) {
  send_result r = answered(200, "{\"messaging_product\":\"whatsapp\",\"contacts\":[{\"input\":"
                                "\"15550001\",\"wa_id\":\"15550001\"}],\"messages\":[{\"id\":"
                                "\"wamid.HBgL\"}]}");
  CHECK(r.outcome == SEND_OK && strcmp(r.provider_id, "wamid.HBgL") == 0,
        "200: sent, its wamid the provider id");
  r = answered(200, "{}");
  CHECK(r.outcome == SEND_RETRY, "200 without a message id: tried again");
  r = answered(400, META_ERROR(131047, "Re-engagement message"));
  CHECK(r.outcome == SEND_FAILED && r.code == 131047 &&
            strcmp(r.reason, "WhatsApp 131047: Re-engagement message: d (HTTP 400)") == 0,
        "131047 (outside the window): failed, Meta's words in the reason");
  r = answered(400, META_ERROR(130429, "Rate limit hit"));
  CHECK(r.outcome == SEND_RETRY, "130429 (throughput): tried again");
  r = answered(400, META_ERROR(131056, "Pair rate limit hit"));
  CHECK(r.outcome == SEND_RETRY, "131056 (pair rate limit): tried again");
  r = answered(401, META_ERROR(190, "Invalid OAuth access token"));
  CHECK(r.outcome == SEND_PAUSE, "190 (the token): the bot's messages wait");
  r = answered(500, META_ERROR(2, "Service temporarily unavailable"));
  CHECK(r.outcome == SEND_RETRY, "2 (Meta's service): tried again");
  r = answered(400, META_ERROR(132001, "Template name does not exist in the translation"));
  CHECK(r.outcome == SEND_FAILED, "132001 (a template's): failed");
  r = answered(503, "<html>");
  CHECK(r.outcome == SEND_RETRY, "a 503 without Meta's body: tried again");
}

int main(void) {
  signatures_are_over_the_raw_bytes();
  the_handshake_answers_only_the_verify_token();
  a_delivery_reads_messages_and_statuses();
  requests_say_what_the_message_carries();
  answers_are_read_by_their_codes();
  return test_done();
}
