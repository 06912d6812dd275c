/* kannel: smsbox's sendsms HTTP interface.
 *
 *   GET {url}?username=..&password=..&from=..&to=..&text=..&charset=UTF-8
 *       &coding=0 (GSM-7) or 2 (UCS-2, for text GSM-7 cannot carry)
 *       &dlr-mask=31&dlr-url=<the bot's status URL>?m=<id>&type=%d
 *
 * 202 "0: Accepted for delivery" or "3: Queued for later delivery" mean it
 * is Kannel's now; Kannel gives no id, so delivery reports find the message
 * by the m= we put in their URL. Kannel does not deduplicate either: a
 * retry after a lost answer can deliver twice (docs/providers.md). */
#include <stdio.h>
#include <string.h>

#include "gsm.h"
#include "provider.h"

enum { DLR_ALL = 1 | 2 | 4 | 8 | 16 }; /* delivered, failed, buffered, submitted, rejected */

static const char *check(const provider_config *cfg) {
  if (!cfg->url || !*cfg->url) return "kannel needs kannel_url (smsbox's /cgi-bin/sendsms)";
  if (!cfg->username || !*cfg->username) return "kannel needs kannel_username";
  return NULL;
}

static void add_media_line(void *ud, const char *url) {
  buf_puts(ud, "\n");
  buf_puts(ud, url);
}

static int prepare(const provider_config *cfg, const outgoing *m, http_request *req,
                   send_result *res) {
  (void)res;
  buf q = {0};
  form_add(&q, "username", cfg->username);
  form_add(&q, "password", cfg->password ? cfg->password : "");
  if (*m->from) form_add(&q, "from", m->from);
  form_add(&q, "to", m->to);
  /* SMS has no pictures: their URLs go on lines after the text */
  buf text = {0};
  buf_puts(&text, m->text);
  each_media(m->media, add_media_line, &text);
  form_add(&q, "text", text.data);
  form_add(&q, "charset", "UTF-8");
  gsm_count count = gsm_count_text(text.data, text.len);
  buf_free(&text);
  form_add(&q, "coding", count.encoding == GSM_ENCODING_UCS2 ? "2" : "0");
  if (cfg->status_url && *cfg->status_url) {
    buf dlr = {0};
    buf_puts(&dlr, cfg->status_url);
    buf_puts(&dlr, strchr(cfg->status_url, '?') ? "&" : "?");
    if (cfg->webhook_token && *cfg->webhook_token) {
      buf token = {0};
      form_add(&token, "token", cfg->webhook_token);
      buf_add(&dlr, token.data, token.len);
      buf_puts(&dlr, "&");
      buf_free(&token);
    }
    buf_printf(&dlr, "m=%lld&type=%%d", (long long)m->id);
    char mask[16];
    snprintf(mask, sizeof mask, "%d", DLR_ALL);
    form_add(&q, "dlr-mask", mask);
    form_add(&q, "dlr-url", dlr.data);
    buf_free(&dlr);
  }
  req->method = "GET";
  req->url = xasprintf("%s%c%.*s", cfg->url, strchr(cfg->url, '?') ? '&' : '?', (int)q.len,
                       q.data);
  buf_free(&q);
  return 0;
}

static void answer(const provider_config *cfg, long status, const char *body, size_t len,
                   send_result *res) {
  (void)cfg;
  answer_by_status(status, res);
  if (res->outcome != SEND_OK) {
    size_t n = len;
    while (n && (body[n - 1] == '\n' || body[n - 1] == '\r')) n--;
    send_reason(res, "Kannel: %.*s (HTTP %ld)", (int)(n > 200 ? 200 : n), n ? body : "",
                status);
  }
}

const provider_ops provider_kannel = {"kannel", check, prepare, answer};
