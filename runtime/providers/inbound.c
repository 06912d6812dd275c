/* inbound: what the providers' inbound code shares (provider_registry.h):
 * routes, the settings several providers read, the checks of received
 * fields, freeing what was read. Apart from
 * registry.c, which lists the providers, so that a provider's folder uses
 * this file without a circle through the table. */
#include <ctype.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "provider_registry.h"
#include "util.h"

const provider_setting provider_webhook_token = {
    "webhook_token", "PARLEY_WEBHOOK_TOKEN", NULL, 1, 1,
    "bearer token of the JSON webhook, and ?token= of the Kannel get-url and DLR URL"};

char *provider_route_bot(const provider_route *route, const char *path) {
  if (!route->prefix) return NULL;
  size_t n = strlen(route->prefix);
  if (strncmp(path, route->prefix, n) != 0) return NULL;
  const char *name = path + n;
  size_t len = strlen(name), sl = route->suffix ? strlen(route->suffix) : 0;
  if (sl) {
    if (len < sl || strcmp(name + len - sl, route->suffix) != 0) return NULL;
    len -= sl;
  }
  if (len == 0 || len > 64) return NULL;
  for (size_t i = 0; i < len; i++)
    if (!(isalnum((unsigned char)name[i]) || name[i] == '_' || name[i] == '-'))
      return NULL;
  return xstrndup(name, len);
}

void provider_message_free(provider_message *m) {
  free(m->from);
  free(m->to);
  free(m->text);
  free(m->provider_id);
  free(m->media_json);
  memset(m, 0, sizeof *m);
}

void provider_delivery_free(provider_delivery *d) {
  for (size_t i = 0; i < d->nmessages; i++) provider_message_free(&d->messages[i]);
  for (size_t i = 0; i < d->nreports; i++) provider_report_free(&d->reports[i]);
  free(d->messages);
  free(d->reports);
  memset(d, 0, sizeof *d);
}

void provider_report_free(provider_report *r) {
  free(r->provider_id);
  free(r->status);
  free(r->error);
  memset(r, 0, sizeof *r);
}

int inbound_sender_ok(const char *v) {
  size_t n = v ? strlen(v) : 0;
  if (n == 0 || n > 32) return 0;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)v[i] <= ' ' || (unsigned char)v[i] >= 0x7f) return 0;
  return 1;
}

int inbound_short_text_ok(const char *v, size_t max) {
  size_t n = v ? strlen(v) : 0;
  if (n == 0 || n > max || !utf8_valid(v, n)) return 0;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)v[i] < ' ' || v[i] == 0x7f) return 0;
  return 1;
}

int inbound_provider_id_ok(const char *v) {
  return inbound_short_text_ok(v, PROVIDER_ID_MAX);
}

const char *form_get(const form_param *p, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(p[i].name, name) == 0) return p[i].value;
  return NULL;
}

char *strdup_or_null(const char *v) {
  return v ? xstrdup(v) : NULL;
}

int secret_matches(const char *given, const char *want) {
  return want && *want && given && strlen(given) == strlen(want) &&
         CRYPTO_memcmp(given, want, strlen(want)) == 0;
}
