#include "http_client.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "util.h"

enum { MAX_HEADERS = 100 };

/* ---------------------------------------------------------------- addresses */

static int v4_private(uint32_t a) { /* host order */
  return (a >> 24) == 0 ||                   /* 0.0.0.0/8 "this network" */
         (a >> 24) == 10 ||                  /* 10/8 */
         (a >> 22) == (100u << 2 | 1) ||     /* 100.64/10 carrier-grade NAT */
         (a >> 24) == 127 ||                 /* loopback */
         (a >> 16) == (169u << 8 | 254) ||   /* link-local (cloud metadata) */
         (a >> 20) == (172u << 4 | 1) ||     /* 172.16/12 */
         (a >> 8) == (192u << 16 | 0 << 8 | 0) || /* 192.0.0/24 */
         (a >> 16) == (192u << 8 | 168) ||   /* 192.168/16 */
         (a >> 17) == (198u << 7 | 18 >> 1) || /* 198.18/15 benchmarking */
         (a >> 28) >= 14;                    /* multicast, reserved, broadcast */
}

int http_address_is_private(const struct sockaddr *sa) {
  if (sa->sa_family == AF_INET)
    return v4_private(ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr));
  if (sa->sa_family != AF_INET6) return 1;
  const unsigned char *b = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
  static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  if (memcmp(b, mapped, 12) == 0 || memcmp(b, nat64, 12) == 0) /* an IPv4 inside */
    return v4_private((uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 | b[15]);
  int zero10 = 1;
  for (int i = 0; i < 10; i++) zero10 &= b[i] == 0;
  if (zero10) return 1;                                /* ::, ::1, IPv4-compatible */
  return (b[0] & 0xfe) == 0xfc ||                      /* fc00::/7 unique local */
         (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) ||    /* fe80::/10 link-local */
         (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) ||    /* fec0::/10 site-local */
         b[0] == 0xff ||                               /* multicast */
         (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8); /* documentation */
}

/* ---------------------------------------------------------------- one transfer */

typedef struct transfer {
  uint64_t id;
  CURL *h;
  struct curl_slist *headers;
  char *body;
  buf resp;
  size_t max_bytes;
  int too_big;
  char *hdr[2 * MAX_HEADERS];
  size_t nhdr; /* pairs */
  int allow_private;
  char refused[160];
  long timeout_ms;
  char errbuf[CURL_ERROR_SIZE];
  struct transfer *next;
} transfer;

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
  transfer *t = ud;
  size_t len = size * n;
  if (t->resp.len + len > t->max_bytes) {
    t->too_big = 1;
    return 0; /* curl stops: CURLE_WRITE_ERROR */
  }
  buf_add(&t->resp, p, len);
  return len;
}

static void clear_headers(transfer *t) {
  for (size_t i = 0; i < 2 * t->nhdr; i++) free(t->hdr[i]);
  t->nhdr = 0;
}

/* "Name: value\r\n", or a status line (a new response: 100 Continue went by) */
static size_t on_header(char *p, size_t size, size_t n, void *ud) {
  transfer *t = ud;
  size_t len = size * n;
  if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
    clear_headers(t);
    return len;
  }
  char *colon = memchr(p, ':', len);
  if (!colon || colon == p || t->nhdr == MAX_HEADERS) return len;
  size_t nl = (size_t)(colon - p);
  const char *v = colon + 1, *end = p + len;
  while (v < end && (*v == ' ' || *v == '\t')) v++;
  while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ')) end--;
  char *name = xstrndup(p, nl);
  for (char *c = name; *c; c++) *c = (char)tolower((unsigned char)*c);
  t->hdr[2 * t->nhdr] = name;
  t->hdr[2 * t->nhdr + 1] = xstrndup(v, (size_t)(end - v));
  t->nhdr++;
  return len;
}

static curl_socket_t open_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *a) {
  transfer *t = ud;
  (void)purpose;
  if (!t->allow_private && http_address_is_private(&a->addr)) {
    char ip[INET6_ADDRSTRLEN] = "?";
    if (a->family == AF_INET)
      inet_ntop(AF_INET, &((struct sockaddr_in *)&a->addr)->sin_addr, ip, sizeof ip);
    else if (a->family == AF_INET6)
      inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&a->addr)->sin6_addr, ip, sizeof ip);
    snprintf(t->refused, sizeof t->refused,
             "refused: the host is at %s, a private or local address (setting "
             "http_allow_private)", ip);
    return CURL_SOCKET_BAD;
  }
  return socket(a->family, a->socktype, a->protocol);
}

static transfer *transfer_new(const engine_http_request *r, int allow_private) {
  transfer *t = xcalloc(1, sizeof *t);
  t->id = r->id;
  t->max_bytes = r->max_bytes ? r->max_bytes : 1u << 20;
  t->allow_private = allow_private;
  t->timeout_ms = r->timeout_ms > 0 ? r->timeout_ms : 10000;
  CURL *h = t->h = curl_easy_init();
  curl_easy_setopt(h, CURLOPT_URL, r->url);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_PROXY, ""); /* not the environment's */
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, t->timeout_ms);
  curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, ""); /* what curl can decode */
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, t);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, t);
  curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, open_socket);
  curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, t);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, t->errbuf);
  curl_easy_setopt(h, CURLOPT_PRIVATE, t);
  /* a connection that may be to a private address is never reused: another
   * bot's request, not allowed there, would skip the check on connect */
  if (allow_private) { /* nor shared while in use (HTTP/2 streams) */
    curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
  }
  int has_agent = 0;
  json_t *hs = r->headers_json ? json_loads(r->headers_json, 0, NULL) : NULL;
  const char *k;
  json_t *v;
  json_object_foreach(hs, k, v) {
    if (!json_is_string(v)) continue;
    if (strcasecmp(k, "user-agent") == 0) has_agent = 1;
    char *line = xasprintf("%s: %s", k, json_string_value(v));
    t->headers = curl_slist_append(t->headers, line);
    free(line);
  }
  json_decref(hs);
  if (!has_agent) t->headers = curl_slist_append(t->headers, "User-Agent: parley");
  t->headers = curl_slist_append(t->headers, "Expect:");
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, t->headers);
  if (strcmp(r->method, "POST") == 0) {
    t->body = r->body ? xstrndup(r->body, r->body_len) : xstrdup("");
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, t->body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(r->body ? r->body_len : 0));
  }
  return t;
}

static void transfer_free(transfer *t) {
  curl_easy_cleanup(t->h);
  curl_slist_free_all(t->headers);
  free(t->body);
  buf_free(&t->resp);
  clear_headers(t);
  free(t);
}

/* The result of a finished transfer; msg holds the error's text. */
static engine_http_result transfer_result(transfer *t, CURLcode code, char *msg, size_t msglen) {
  engine_http_result r = {0};
  if (code == CURLE_OK) {
    curl_easy_getinfo(t->h, CURLINFO_RESPONSE_CODE, &r.status);
    r.body = t->resp.data ? t->resp.data : "";
    r.body_len = t->resp.len;
    r.headers = (const char *const *)t->hdr;
    r.nheaders = t->nhdr;
    if (r.status > 0) return r;
    snprintf(msg, msglen, "no HTTP status in the answer");
  } else if (t->refused[0]) {
    snprintf(msg, msglen, "%s", t->refused);
  } else if (t->too_big) {
    snprintf(msg, msglen, "the response is larger than %zu bytes (bot.config http.max_bytes)",
             t->max_bytes);
  } else if (code == CURLE_OPERATION_TIMEDOUT) {
    snprintf(msg, msglen, "timed out after %ld ms", t->timeout_ms);
  } else {
    snprintf(msg, msglen, "%s", t->errbuf[0] ? t->errbuf : curl_easy_strerror(code));
  }
  r.status = 0;
  r.error = msg;
  return r;
}

/* ---------------------------------------------------------------- the thread */

struct http_client {
  CURLM *multi;
  pthread_t thread;
  pthread_mutex_t mu;
  transfer *incoming; /* started, not yet added (under mu) */
  int stopping;       /* under mu */
  transfer *active;   /* added to multi (the thread's own) */
  long in_flight;     /* under mu */
  http_client_done done;
  void *ud;
};

static void *client_main(void *arg) {
  http_client *c = arg;
  pthread_setname_np(pthread_self(), "parley-http");
  for (;;) {
    pthread_mutex_lock(&c->mu);
    int stopping = c->stopping;
    transfer *add = c->incoming;
    c->incoming = NULL;
    pthread_mutex_unlock(&c->mu);
    if (stopping) {
      while (add) {
        transfer *next = add->next;
        transfer_free(add);
        add = next;
      }
      break;
    }
    for (transfer *next; add; add = next) {
      next = add->next;
      add->next = c->active;
      c->active = add;
      curl_multi_add_handle(c->multi, add->h);
    }
    int running;
    curl_multi_perform(c->multi, &running);
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(c->multi, &left))) {
      if (m->msg != CURLMSG_DONE) continue;
      transfer *t;
      curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&t);
      CURLcode code = m->data.result;
      curl_multi_remove_handle(c->multi, t->h);
      transfer **p = &c->active;
      while (*p != t) p = &(*p)->next;
      *p = t->next;
      char msg[CURL_ERROR_SIZE + 200];
      engine_http_result r = transfer_result(t, code, msg, sizeof msg);
      c->done(c->ud, t->id, &r);
      transfer_free(t);
      pthread_mutex_lock(&c->mu);
      c->in_flight--;
      pthread_mutex_unlock(&c->mu);
    }
    curl_multi_poll(c->multi, NULL, 0, 1000, NULL);
  }
  /* what is still in flight is dropped: its handlers run again at the next start */
  while (c->active) {
    transfer *t = c->active;
    c->active = t->next;
    curl_multi_remove_handle(c->multi, t->h);
    transfer_free(t);
  }
  return NULL;
}

http_client *http_client_open(http_client_done done, void *ud, char *err, size_t errlen) {
  http_client *c = xcalloc(1, sizeof *c);
  c->done = done;
  c->ud = ud;
  c->multi = curl_multi_init();
  pthread_mutex_init(&c->mu, NULL);
  if (!c->multi || pthread_create(&c->thread, NULL, client_main, c) != 0) {
    snprintf(err, errlen, "cannot start the HTTP client");
    if (c->multi) curl_multi_cleanup(c->multi);
    pthread_mutex_destroy(&c->mu);
    free(c);
    return NULL;
  }
  return c;
}

void http_client_start(http_client *c, const engine_http_request *r, int allow_private) {
  transfer *t = transfer_new(r, allow_private);
  pthread_mutex_lock(&c->mu);
  /* in arrival order: appended */
  transfer **p = &c->incoming;
  while (*p) p = &(*p)->next;
  *p = t;
  c->in_flight++;
  pthread_mutex_unlock(&c->mu);
  curl_multi_wakeup(c->multi);
}

long http_client_in_flight(http_client *c) {
  pthread_mutex_lock(&c->mu);
  long n = c->in_flight;
  pthread_mutex_unlock(&c->mu);
  return n;
}

void http_client_close(http_client *c) {
  if (!c) return;
  pthread_mutex_lock(&c->mu);
  c->stopping = 1;
  pthread_mutex_unlock(&c->mu);
  curl_multi_wakeup(c->multi);
  pthread_join(c->thread, NULL);
  curl_multi_cleanup(c->multi);
  pthread_mutex_destroy(&c->mu);
  free(c);
}

/* ---------------------------------------------------------------- waited for */

struct http_fetched {
  transfer *t;
  char msg[CURL_ERROR_SIZE + 200];
};

http_fetched *http_fetch(const engine_http_request *r, int allow_private, engine_http_result *res) {
  http_fetched *f = xcalloc(1, sizeof *f);
  f->t = transfer_new(r, allow_private);
  CURLcode code = curl_easy_perform(f->t->h);
  *res = transfer_result(f->t, code, f->msg, sizeof f->msg);
  return f;
}

void http_fetch_free(http_fetched *f) {
  if (!f) return;
  transfer_free(f->t);
  free(f);
}
