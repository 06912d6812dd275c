/* Unit tests for runtime/providers/provider_registry.h: the table of
 * providers, and what each registration reads of a request and answers,
 * through a provider_request made here (no HTTP server).
 *
 *   make build/test_provider_registry && ./build/test_provider_registry */
#include "provider_registry.h"
#include "fake_request.h"
#include "test.h"
#include "twilio_webhook.h"

/* ---------------------------------------------------------------- the table */

static void the_table_lists_each_provider_once(void) {
  const char *names[] = {"sim", "twilio", "kannel", "webhook"};
  for (size_t i = 0; i < 4; i++) {
    const provider_registration *p = provider_registration_find(names[i]);
    CHECK(p && strcmp(p->name, names[i]) == 0 && p->ops &&
              strcmp(p->ops->kind, names[i]) == 0,
          "%s is registered, with its sending", names[i]);
    CHECK(provider_find(names[i]) == (p ? p->ops : NULL),
          "provider_find(%s) is its sending", names[i]);
  }
  CHECK(provider_registration_find("nexmo") == NULL, "an unknown name is not found");
  CHECK(provider_registration_find(NULL) == NULL, "NULL is not found");
  CHECK_STR(provider_names_problem(), "provider must be sim, twilio, kannel or webhook",
            "the problem names every provider");
  size_t n = 0, sms = 0;
  for (; provider_registrations[n]; n++) {
    const provider_registration *p = provider_registrations[n];
    int routed = p->messages.prefix || p->unrouted || p->reports.prefix;
    if (p->channel == CHANNEL_SMS) {
      sms++;
      CHECK(!routed || (p->read_message && p->read_to && p->check_unrouted &&
                        p->read_report && p->reply && p->refused_early && p->log_name),
            "%s: an SMS provider with routes reads and answers them", p->name);
    } else {
      /* another channel's: one webhook delivers its messages and reports
       * (Instagram's comes on Messenger's) */
      CHECK((!routed || (p->read_delivery && p->refused_early && p->verify && p->takes_get)) &&
                p->log_name && !p->reply && p->configure,
            "%s: a channel's webhook reads deliveries and answers nothing inline", p->name);
      CHECK(provider_sms_find(p->name) == NULL, "%s is not a value of `provider`", p->name);
    }
  }
  CHECK_INT(sms, 4, "four SMS providers");
  CHECK(provider_registration_find("whatsapp") &&
            provider_registration_find("whatsapp")->channel == CHANNEL_WHATSAPP,
        "the WhatsApp channel is registered");
}

static void routes_name_the_bot(void) {
  const provider_route twilio = {"/twilio/", NULL}, json = {"/v1/bots/", "/status"};
  char *b = provider_route_bot(&twilio, "/twilio/fan-club_2");
  CHECK_STR(b, "fan-club_2", "prefix NAME");
  free(b);
  b = provider_route_bot(&json, "/v1/bots/shop/status");
  CHECK_STR(b, "shop", "prefix NAME suffix");
  free(b);
  CHECK(provider_route_bot(&twilio, "/twilio/status/fanclub") == NULL,
        "a '/' is not in a bot's name: /twilio/status/x is not /twilio/BOT");
  CHECK(provider_route_bot(&twilio, "/twilio/") == NULL, "an empty name is none");
  CHECK(provider_route_bot(&json, "/v1/bots/shop/messages") == NULL, "another suffix");
  const provider_route none = {NULL, NULL};
  CHECK(provider_route_bot(&none, "/twilio/x") == NULL, "no route");
}

/* ---------------------------------------------------------------- twilio */

#define TOKEN "12345"
#define URL "https://bots.example.com/twilio/fanclub"

static void twilio_reads_a_signed_message(void) {
  const provider_registration *p = provider_registration_find("twilio");
  const char *body =
      "From=%2B15550001&To=%2B15550100&Body=hi&MessageSid=SM1&NumMedia=1"
      "&MediaUrl0=https%3A%2F%2Fm.example%2F1.jpg";
  form_param *fp;
  size_t n;
  CHECK_INT(form_decode(body, strlen(body), &fp, &n), 0, "the body decodes");
  char sig[TWILIO_SIGNATURE_SIZE];
  twilio_signature(TOKEN, URL, fp, n, sig, sizeof sig);
  form_free(fp, n);
  fake f = {.headers = {{"X-Twilio-Signature", sig}},
            .secrets = {{"twilio_auth_token", TOKEN}}};
  provider_request rq = request(&f, "fanclub", "messages", URL, body);
  provider_message m = {0};
  provider_answer a = {0};
  CHECK_INT(p->read_message(&rq, &m, &a), 0, "a signed message is read");
  CHECK_STR(m.from, "+15550001", "From");
  CHECK_STR(m.to, "+15550100", "To");
  CHECK_STR(m.text, "hi", "Body");
  CHECK_STR(m.provider_id, "SM1", "MessageSid");
  CHECK_STR(m.media_json, "[\"https://m.example/1.jpg\"]", "MediaUrl0");
  provider_message_free(&m);

  rq.url = "https://bots.example.com/twilio/other";
  CHECK_INT(p->read_message(&rq, &m, &a), -1, "signed for another URL: refused");
  CHECK_INT(a.status, 403, "403");
  CHECK_STR(a.error, "X-Twilio-Signature does not match this request", "the sentence");
  CHECK_STR(f.log, "twilio signature fanclub messages", "logged as rejected");

  fake none = {.secrets = {{"twilio_auth_token", TOKEN}}};
  rq = request(&none, NULL, "messages", URL, "");
  CHECK_INT(p->refused_early(&rq, &a), -1,
            "without a signature: refused before the body");
  CHECK_STR(none.log, "twilio missing - messages", "logged as missing");
}

static void twilio_reads_a_status_callback(void) {
  const provider_registration *p = provider_registration_find("twilio");
  const char *url = "https://bots.example.com/twilio/status/fanclub?m=42";
  const char *body = "MessageSid=SM9&MessageStatus=undelivered&ErrorCode=30003";
  form_param *fp;
  size_t n;
  form_decode(body, strlen(body), &fp, &n);
  char sig[TWILIO_SIGNATURE_SIZE];
  twilio_signature(TOKEN, url, fp, n, sig, sizeof sig);
  form_free(fp, n);
  fake f = {.headers = {{"X-Twilio-Signature", sig}},
            .query = {{"m", "42"}},
            .secrets = {{"twilio_auth_token", TOKEN}}};
  provider_request rq = request(&f, "fanclub", "status", url, body);
  provider_report r = {0};
  provider_answer a = {0};
  CHECK_INT(p->read_report(&rq, &r, &a), 0, "a signed status callback is read");
  CHECK_INT(r.message_id, 42, "?m=");
  CHECK_STR(r.provider_id, "SM9", "MessageSid");
  CHECK_STR(r.status, "undelivered", "MessageStatus");
  CHECK_STR(r.error, "30003", "ErrorCode");
  provider_report_free(&r);
}

/* ---------------------------------------------------------------- kannel */

static void kannel_reads_the_get_url_and_answers_text(void) {
  const provider_registration *p = provider_registration_find("kannel");
  fake f = {.query = {{"token", "tok"},
                      {"from", "+15550001"},
                      {"text", "hi"},
                      {"to", "+1555"}},
            .secrets = {{"webhook_token", "tok"}}};
  provider_request rq = request(&f, "shop", "messages", "", "");
  provider_message m = {0};
  provider_answer a = {0};
  CHECK_INT(p->read_message(&rq, &m, &a), 0, "the get-url's query is read");
  CHECK_STR(m.from, "+15550001", "from");
  CHECK_STR(m.text, "hi", "text");
  provider_message_free(&m);
  f.query[0][1] = "wrong";
  CHECK_INT(p->read_message(&rq, &m, &a), -1, "a wrong token is refused");
  CHECK_INT(a.status, 403, "403");
  CHECK_STR(f.log, "kannel token shop messages", "logged as rejected");
  CHECK_INT(p->inline_max, 1, "a Kannel answer carries one reply");

  provider_reply out = {0};
  const char *texts[] = {"caf\xC3\xA9 \xE2\x98\x95", "second"};
  p->reply(texts, 2, &out);
  CHECK_STR(out.body, texts[0], "the first reply is the body");
  CHECK_STR(out.header_name, "X-Kannel-Coding", "text GSM-7 cannot carry: UCS-2");
  free(out.body);
  out = (provider_reply){0};
  p->reply(texts, 0, &out);
  CHECK_STR(out.body, "", "no reply: an empty body");
  CHECK(out.header_name == NULL, "no coding header");
  free(out.body);
}

/* ---------------------------------------------------------------- webhook */

static void webhook_reads_json_with_a_bearer_token(void) {
  const provider_registration *p = provider_registration_find("webhook");
  fake f = {.headers = {{"Authorization", "Bearer tok"},
                        {"Content-Type", "application/json"}},
            .secrets = {{"webhook_token", "tok"}}};
  provider_request rq = request(&f, "shop", "messages", "",
                                "{\"from\":\"+15550001\",\"text\":\"hi\",\"id\":7}");
  provider_message m = {0};
  provider_answer a = {0};
  CHECK_INT(p->read_message(&rq, &m, &a), 0, "a JSON message is read");
  CHECK_STR(m.provider_id, "7", "an integer id as text");
  provider_message_free(&m);
  f.headers[1][1] = "text/plain";
  CHECK_INT(p->read_message(&rq, &m, &a), -1, "not declared JSON");
  CHECK_INT(a.status, 415, "415");
  provider_reply out = {0};
  const char *texts[] = {"a", "b"};
  p->reply(texts, 2, &out);
  CHECK_STR(out.body, "{\"status\":\"accepted\",\"replies\":[\"a\",\"b\"]}",
            "the JSON answer");
  free(out.body);
}

/* ---------------------------------------------------------------- settings and events */

/* The declaration of key among p's own or shared settings, or NULL. */
static const provider_setting *declared(const provider_registration *p, const char *key) {
  for (const provider_setting *s = p->settings; s && s->key; s++)
    if (strcmp(s->key, key) == 0) return s;
  for (const provider_setting *const *s = p->shared_settings; s && *s; s++)
    if (strcmp((*s)->key, key) == 0) return *s;
  return NULL;
}

static void each_provider_declares_its_secrets(void) {
  const provider_registration *twilio = provider_registration_find("twilio"),
                              *kannel = provider_registration_find("kannel"),
                              *webhook = provider_registration_find("webhook");
  const provider_setting *s = declared(twilio, "twilio_auth_token");
  CHECK(s && s->secret && s->per_bot && strcmp(s->env, "PARLEY_TWILIO_AUTH_TOKEN") == 0,
        "twilio declares twilio_auth_token, a per-bot secret");
  s = declared(webhook, "webhook_secret");
  CHECK(s && s->secret && s->per_bot && strcmp(s->env, "PARLEY_WEBHOOK_SECRET") == 0,
        "webhook declares webhook_secret, a per-bot secret");
  CHECK(declared(kannel, "webhook_token") == &provider_webhook_token &&
            declared(webhook, "webhook_token") == &provider_webhook_token,
        "kannel and webhook name the one shared webhook_token");
  CHECK(provider_webhook_token.secret && provider_webhook_token.per_bot &&
            strcmp(provider_webhook_token.env, "PARLEY_WEBHOOK_TOKEN") == 0,
        "webhook_token is a per-bot secret");
  CHECK(declared(provider_registration_find("sim"), "webhook_token") == NULL,
        "sim reads no credential");
  int events = 0;
  for (size_t i = 0; provider_registrations[i]; i++) {
    const provider_registration *p = provider_registrations[i];
    events += p->events_authentic != NULL;
    CHECK(!p->events_refused_early || p->events_authentic,
          "%s: an early check of the events goes with the full one", p->name);
    CHECK(p->messages.prefix == NULL || p->messages_help != NULL,
          "%s: its messages route has a line of --help", p->name);
  }
  CHECK_INT(events, 1, "one registration checks the events' credentials");
}

static void events_are_checked_by_the_registry(void) {
  fake f = {.headers = {{"Authorization", "Bearer tok"},
                        {"Content-Type", "application/json"}},
            .secrets = {{"webhook_token", "tok"}}};
  const char *body = "{\"type\":\"order.paid\",\"contact\":\"+15550001\"}";
  provider_request rq = request(&f, "shop", "events", "", body);
  provider_answer a = {0};
  CHECK_INT(provider_events_refused_early(&rq, &a), 0, "the bot's token: not refused early");
  CHECK_INT(provider_events_authentic(&rq, &a), 0, "the bot's token, JSON: authentic");
  f.headers[1][1] = "text/plain";
  CHECK_INT(provider_events_authentic(&rq, &a), -1, "not declared JSON");
  CHECK_INT(a.status, 415, "415");
  f.headers[1][1] = "application/json";
  f.headers[0][1] = "Bearer other";
  CHECK_INT(provider_events_refused_early(&rq, &a), -1, "another token: refused early");
  CHECK_INT(a.status, 403, "403");
  CHECK_STR(f.log, "json token shop events", "logged as rejected, naming the endpoint");
  CHECK_INT(provider_events_authentic(&rq, &a), -1, "and refused with the body");
  f.headers[0][0] = NULL;
  CHECK_INT(provider_events_refused_early(&rq, &a), -1, "no credential: refused early");
  CHECK_INT(a.status, 401, "401");
}

int main(void) {
  the_table_lists_each_provider_once();
  routes_name_the_bot();
  each_provider_declares_its_secrets();
  events_are_checked_by_the_registry();
  twilio_reads_a_signed_message();
  twilio_reads_a_status_callback();
  kannel_reads_the_get_url_and_answers_text();
  webhook_reads_json_with_a_bearer_token();
  return test_done();
}
