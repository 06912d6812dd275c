#include "http_mock.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

typedef struct mock {
  char *method, *url; /* url: a prefix when prefix is set (the * dropped) */
  int prefix;
  long status;        /* 0: no response, error says why */
  char *error, *body, *content_type;
} mock;

typedef struct queued {
  uint64_t id;
  engine_http_request r; /* strings owned */
} queued;

struct http_mocks {
  mock *v;
  size_t n;
  queued *q;
  size_t nq, capq;
  http_logged *log;
  size_t nlog;
  http_fallback fallback;
  void *fallback_ud;
  char *unmatched;
};

http_mocks *http_mocks_new(void) { return xcalloc(1, sizeof(http_mocks)); }

static void queued_free(queued *q) {
  free((char *)q->r.bot);
  free((char *)q->r.method);
  free((char *)q->r.url);
  free((char *)q->r.body);
  free((char *)q->r.headers_json);
}

void http_mocks_free(http_mocks *m) {
  if (!m) return;
  for (size_t i = 0; i < m->n; i++) {
    free(m->v[i].method);
    free(m->v[i].url);
    free(m->v[i].error);
    free(m->v[i].body);
    free(m->v[i].content_type);
  }
  free(m->v);
  for (size_t i = 0; i < m->nq; i++) queued_free(&m->q[i]);
  free(m->q);
  for (size_t i = 0; i < m->nlog; i++) {
    free(m->log[i].method);
    free(m->log[i].url);
    free(m->log[i].body);
    free(m->log[i].headers_json);
  }
  free(m->log);
  free(m->unmatched);
  free(m);
}

/* "\n" is a newline, "\\" a backslash */
static char *unescape_body(const char *s) {
  char *out = xmalloc(strlen(s) + 1), *o = out;
  for (; *s; s++) {
    if (s[0] == '\\' && s[1] == 'n') *o++ = '\n', s++;
    else if (s[0] == '\\' && s[1] == '\\') *o++ = '\\', s++;
    else *o++ = *s;
  }
  *o = 0;
  return out;
}

/* A JSON object or array. A body of more than 1 MiB (a test of the
 * runtime's limits) is judged by its first and last characters: parsing it
 * here would take more memory than the runtime under test. */
static int looks_like_json(const char *body) {
  size_t len = strlen(body);
  if (len > 1024 * 1024) {
    while (len > 0 && isspace((unsigned char)body[len - 1])) len--;
    while (len > 0 && isspace((unsigned char)*body)) body++, len--;
    return len >= 2 && ((body[0] == '[' && body[len - 1] == ']') ||
                        (body[0] == '{' && body[len - 1] == '}'));
  }
  json_t *j = json_loads(body, JSON_DECODE_ANY, NULL);
  int is = json_is_object(j) || json_is_array(j);
  json_decref(j);
  return is;
}

int http_mocks_add(http_mocks *m, const char *spec, char *err, size_t errlen) {
  static const char usage[] = "write it as METHOD URL -> STATUS [BODY], like "
                              "GET https://api.example.com/x -> 200 {\"ok\": true}, or "
                              "-> timeout, or -> error TEXT";
  char method[16], url[2048];
  int used = 0;
  if (sscanf(spec, "%15s %2047s -> %n", method, url, &used) < 2 || used == 0) {
    snprintf(err, errlen, "%s", usage);
    return -1;
  }
  if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0) {
    snprintf(err, errlen, "'%s' is not GET or POST; %s", method, usage);
    return -1;
  }
  const char *rest = spec + used;
  mock k = {.method = xstrdup(method)};
  size_t ul = strlen(url);
  k.prefix = ul > 0 && url[ul - 1] == '*';
  k.url = xstrndup(url, ul - (size_t)k.prefix);
  if (strcmp(rest, "timeout") == 0) {
    k.error = xstrdup("timed out");
  } else if (strncmp(rest, "error ", 6) == 0 && rest[6]) {
    k.error = xstrdup(rest + 6);
  } else {
    char *end;
    long status = strtol(rest, &end, 10);
    if (end == rest || status < 100 || status > 599 || (*end && *end != ' ')) {
      snprintf(err, errlen, "'%s' is not a status from 100 to 599; %s", rest, usage);
      free(k.method);
      free(k.url);
      return -1;
    }
    k.status = status;
    while (*end == ' ') end++;
    k.body = unescape_body(end);
    k.content_type = xstrdup(looks_like_json(k.body) ? "application/json" : "text/plain");
  }
  m->v = xrealloc(m->v, (m->n + 1) * sizeof *m->v);
  m->v[m->n++] = k;
  return 0;
}

static char *dup_or_null(const char *s) { return s ? xstrdup(s) : NULL; }

void http_mocks_start(void *ud, const engine_http_request *r) {
  http_mocks *m = ud;
  if (m->nq == m->capq) {
    m->capq = m->capq ? m->capq * 2 : 8;
    m->q = xrealloc(m->q, m->capq * sizeof *m->q);
  }
  queued *q = &m->q[m->nq++];
  q->id = r->id;
  q->r = *r;
  q->r.bot = xstrdup(r->bot);
  q->r.method = xstrdup(r->method);
  q->r.url = xstrdup(r->url);
  q->r.body = r->body ? xstrndup(r->body, r->body_len) : NULL;
  q->r.headers_json = dup_or_null(r->headers_json);
  m->log = xrealloc(m->log, (m->nlog + 1) * sizeof *m->log);
  m->log[m->nlog++] = (http_logged){xstrdup(r->method), xstrdup(r->url),
                                    r->body ? xstrndup(r->body, r->body_len) : NULL,
                                    dup_or_null(r->headers_json)};
}

void http_mocks_fallback(http_mocks *m, http_fallback fn, void *ud) {
  m->fallback = fn;
  m->fallback_ud = ud;
}

static const mock *find(const http_mocks *m, const char *method, const char *url) {
  for (size_t i = m->n; i-- > 0;) {
    const mock *k = &m->v[i];
    if (strcmp(k->method, method) != 0) continue;
    if (k->prefix ? strncmp(url, k->url, strlen(k->url)) == 0 : strcmp(url, k->url) == 0)
      return k;
  }
  return NULL;
}

int http_mocks_answer(http_mocks *m, engine *e, char *err, size_t errlen) {
  int rc = 0;
  while (m->nq && rc == 0) {
    queued q = m->q[0];
    memmove(m->q, m->q + 1, (m->nq - 1) * sizeof *m->q);
    m->nq--;
    const mock *k = find(m, q.r.method, q.r.url);
    engine_http_result res = {0};
    const char *headers[2] = {"content-type", NULL};
    char *missing = NULL;
    if (k) {
      res.status = k->status;
      res.error = k->error;
      res.body = k->body;
      res.body_len = k->body ? strlen(k->body) : 0;
      if (k->body && res.body_len > q.r.max_bytes) {
        res.status = 0;
        res.error = "the response is larger than the bot's http.max_bytes";
      }
      headers[1] = k->content_type;
      if (k->content_type) res.headers = headers, res.nheaders = 1;
    } else if (!m->fallback || m->fallback(m->fallback_ud, &q.r, &res)) {
      missing = xasprintf("no @http line for %s %s", q.r.method, q.r.url);
      res = (engine_http_result){.error = missing};
      if (!m->unmatched) m->unmatched = xasprintf("%s %s", q.r.method, q.r.url);
    }
    rc = engine_http_done(e, q.id, &res, err, errlen);
    free(missing);
    queued_free(&q);
  }
  if (rc == 0) rc = engine_flush(e, err, errlen);
  return rc;
}

int http_mocks_advance(http_mocks *m, engine *e, int64_t until, char *err, size_t errlen) {
  for (int round = 0; round < 1000; round++) {
    if (engine_advance(e, until, err, errlen)) return -1;
    if (!engine_http_waiting(e)) return 0;
    if (http_mocks_answer(m, e, err, errlen)) return -1;
  }
  return 0;
}

char *http_mocks_unmatched(http_mocks *m) {
  char *u = m->unmatched;
  m->unmatched = NULL;
  return u;
}

const http_logged *http_mocks_log(const http_mocks *m, size_t *n) {
  *n = m->nlog;
  return m->log;
}
