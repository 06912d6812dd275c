#include "provider.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void http_request_free(http_request *r) {
  free(r->url);
  buf_free(&r->body);
  for (int i = 0; i < r->nheaders; i++) free(r->headers[i]);
  memset(r, 0, sizeof *r);
}

void http_request_header(http_request *r, const char *fmt, ...) {
  if (r->nheaders == (int)(sizeof r->headers / sizeof *r->headers)) return;
  va_list ap;
  va_start(ap, fmt);
  char *h = NULL;
  if (vasprintf(&h, fmt, ap) < 0) h = NULL;
  va_end(ap);
  if (h) r->headers[r->nheaders++] = h;
}

static void form_escape(buf *b, const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
        *p == '-' || *p == '.' || *p == '_' || *p == '*') {
      buf_add(b, (const char *)p, 1);
    } else if (*p == ' ') {
      buf_add(b, "+", 1);
    } else {
      char esc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
      buf_add(b, esc, 3);
    }
  }
}

void form_add(buf *b, const char *name, const char *value) {
  if (b->len) buf_add(b, "&", 1);
  form_escape(b, name);
  buf_add(b, "=", 1);
  form_escape(b, value ? value : "");
}

void each_media(const char *media_json, void (*fn)(void *ud, const char *url), void *ud) {
  if (!media_json) return;
  json_t *doc = json_loads(media_json, 0, NULL);
  json_t *list = json_is_object(doc) ? json_object_get(doc, "media") : doc;
  size_t i;
  json_t *u;
  json_array_foreach(list, i, u) if (json_is_string(u)) fn(ud, json_string_value(u));
  json_decref(doc);
}

char *basic_auth(const char *user, const char *password) {
  char *plain = xasprintf("%s:%s", user ? user : "", password ? password : "");
  size_t n = strlen(plain);
  char *out = xmalloc(6 + 4 * ((n + 2) / 3) + 1);
  memcpy(out, "Basic ", 6);
  EVP_EncodeBlock((unsigned char *)out + 6, (const unsigned char *)plain, (int)n);
  free(plain);
  return out;
}

void send_reason(send_result *res, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(res->reason, sizeof res->reason, fmt, ap);
  va_end(ap);
}

json_t *answer_json(long status, const char *body, size_t len, const char *id_key,
                    send_result *res) {
  answer_by_status(status, res);
  json_t *doc = json_loadb(body, len, 0, NULL);
  const char *id = json_string_value(json_object_get(doc, id_key));
  if (res->outcome == SEND_OK && id)
    snprintf(res->provider_id, sizeof res->provider_id, "%s", id);
  return doc;
}

const char *type_by_extension(const char *url, const ext_type *types, size_t n,
                              const char *otherwise) {
  const char *end = url + strcspn(url, "?#"), *dot = NULL;
  for (const char *p = url; p < end; p++)
    if (*p == '.') dot = p;
    else if (*p == '/') dot = NULL;
  for (size_t i = 0; dot && i < n; i++) {
    size_t len = strlen(types[i].ext);
    if ((size_t)(end - dot) == len && strncasecmp(dot, types[i].ext, len) == 0)
      return types[i].type;
  }
  return otherwise;
}

int graph_error_of(json_t *doc, graph_error *e) {
  json_t *err = json_object_get(doc, "error");
  if (!json_is_object(err)) return 0;
  const char *message = json_string_value(json_object_get(err, "message"));
  *e = (graph_error){
      .code = json_integer_value(json_object_get(err, "code")),
      .subcode = json_integer_value(json_object_get(err, "error_subcode")),
      .message = message ? message : "no message",
      .details = json_string_value(json_object_get(json_object_get(err, "error_data"), "details"))};
  return 1;
}

void answer_by_status(long status, send_result *res) {
  if (status >= 200 && status < 300) {
    res->outcome = SEND_OK;
  } else if (status == 408 || status == 425 || status == 429 || status >= 500) {
    res->outcome = SEND_RETRY;
    send_reason(res, "HTTP %ld", status);
  } else if (status == 401 || status == 403) {
    res->outcome = SEND_PAUSE;
    send_reason(res, "HTTP %ld: the provider refused the account's credentials", status);
  } else {
    res->outcome = SEND_FAILED;
    send_reason(res, "HTTP %ld", status);
  }
}
