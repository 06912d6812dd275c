/* Unit tests for the Messenger and Instagram channels
 * (runtime/providers/messenger/): the webhook's events, the Send API's
 * requests and how its answers are read.
 *
 *   make build/test_messenger && ./build/test_messenger */
#include <jansson.h>

#include "fake_request.h"
#include "signature.h"
#include "test.h"

#define SECRET "page_app_secret"

extern const provider_registration messenger_registration;
extern const provider_ops provider_messenger;

static const char page_body[] =
    "{\"object\":\"page\",\"entry\":[{\"id\":\"555\",\"time\":1750000000000,\"messaging\":["
    "{\"sender\":{\"id\":\"1001\"},\"recipient\":{\"id\":\"555\"},\"timestamp\":1,"
    "\"message\":{\"mid\":\"m_1\",\"text\":\"hi \\u00e9\"}},"
    "{\"sender\":{\"id\":\"1001\"},\"recipient\":{\"id\":\"555\"},\"timestamp\":2,"
    "\"message\":{\"mid\":\"m_2\",\"text\":\"Track order\",\"quick_reply\":{\"payload\":\"track\"}}},"
    "{\"sender\":{\"id\":\"1002\"},\"recipient\":{\"id\":\"555\"},\"timestamp\":3,"
    "\"postback\":{\"mid\":\"m_3\",\"title\":\"Get started\",\"payload\":\"START_PAYLOAD\"}},"
    "{\"sender\":{\"id\":\"1002\"},\"recipient\":{\"id\":\"555\"},\"timestamp\":4,"
    "\"message\":{\"mid\":\"m_4\",\"attachments\":[{\"type\":\"image\",\"payload\":{\"url\":"
    "\"https:\\/\\/cdn.example\\/a.jpg\"}}]}},"
    "{\"sender\":{\"id\":\"555\"},\"recipient\":{\"id\":\"1001\"},\"timestamp\":5,"
    "\"message\":{\"mid\":\"m_5\",\"text\":\"echo\",\"is_echo\":true}},"
    "{\"sender\":{\"id\":\"1001\"},\"recipient\":{\"id\":\"555\"},\"timestamp\":6,"
    "\"delivery\":{\"mids\":[\"m_out1\",\"m_out2\"],\"watermark\":6}}]},"
    "{\"id\":\"999\",\"time\":1,\"messaging\":[{\"sender\":{\"id\":\"1009\"},\"recipient\":"
    "{\"id\":\"999\"},\"timestamp\":7,\"message\":{\"mid\":\"m_9\",\"text\":\"another page\"}}]}]}";

static void a_page_delivery_reads_messages_and_deliveries(void) {
  char sig[META_SIGNATURE_SIZE];
  meta_sign(SECRET, page_body, strlen(page_body), sig);
  fake f = {.headers = {{"X-Hub-Signature-256", sig}},
            .secrets = {{"messenger_app_secret", SECRET}, {"messenger_page_id", "555"}}};
  provider_request rq = request(&f, "shop", "messages", "http://x/messenger/shop", page_body);
  provider_delivery d = {0};
  provider_answer a = {0};
  CHECK(messenger_registration.read_delivery(&rq, &d, &a) == 0, "a signed delivery is read");
  CHECK_INT(d.nmessages, 4, "four messages: the echo and another page's are not");
  if (d.nmessages == 4) {
    CHECK(strcmp(d.messages[0].from, "messenger:1001") == 0 &&
              strcmp(d.messages[0].text, "hi \xc3\xa9") == 0 &&
              strcmp(d.messages[0].provider_id, "m_1") == 0 && !d.messages[0].media_json,
          "a text from messenger:PSID, its mid the provider id");
    CHECK(d.messages[1].media_json &&
              strcmp(d.messages[1].media_json,
                     "{\"choice\":{\"id\":\"track\",\"title\":\"Track order\"}}") == 0,
          "a quick reply: its payload is the choice's id");
    CHECK(strcmp(d.messages[2].text, "Get started") == 0 &&
              strstr(d.messages[2].media_json, "\"id\":\"START_PAYLOAD\""),
          "a postback: its title the text, its payload the choice's id");
    CHECK(strcmp(d.messages[3].text, "") == 0 &&
              strstr(d.messages[3].media_json, "\"url\":\"https://cdn.example/a.jpg\""),
          "an attachment: in the media, with its URL");
  }
  CHECK(d.nreports == 2 && strcmp(d.reports[0].provider_id, "m_out1") == 0 &&
            strcmp(d.reports[1].status, "delivered") == 0,
        "a delivery event: each mid delivered");
  provider_delivery_free(&d);

  char *ig = xstrdup(page_body);
  memcpy(strstr(ig, "\"page\""), "\"xxxx\"", 6);
  rq = request(&f, "shop", "messages", "http://x/messenger/shop", ig);
  meta_sign(SECRET, ig, strlen(ig), sig);
  CHECK(messenger_registration.read_delivery(&rq, &d, &a) == -1 && a.status == 400,
        "another object: 400");
  provider_delivery_free(&d);
  free(ig);

  static const char insta[] =
      "{\"object\":\"instagram\",\"entry\":[{\"id\":\"17841400000000000\",\"time\":1,\"messaging\":"
      "[{\"sender\":{\"id\":\"2002\"},\"recipient\":{\"id\":\"17841400000000000\"},\"timestamp\":1,"
      "\"message\":{\"mid\":\"aWdfZAG\",\"text\":\"hey\"}}]}]}";
  meta_sign(SECRET, insta, strlen(insta), sig);
  rq = request(&f, "shop", "messages", "http://x/messenger/shop", insta);
  CHECK(messenger_registration.read_delivery(&rq, &d, &a) == 0 && d.nmessages == 1 &&
            strcmp(d.messages[0].from, "instagram:2002") == 0,
        "Instagram's messages come from instagram:IGSID");
  provider_delivery_free(&d);

  f.headers[0][1] = "sha256=00";
  rq = request(&f, "shop", "messages", "http://x/messenger/shop", page_body);
  CHECK(messenger_registration.read_delivery(&rq, &d, &a) == -1 && a.status == 403 &&
            d.nmessages == 0 && strstr(f.log, "messenger signature shop"),
        "a wrong signature: 403, nothing read, logged");
  provider_delivery_free(&d);
}

static json_t *prepared(const char *to, const char *text, const char *content, char *url,
                        size_t n) {
  provider_config cfg = {.kind = "messenger", .url = "http://fake/v21.0", .sender_id = "555",
                         .auth_token = "PAGE"};
  outgoing m = {.id = 7, .from = "messenger:", .to = to, .text = text, .media = content,
                .attempt = 1};
  http_request req = {0};
  send_result res = {0};
  if (provider_messenger.prepare(&cfg, &m, &req, &res) != 0) return NULL;
  snprintf(url, n, "%s %s|%s", req.method, req.url, req.headers[0]);
  json_t *o = json_loadb(req.body.data, req.body.len, 0, NULL);
  http_request_free(&req);
  return o;
}

static void the_send_api_is_called_as_documented(void) {
  char url[256];
  json_t *o = prepared("messenger:1001", "hi", NULL, url, sizeof url);
  CHECK_STR(url, "POST http://fake/v21.0/me/messages|Authorization: Bearer PAGE",
            "POST /me/messages with the page token");
  CHECK(json_equal_text(o, "{\"recipient\":{\"id\":\"1001\"},\"messaging_type\":\"RESPONSE\","
                     "\"message\":{\"text\":\"hi\"}}"),
        "a reply: RESPONSE");
  json_decref(o);
  o = prepared("instagram:2002", "Pick", "{\"buttons\":[{\"id\":\"a\",\"title\":\"Yes\"}],"
               "\"tag\":\"POST_PURCHASE_UPDATE\"}", url, sizeof url);
  CHECK(json_equal_text(o, "{\"recipient\":{\"id\":\"2002\"},\"messaging_type\":\"MESSAGE_TAG\","
                     "\"tag\":\"POST_PURCHASE_UPDATE\",\"message\":{\"text\":\"Pick\","
                     "\"quick_replies\":[{\"content_type\":\"text\",\"title\":\"Yes\","
                     "\"payload\":\"a\"}]}}"),
        "buttons are quick replies; a tag makes it MESSAGE_TAG");
  json_decref(o);
  o = prepared("messenger:1001", "https://cdn.example/poster.PNG?v=1",
               "{\"media\":[\"https://cdn.example/poster.PNG?v=1\"]}", url, sizeof url);
  CHECK(json_equal_text(o, "{\"recipient\":{\"id\":\"1001\"},\"messaging_type\":\"RESPONSE\","
                           "\"message\":{\"attachment\":{\"type\":\"image\",\"payload\":{"
                           "\"url\":\"https://cdn.example/poster.PNG?v=1\",\"is_reusable\":true}}}}"),
        "a media message: an attachment by URL, its type by the extension");
  json_decref(o);
  o = prepared("messenger:1001", "https://cdn.example/menu.pdf", "[\"https://cdn.example/menu.pdf\"]",
               url, sizeof url);
  CHECK(o && strcmp(json_string_value(json_object_get(json_object_get(json_object_get(
                        o, "message"), "attachment"), "type")), "file") == 0,
        "a PDF: a file");
  json_decref(o);
  CHECK(prepared("whatsapp:+15550001", "hi", NULL, url, sizeof url) == NULL,
        "a WhatsApp address is not sent on Messenger");
}

static send_result answered(long status, const char *body) {
  provider_config cfg = {.kind = "messenger"};
  send_result res = {0};
  provider_messenger.answer(&cfg, status, body, strlen(body), &res);
  return res;
}

static void answers_are_read_by_their_codes(void) {
  send_result r = answered(200, "{\"recipient_id\":\"1001\",\"message_id\":\"m_AbC\"}");
  CHECK(r.outcome == SEND_OK && strcmp(r.provider_id, "m_AbC") == 0, "200: its message id");
  r = answered(400, "{\"error\":{\"message\":\"(#10) This message is sent outside of allowed "
                    "window.\",\"type\":\"OAuthException\",\"code\":10,\"error_subcode\":"
                    "2018278,\"fbtrace_id\":\"A\"}}");
  CHECK(r.outcome == SEND_FAILED &&
            strcmp(r.reason, "Messenger 10/2018278: (#10) This message is sent outside of "
                             "allowed window. (HTTP 400)") == 0,
        "10/2018278 (outside the window): failed, with Meta's words");
  r = answered(400, "{\"error\":{\"message\":\"(#613) Calls to this api have exceeded the rate "
                    "limit.\",\"code\":613}}");
  CHECK(r.outcome == SEND_RETRY && strcmp(r.reason, "Messenger 613: (#613) Calls to this api "
                                                    "have exceeded the rate limit. (HTTP 400)") == 0,
        "613 (rate limit): tried again");
  r = answered(400, "{\"error\":{\"message\":\"Invalid OAuth access token.\",\"code\":190}}");
  CHECK(r.outcome == SEND_PAUSE, "190: the bot's messages wait");
  r = answered(400, "{\"error\":{\"message\":\"This person isn't available right now.\","
                    "\"code\":551,\"error_subcode\":1545041}}");
  CHECK(r.outcome == SEND_FAILED, "551: failed");
  r = answered(400, "{\"error\":{\"message\":\"(#10) This person isn't receiving messages from "
                    "you right now.\",\"code\":10,\"error_subcode\":2018108}}");
  CHECK(r.outcome == SEND_FAILED, "10 with a subcode (this person): failed, the channel goes on");
  r = answered(400, "{\"error\":{\"message\":\"(#200) This person isn't available\","
                    "\"code\":200,\"error_subcode\":1545041}}");
  CHECK(r.outcome == SEND_FAILED, "200 with a subcode (this person): failed");
  r = answered(403, "{\"error\":{\"message\":\"(#10) Application does not have permission\","
                    "\"code\":10}}");
  CHECK(r.outcome == SEND_PAUSE, "10 without a subcode (the app's permission): the channel waits");
}

int main(void) {
  a_page_delivery_reads_messages_and_deliveries();
  the_send_api_is_called_as_documented();
  answers_are_read_by_their_codes();
  return test_done();
}
