/* webhook: any HTTP endpoint of the bot owner's that takes JSON.
 *
 *   POST {url}
 *   Content-Type: application/json
 *   Idempotency-Key: parley-<our id>      (the same on every retry)
 *   X-Parley-Timestamp: <seconds>
 *   X-Parley-Signature: sha256=<HMAC-SHA256(secret, timestamp + "." + body)>
 *   {"id":"<our id>","from":"+15550100","to":"+15550001","text":"...",
 *    "status_url":"...","media":["https://..."]}
 *
 * A 2xx takes the message (a JSON answer's "id", if any, is the provider
 * id); 408, 425, 429 and 5xx are retried; other statuses fail it. The
 * signature is the one parley checks on inbound JSON (webhook_auth.h), so a
 * receiver verifies both directions with one function. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "provider.h"
#include "webhook_auth.h"

static const char *check(const provider_config *cfg) {
  if (!cfg->url || !*cfg->url) return "webhook needs webhook_url";
  if (!cfg->secret || !*cfg->secret)
    return "webhook needs its signing secret (PARLEY_WEBHOOK_SEND_SECRET)";
  return NULL;
}

static int prepare(const provider_config *cfg, const outgoing *m, http_request *req,
                   send_result *res) {
  char id[32];
  snprintf(id, sizeof id, "%lld", (long long)m->id);
  json_t *doc = json_pack("{s:s, s:s, s:s, s:s}", "id", id, "from", m->from, "to", m->to,
                          "text", m->text);
  if (!doc) { /* only text that is not UTF-8 does this, which handlers cannot send */
    res->outcome = SEND_FAILED;
    send_reason(res, "the message is not valid UTF-8");
    return -1;
  }
  if (cfg->status_url && *cfg->status_url)
    json_object_set_new(doc, "status_url", json_string(cfg->status_url));
  json_t *media = m->media ? json_loads(m->media, 0, NULL) : NULL;
  if (json_is_array(media)) json_object_set(doc, "media", media);
  json_decref(media);
  char *body = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  req->method = "POST";
  req->url = xstrdup(cfg->url);
  buf_puts(&req->body, body);
  char ts[32], sig[WEBHOOK_SIGNATURE_SIZE];
  snprintf(ts, sizeof ts, "%lld", (long long)time(NULL));
  webhook_sign(cfg->secret, ts, body, strlen(body), sig);
  free(body);
  http_request_header(req, "Content-Type: application/json");
  http_request_header(req, "Idempotency-Key: parley-%s", id);
  http_request_header(req, "X-Parley-Timestamp: %s", ts);
  http_request_header(req, "X-Parley-Signature: %s", sig);
  return 0;
}

static void answer(const provider_config *cfg, long status, const char *body, size_t len,
                   send_result *res) {
  (void)cfg;
  json_decref(answer_json(status, body, len, "id", res));
}

const provider_ops provider_webhook = {"webhook", check, prepare, answer};
