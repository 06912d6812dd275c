/* fake_twilio: a fast local stand-in for Twilio's Messages REST API, for
 * parley's end-to-end tests and benchmarks (see README.md next to this file).
 *
 *   POST /2010-04-01/Accounts/{AccountSid}/Messages.json
 *
 * is checked the way Twilio checks it (HTTP basic auth with the account sid
 * and auth token, a form-encoded body with To, From or MessagingServiceSid,
 * Body or MediaUrl) and answered with Twilio's JSON shapes: 201 and a
 * Message resource, or an error {"code","message","more_info","status"}.
 * Failures can be injected (every Nth request 429 or 500, a Twilio error
 * code for chosen numbers, a delay before every answer), every answer is
 * logged as one JSON line, and a StatusCallback gets "sent" and "delivered"
 * (or "undelivered") callbacks signed with X-Twilio-Signature.
 *
 * Threads:
 *   - libmicrohttpd's thread pool (--threads, default one per CPU), each
 *     thread with its own epoll loop, answers requests;
 *   - with --latency-ms, a timer thread resumes connections that MHD has
 *     suspended for the delay: a waiting request holds no thread, so any
 *     number of connections can wait at once;
 *   - one callback thread posts status callbacks with libcurl's multi
 *     interface (up to CB_MAX_INFLIGHT at once), so a slow or dead callback
 *     listener never holds up an answer.
 *
 * Build (Debian 12: libmicrohttpd-dev libcurl4-openssl-dev libjansson-dev
 * libssl-dev):
 *   cc -std=c11 -O2 -Wall -Wextra -o tests/fake/fake_twilio tests/fake/fake_twilio.c \
 *     $(pkg-config --cflags --libs libmicrohttpd libcurl jansson libcrypto) -lpthread
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unicode/utf8.h>
#include <unistd.h>

enum {
  MAX_BODY = 1 << 20,      /* request bodies past this are refused (21617) */
  MAX_BODY_CHARS = 1600,   /* Twilio's limit on Body, in characters */
  CB_MAX_INFLIGHT = 64,    /* status callbacks posted at once */
  CB_MAX_ATTEMPTS = 4,     /* tries per callback (refused / 5xx are retried) */
  CB_RETRY_MS = 100,       /* first retry delay; doubles each time */
};

/* ------------------------------------------------------------- settings */

/* --code NUMBER=CODE and --undelivered NUMBER=ERRCODE */
typedef struct number_rule {
  const char *number;
  long code;
} number_rule;

typedef struct rules {
  number_rule *v;
  size_t n;
} rules;

static struct config {
  int port;
  const char *sid, *token, *log_path;
  long fail_429, fail_500; /* 0: never */
  rules codes, undelivered;
  int reversed;            /* --callback-order reversed */
  long latency_ms, callback_delay_ms;
  unsigned threads;
  char *basic_b64;         /* base64("sid:token"), for the fast auth check */
} cfg;

/* ------------------------------------------------------------ utilities */

static void die(const char *msg) {
  fprintf(stderr, "fake_twilio: %s\n", msg);
  exit(2);
}

static void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) die("out of memory");
  return p;
}

static char *xstrdup(const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s) + 1;
  return memcpy(xmalloc(n), s, n);
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A growable byte string. */
typedef struct strbuf {
  char *p;
  size_t len, cap;
} strbuf;

static void sb_add(strbuf *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) die("out of memory");
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void sb_adds(strbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

/* The UTF-8 sequence at s (n > 0 bytes left): its length, with the code
 * point in *cp, or 0 if it is not well-formed UTF-8 (overlong forms,
 * surrogates and code points past U+10FFFF are not: ICU's U8_NEXT). */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp) {
  int32_t len = n < U8_MAX_LENGTH ? (int32_t)n : U8_MAX_LENGTH, i = 0;
  UChar32 c;
  U8_NEXT(s, i, len, c);
  if (c < 0) return 0;
  *cp = (uint32_t)c;
  return (size_t)i;
}

/* s as a JSON string; bytes that are not UTF-8 become U+FFFD (jansson
 * refuses them, and Twilio would not keep them either). */
static json_t *jstr_n(const char *s, size_t n) {
  if (!s) return json_null();
  json_t *j = json_stringn(s, n);
  if (j) return j;
  strbuf b = {0};
  for (size_t i = 0; i < n;) {
    uint32_t cp;
    size_t k = utf8_next((const unsigned char *)s + i, n - i, &cp);
    if (k) sb_add(&b, s + i, k), i += k;
    else sb_add(&b, "\xEF\xBF\xBD", 3), i++;
  }
  j = json_stringn(b.p ? b.p : "", b.len);
  free(b.p);
  return j;
}

static json_t *jstr(const char *s) { return s ? jstr_n(s, strlen(s)) : json_null(); }

/* ----------------------------------------------------------------- log */

static int log_fd = -1;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

/* Appends o (then releases it) as one line to --log. One write(2) per line,
 * under a lock, on an O_APPEND file: lines never interleave, and a reader
 * sees each line as soon as it is written (no stdio buffer, no fsync). */
static void log_line(json_t *o) {
  if (log_fd < 0 || !o) {
    json_decref(o);
    return;
  }
  char small[2048], *p = small;
  size_t n = json_dumpb(o, small, sizeof small - 1, JSON_COMPACT);
  if (n >= sizeof small - 1) {
    p = xmalloc(n + 1);
    n = json_dumpb(o, p, n, JSON_COMPACT);
  }
  json_decref(o);
  p[n++] = '\n';
  pthread_mutex_lock(&log_lock);
  for (size_t off = 0; off < n;) {
    ssize_t w = write(log_fd, p + off, n - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    off += (size_t)w;
  }
  pthread_mutex_unlock(&log_lock);
  if (p != small) free(p);
}

/* ----------------------------------------------------------- form bodies */

typedef struct field {
  const char *name, *value;
  size_t len; /* of value, which may hold a %00 */
} field;

typedef struct form {
  field *v;
  size_t n;
} form;

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Decodes s[0..n) in place, as application/x-www-form-urlencoded: '+' is a
 * space, %XX is a byte, and a '%' without two hex digits stays as it is
 * (WHATWG URL standard). Returns the decoded length. */
static size_t form_unescape(char *s, size_t n) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    int hi, lo;
    if (s[i] == '+') s[o++] = ' ';
    else if (s[i] == '%' && i + 2 < n && (hi = hexval(s[i + 1])) >= 0 &&
             (lo = hexval(s[i + 2])) >= 0)
      s[o++] = (char)(hi << 4 | lo), i += 2;
    else s[o++] = s[i];
  }
  return o;
}

/* Splits and decodes body (len bytes, with room for one more) in place.
 * Names and values end with a NUL; repeated names are all kept in order. */
static form form_parse(char *body, size_t len) {
  form f = {0};
  size_t cap = 1;
  for (size_t i = 0; i < len; i++) cap += body[i] == '&';
  f.v = xmalloc(cap * sizeof *f.v);
  body[len] = '\0';
  for (char *p = body, *end = body + len; p < end;) {
    char *amp = memchr(p, '&', (size_t)(end - p));
    if (!amp) amp = end;
    if (amp > p) {
      char *eq = memchr(p, '=', (size_t)(amp - p));
      char *name = p, *value = eq ? eq + 1 : amp;
      size_t nlen = form_unescape(name, (size_t)((eq ? eq : amp) - p));
      size_t vlen = form_unescape(value, (size_t)(amp - value));
      name[nlen] = '\0';
      value[vlen] = '\0';
      f.v[f.n++] = (field){name, value, vlen};
    }
    p = amp + 1;
  }
  return f;
}

/* The first non-empty value of name, or NULL. */
static const field *form_get(const form *f, const char *name) {
  for (size_t i = 0; i < f->n; i++)
    if (f->v[i].len && strcmp(f->v[i].name, name) == 0) return &f->v[i];
  return NULL;
}

static const char *form_value(const form *f, const char *name) {
  const field *x = form_get(f, name);
  return x ? x->value : NULL;
}

/* ------------------------------------------------------ SMS segmenting */

/* Septets a code point takes in the GSM 03.38 alphabet: 1 (basic table),
 * 2 (extension table, behind an escape) or 0 (not in GSM-7). */
static int gsm_septets(uint32_t cp) {
  static const uint16_t basic_non_ascii[] = {
      0xA1, 0xA3, 0xA4, 0xA5, 0xA7, 0xBF, 0xC4, 0xC5, 0xC6, 0xC7, 0xC9, 0xD1, 0xD6,
      0xD8, 0xDC, 0xDF, 0xE0, 0xE4, 0xE5, 0xE6, 0xE8, 0xE9, 0xEC, 0xF1, 0xF2, 0xF6,
      0xF8, 0xF9, 0xFC, 0x393, 0x394, 0x398, 0x39B, 0x39E, 0x3A0, 0x3A3, 0x3A6, 0x3A8, 0x3A9};
  if (cp < 0x80) {
    if (cp && strchr("\f^{}\\[~]|", (int)cp)) return 2;
    return cp == '\n' || cp == '\r' || (cp >= 0x20 && cp < 0x7F && cp != '`');
  }
  if (cp == 0x20AC) return 2; /* euro sign */
  for (size_t i = 0; i < sizeof basic_non_ascii / sizeof *basic_non_ascii; i++)
    if (basic_non_ascii[i] == cp) return 1;
  return 0;
}

/* Segments Twilio bills for body (valid UTF-8): GSM-7 when every character
 * is in the GSM alphabet (160 septets, or 153 per part), else UCS-2 (70
 * UTF-16 units, or 67 per part). At least 1 (a media-only message). */
static long segments(const char *body, size_t n, size_t *chars) {
  size_t septets = 0, units = 0, count = 0;
  int gsm = 1;
  for (size_t i = 0; i < n;) {
    uint32_t cp;
    size_t k = utf8_next((const unsigned char *)body + i, n - i, &cp);
    if (!k) k = 1, cp = 0xFFFD;
    int s = gsm_septets(cp);
    if (!s) gsm = 0;
    septets += (size_t)s;
    units += cp > 0xFFFF ? 2 : 1;
    count++;
    i += k;
  }
  if (chars) *chars = count;
  size_t len = gsm ? septets : units, single = gsm ? 160 : 70, part = gsm ? 153 : 67;
  if (len <= single) return 1;
  return (long)((len + part - 1) / part);
}

/* --------------------------------------------------- Twilio signatures */

static int cmp_field(const void *a, const void *b) {
  const field *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  return c ? c : strcmp(x->value, y->value);
}

/* Twilio's X-Twilio-Signature ("Webhooks security"): the URL exactly as
 * given, then every POST parameter's name and value, sorted by name, with
 * no separators; HMAC-SHA1 keyed with the auth token; base64. params gets
 * sorted. out needs 29 bytes. */
static void twilio_signature(const char *url, field *params, size_t n, char out[29]) {
  qsort(params, n, sizeof *params, cmp_field);
  strbuf data = {0};
  sb_adds(&data, url);
  for (size_t i = 0; i < n; i++) {
    sb_adds(&data, params[i].name);
    sb_adds(&data, params[i].value);
  }
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned maclen = 0;
  HMAC(EVP_sha1(), cfg.token, (int)strlen(cfg.token), (const unsigned char *)data.p, data.len,
       mac, &maclen);
  EVP_EncodeBlock((unsigned char *)out, mac, (int)maclen);
  free(data.p);
}

/* Appends s percent-encoded for a form body (unreserved bytes as they are). */
static void form_escape(strbuf *b, const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
        strchr("-._~", *p)) {
      sb_add(b, (const char *)p, 1);
    } else {
      char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
      sb_add(b, e, 3);
    }
  }
}

/* ------------------------------------------------------ status callbacks */

typedef struct cb_job {
  struct cb_job *next;
  char *url, *sid, *to, *from, *msid; /* from or msid may be NULL */
  const char *status[2];              /* in the order they are posted */
  long error_code;                    /* for "undelivered" (0: none) */
  int step;                           /* 0 or 1: which status is next */
  int attempt;                        /* tries of this step so far */
  long long due;                      /* now_ms() at which to post */
  /* while a post is in flight: */
  int slot;
  CURL *easy;
  char *post;
  struct curl_slist *headers;
} cb_job;

static struct {
  pthread_mutex_t lock;
  cb_job *head, *tail; /* handed over by request threads */
  int stopping;
  CURLM *multi;
  pthread_t thread;
} cbq = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void cb_free(cb_job *j) {
  free(j->url);
  free(j->sid);
  free(j->to);
  free(j->from);
  free(j->msid);
  free(j);
}

static void cb_enqueue(cb_job *j) {
  j->due = now_ms() + cfg.callback_delay_ms;
  pthread_mutex_lock(&cbq.lock);
  if (cbq.tail) cbq.tail->next = j;
  else cbq.head = j;
  cbq.tail = j;
  pthread_mutex_unlock(&cbq.lock);
  curl_multi_wakeup(cbq.multi);
}

static size_t discard(char *p, size_t size, size_t n, void *cls) {
  (void)p, (void)cls;
  return size * n;
}

/* Starts posting j's current status to its URL. */
static void cb_start(cb_job *j) {
  const char *status = j->status[j->step];
  char code[24] = "";
  if (strcmp(status, "undelivered") == 0 && j->error_code)
    snprintf(code, sizeof code, "%ld", j->error_code);
  field p[12];
  size_t n = 0;
  p[n++] = (field){"AccountSid", cfg.sid, 0};
  p[n++] = (field){"ApiVersion", "2010-04-01", 0};
  p[n++] = (field){"MessageSid", j->sid, 0};
  p[n++] = (field){"MessageStatus", status, 0};
  p[n++] = (field){"SmsSid", j->sid, 0};
  p[n++] = (field){"SmsStatus", status, 0};
  p[n++] = (field){"To", j->to, 0};
  if (j->from) p[n++] = (field){"From", j->from, 0};
  if (j->msid) p[n++] = (field){"MessagingServiceSid", j->msid, 0};
  if (code[0]) p[n++] = (field){"ErrorCode", code, 0};

  char sig[29];
  twilio_signature(j->url, p, n, sig); /* sorts p */
  strbuf body = {0};
  for (size_t i = 0; i < n; i++) {
    if (i) sb_adds(&body, "&");
    form_escape(&body, p[i].name);
    sb_adds(&body, "=");
    form_escape(&body, p[i].value);
  }
  char h1[64], h2[128];
  snprintf(h1, sizeof h1, "X-Twilio-Signature: %s", sig);
  snprintf(h2, sizeof h2, "I-Twilio-Idempotency-Token: %s-%s", j->sid, status);
  j->headers = curl_slist_append(NULL, h1);
  j->headers = curl_slist_append(j->headers, h2);
  j->headers = curl_slist_append(j->headers, "Expect:");
  j->post = body.p;

  CURL *e = j->easy = curl_easy_init();
  if (!e) die("curl_easy_init failed");
  curl_easy_setopt(e, CURLOPT_URL, j->url);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, j->post);
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)body.len);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, j->headers);
  curl_easy_setopt(e, CURLOPT_USERAGENT, "TwilioProxy/1.1");
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)j);
  j->attempt++;
  curl_multi_add_handle(cbq.multi, e);
}

/* Releases what cb_start set up for one post. */
static void cb_end_post(cb_job *j) {
  curl_multi_remove_handle(cbq.multi, j->easy);
  curl_easy_cleanup(j->easy);
  curl_slist_free_all(j->headers);
  free(j->post);
  j->easy = NULL;
  j->headers = NULL;
  j->post = NULL;
}

/* A post of j finished with res and HTTP status http (0 if none). Returns 1
 * if j has more to post (a retry or its next status, at j->due), 0 if it is
 * done. */
static int cb_finished(cb_job *j, CURLcode res, long http, long long now) {
  int retryable = res == CURLE_COULDNT_CONNECT || (res == CURLE_OK && http >= 500);
  if (retryable && j->attempt < CB_MAX_ATTEMPTS) {
    j->due = now + ((long long)CB_RETRY_MS << (j->attempt - 1));
    return 1;
  }
  json_t *o = json_pack("{s:o,s:o,s:s,s:I,s:i}", "callback", jstr(j->url), "sid", jstr(j->sid),
                        "status", j->status[j->step], "http", (json_int_t)http, "attempts",
                        j->attempt);
  if (res != CURLE_OK) json_object_set_new(o, "error", json_string(curl_easy_strerror(res)));
  log_line(o);
  j->attempt = 0;
  if (++j->step < 2) {
    j->due = now;
    return 1;
  }
  return 0;
}

/* The callback thread's own bookkeeping. */
typedef struct cb_state {
  cb_job *fresh, *fresh_tail; /* new messages, in arrival (= due) order */
  cb_job *later;              /* retries and second statuses, any order */
  cb_job *flying[CB_MAX_INFLIGHT];
  int inflight;
} cb_state;

static void cb_launch(cb_state *st, cb_job *j) {
  int slot = 0;
  while (st->flying[slot]) slot++;
  st->flying[slot] = j;
  j->slot = slot;
  j->next = NULL;
  st->inflight++;
  cb_start(j);
}

/* Starts every job that is due, as far as CB_MAX_INFLIGHT allows (retries
 * and second statuses first); returns the ms until the next one is due. */
static long long cb_launch_due(cb_state *st, long long now) {
  long long wait = 1000;
  for (cb_job **pp = &st->later; *pp && st->inflight < CB_MAX_INFLIGHT;) {
    cb_job *j = *pp;
    if (j->due > now) {
      if (j->due - now < wait) wait = j->due - now;
      pp = &j->next;
    } else {
      *pp = j->next;
      cb_launch(st, j);
    }
  }
  while (st->fresh && st->inflight < CB_MAX_INFLIGHT) {
    cb_job *j = st->fresh;
    if (j->due > now) {
      if (j->due - now < wait) wait = j->due - now;
      break;
    }
    st->fresh = j->next;
    if (!st->fresh) st->fresh_tail = NULL;
    cb_launch(st, j);
  }
  return wait;
}

/* Collects finished posts; returns how soon one of them wants another. */
static long long cb_collect(cb_state *st, long long wait) {
  CURLMsg *m;
  int left;
  while ((m = curl_multi_info_read(cbq.multi, &left))) {
    if (m->msg != CURLMSG_DONE) continue;
    CURLcode res = m->data.result;
    char *priv = NULL;
    long http = 0;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
    curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &http);
    cb_job *j = (cb_job *)priv;
    cb_end_post(j);
    st->flying[j->slot] = NULL;
    st->inflight--;
    long long now = now_ms();
    if (cb_finished(j, res, http, now)) {
      j->next = st->later;
      st->later = j;
      long long in = j->due > now ? j->due - now : 0;
      if (in < wait) wait = in;
    } else {
      cb_free(j);
    }
  }
  return wait;
}

static void *cb_worker(void *arg) {
  (void)arg;
  cb_state st = {0};
  for (;;) {
    pthread_mutex_lock(&cbq.lock);
    int stopping = cbq.stopping;
    if (cbq.head) {
      if (st.fresh_tail) st.fresh_tail->next = cbq.head;
      else st.fresh = cbq.head;
      st.fresh_tail = cbq.tail;
      cbq.head = cbq.tail = NULL;
    }
    pthread_mutex_unlock(&cbq.lock);
    if (stopping) break;

    long long wait = cb_launch_due(&st, now_ms());
    int running;
    curl_multi_perform(cbq.multi, &running);
    wait = cb_collect(&st, wait);
    /* Sleeps until a socket is ready, cb_enqueue wakes it, or wait ms. */
    curl_multi_poll(cbq.multi, NULL, 0, (int)wait, NULL);
  }

  /* Stopping: whatever has not been posted yet is dropped. */
  for (int i = 0; i < CB_MAX_INFLIGHT; i++)
    if (st.flying[i]) cb_end_post(st.flying[i]), cb_free(st.flying[i]);
  for (cb_job *list[] = {st.fresh, st.later}, **l = list; l < list + 2; l++)
    for (cb_job *j = *l, *next; j; j = next) next = j->next, cb_free(j);
  return NULL;
}

/* --------------------------------------------------- latency (suspend) */

typedef struct request request;

static struct {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  request *head, *tail; /* suspended, in due order (the delay is constant) */
  int stopping;
  pthread_t thread;
} delay = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* ------------------------------------------------------------ requests */

/* Per request (MHD's con_cls). */
struct request {
  char small[2048]; /* the body, while it fits */
  char *body;
  size_t len, cap;
  int too_large;
  /* the answer, once decided: */
  struct MHD_Response *response;
  unsigned status;
  cb_job *callbacks; /* handed to the callback thread once answered */
  /* waiting out --latency-ms: */
  struct MHD_Connection *conn;
  long long due;
  request *next;
};

static atomic_ulong count_429, count_500, sid_counter;
static uint64_t sid_prefix, sid_key;

static const char *twilio_message(long code) {
  switch (code) {
  case 20003: return "Authenticate";
  case 20004: return "Method not allowed";
  case 20404: return "The requested resource was not found";
  case 20429: return "Too Many Requests";
  case 20500: return "Internal Server Error";
  case 21211: return "Invalid 'To' Phone Number";
  case 21408: return "Permission to send an SMS has not been enabled for the region indicated by the 'To' number";
  case 21602: return "Message body is required.";
  case 21603: return "A 'From' phone number is required.";
  case 21604: return "A 'To' phone number is required.";
  case 21606: return "The 'From' phone number provided is not a valid message-capable Twilio phone number for this destination.";
  case 21608: return "The number is unverified. Trial accounts cannot send messages to unverified numbers.";
  case 21609: return "Invalid 'StatusCallback'";
  case 21610: return "Attempt to send to unsubscribed recipient";
  case 21612: return "The 'To' phone number is not currently reachable via SMS.";
  case 21614: return "'To' number is not a valid mobile number";
  case 21617: return "The concatenated message body exceeds the 1600 character limit.";
  default: return NULL;
  }
}

/* Twilio's error shape; also logs the rejection. */
static char *error_body(unsigned status, long code, const char *message, const form *f,
                        const char *idem) {
  char fallback[48], more[64];
  if (!message) message = twilio_message(code);
  if (!message) snprintf(fallback, sizeof fallback, "Error %ld", code), message = fallback;
  snprintf(more, sizeof more, "https://www.twilio.com/docs/errors/%ld", code);
  json_t *o = json_pack("{s:I,s:o,s:s,s:i}", "code", (json_int_t)code, "message", jstr(message),
                        "more_info", more, "status", (int)status);
  char *body = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  log_line(json_pack("{s:i,s:I,s:o,s:o}", "rejected", (int)status, "code", (json_int_t)code, "to",
                     jstr(f ? form_value(f, "To") : NULL), "idempotency_key", jstr(idem)));
  return body;
}

static long rule_for(const rules *r, const char *number) {
  for (size_t i = 0; i < r->n; i++)
    if (strcmp(r->v[i].number, number) == 0) return r->v[i].code;
  return 0;
}

static int is_form_type(const char *ct) {
  static const char want[] = "application/x-www-form-urlencoded";
  if (!ct) return 0;
  while (*ct == ' ' || *ct == '\t') ct++;
  if (strncasecmp(ct, want, sizeof want - 1) != 0) return 0;
  ct += sizeof want - 1;
  while (*ct == ' ' || *ct == '\t') ct++;
  return *ct == '\0' || *ct == ';';
}

static int authorized(struct MHD_Connection *conn) {
  const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
  if (!h) return 0;
  /* Fast path: the canonical encoding of "sid:token". */
  while (*h == ' ') h++;
  if (strncasecmp(h, "Basic ", 6) == 0) {
    const char *b = h + 6;
    while (*b == ' ') b++;
    size_t n = strlen(cfg.basic_b64);
    if (strncmp(b, cfg.basic_b64, n) == 0 && strspn(b + n, " ") == strlen(b + n)) return 1;
  }
  /* Anything else (another encoding of the same bytes, say): decode it. */
  char *pass = NULL, *user = MHD_basic_auth_get_username_password(conn, &pass);
  int ok = user && pass && strcmp(user, cfg.sid) == 0 && strcmp(pass, cfg.token) == 0;
  MHD_free(user);
  MHD_free(pass);
  return ok;
}

/* 1 if url is /2010-04-01/Accounts/{cfg.sid}/Messages.json. */
static int messages_path(const char *url) {
  static const char pre[] = "/2010-04-01/Accounts/", post[] = "/Messages.json";
  size_t n = strlen(cfg.sid);
  return strncmp(url, pre, sizeof pre - 1) == 0 && strncmp(url + sizeof pre - 1, cfg.sid, n) == 0 &&
         strcmp(url + sizeof pre - 1 + n, post) == 0;
}

/* A StatusCallback Twilio would take (else 21609): an absolute http(s) URL
 * of at most 4000 characters, already percent-encoded (no spaces, controls
 * or raw non-ASCII: those would be sent differently from how they are
 * signed), that libcurl can parse. */
static int callback_url_ok(const char *u) {
  if (strncasecmp(u, "http://", 7) != 0 && strncasecmp(u, "https://", 8) != 0) return 0;
  if (strlen(u) > 4000) return 0;
  for (const unsigned char *p = (const unsigned char *)u; *p; p++)
    if (*p <= 0x20 || *p >= 0x7F) return 0;
  CURLU *h = curl_url();
  char *host = NULL;
  int ok = h && curl_url_set(h, CURLUPART_URL, u, 0) == CURLUE_OK &&
           curl_url_get(h, CURLUPART_HOST, &host, 0) == CURLUE_OK && host && *host;
  curl_free(host);
  curl_url_cleanup(h);
  return ok;
}

/* "SM" and 32 lowercase hex digits, never the same twice in a process: a
 * random 64-bit prefix per run, then a bijective mix of a counter. */
static void new_sid(char out[35]) {
  uint64_t z = atomic_fetch_add(&sid_counter, 1) ^ sid_key;
  z += 0x9E3779B97F4A7C15ull; /* splitmix64's finalizer: a bijection */
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  snprintf(out, 35, "SM%016llx%016llx", (unsigned long long)sid_prefix, (unsigned long long)z);
}

/* A message Twilio would accept: log it, answer its resource (201). */
static char *accept_message(const form *f, const char *idem, cb_job **callbacks) {
  const char *to = form_value(f, "To"), *from = form_value(f, "From");
  const char *msid = form_value(f, "MessagingServiceSid");
  const char *callback = form_value(f, "StatusCallback");
  const field *bodyf = form_get(f, "Body");
  const char *text = bodyf ? bodyf->value : "";
  size_t textlen = bodyf ? bodyf->len : 0;

  char sid[35], date[40], uri[160], media_uri[160];
  new_sid(sid);
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  snprintf(uri, sizeof uri, "/2010-04-01/Accounts/%s/Messages/%s.json", cfg.sid, sid);
  snprintf(media_uri, sizeof media_uri, "/2010-04-01/Accounts/%s/Messages/%s/Media.json", cfg.sid,
           sid);

  json_t *media = json_array();
  for (size_t i = 0; i < f->n; i++)
    if (f->v[i].len && strcmp(f->v[i].name, "MediaUrl") == 0)
      json_array_append_new(media, jstr_n(f->v[i].value, f->v[i].len));
  char num_media[24], num_segments[24];
  snprintf(num_media, sizeof num_media, "%zu", json_array_size(media));
  snprintf(num_segments, sizeof num_segments, "%ld", segments(text, textlen, NULL));
  /* Twilio: "accepted" when a Messaging Service picks the sender, else "queued". */
  const char *status = msid && !from ? "accepted" : "queued";

  json_t *o = json_object();
  json_object_set_new(o, "account_sid", json_string(cfg.sid));
  json_object_set_new(o, "api_version", json_string("2010-04-01"));
  json_object_set_new(o, "body", jstr_n(text, textlen));
  json_object_set_new(o, "date_created", json_string(date));
  json_object_set_new(o, "date_sent", json_null());
  json_object_set_new(o, "date_updated", json_string(date));
  json_object_set_new(o, "direction", json_string("outbound-api"));
  json_object_set_new(o, "error_code", json_null());
  json_object_set_new(o, "error_message", json_null());
  json_object_set_new(o, "from", jstr(from));
  json_object_set_new(o, "messaging_service_sid", jstr(msid));
  json_object_set_new(o, "num_media", json_string(num_media));
  json_object_set_new(o, "num_segments", json_string(num_segments));
  json_object_set_new(o, "price", json_null());
  json_object_set_new(o, "price_unit", json_string("USD"));
  json_object_set_new(o, "sid", json_string(sid));
  json_object_set_new(o, "status", json_string(status));
  json_object_set_new(o, "subresource_uris", json_pack("{s:s}", "media", media_uri));
  json_object_set_new(o, "to", jstr(to));
  json_object_set_new(o, "uri", json_string(uri));
  char *answer = json_dumps(o, JSON_COMPACT);
  json_decref(o);

  log_line(json_pack("{s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "sid", sid, "to", jstr(to), "from",
                     jstr(from), "messaging_service_sid", jstr(msid), "body",
                     jstr_n(text, textlen), "media", media, "status_callback", jstr(callback),
                     "idempotency_key", jstr(idem)));

  if (callback) {
    cb_job *j = xmalloc(sizeof *j);
    *j = (cb_job){.url = xstrdup(callback), .sid = xstrdup(sid), .to = xstrdup(to),
                  .from = xstrdup(from), .msid = xstrdup(msid)};
    long err = rule_for(&cfg.undelivered, to);
    const char *final = err ? "undelivered" : "delivered";
    j->error_code = err;
    j->status[0] = cfg.reversed ? final : "sent";
    j->status[1] = cfg.reversed ? "sent" : final;
    *callbacks = j;
  }
  return answer;
}

/* Decides the answer to a complete request: sets r->status, returns the
 * JSON body (malloc'd), and may set r->callbacks. */
static char *answer(struct MHD_Connection *conn, const char *url, const char *method, request *r) {
  const char *idem = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "I-Twilio-Idempotency-Token");
  if (!idem) idem = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Idempotency-Key");
  const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
  int is_form = is_form_type(ct);
  form f = {0};
  if (is_form && !r->too_large) f = form_parse(r->body, r->len);
  char *out = NULL;
  long code = 0;
  const char *msg = NULL;
  char msgbuf[200];

  /* Checked in this order; the first that fails answers. */
  if (!authorized(conn)) {
    r->status = 401, code = 20003;
  } else if (!messages_path(url)) {
    snprintf(msgbuf, sizeof msgbuf, "The requested resource %s was not found", url);
    r->status = 404, code = 20404, msg = msgbuf;
  } else if (strcmp(method, "POST") != 0) {
    r->status = 405, code = 20004;
  } else if (!is_form) {
    snprintf(msgbuf, sizeof msgbuf,
             "Content-Type must be application/x-www-form-urlencoded, not '%.100s'",
             ct ? ct : "(none)");
    r->status = 400, code = 70002, msg = msgbuf;
  } else if (r->too_large) {
    r->status = 400, code = 21617;
  } else if (!form_get(&f, "To")) {
    r->status = 400, code = 21604;
  } else if (!form_get(&f, "From") && !form_get(&f, "MessagingServiceSid")) {
    r->status = 400, code = 21603;
  } else if (!form_get(&f, "Body") && !form_get(&f, "MediaUrl")) {
    r->status = 400, code = 21602;
  } else {
    const field *b = form_get(&f, "Body");
    const char *cb = form_value(&f, "StatusCallback");
    size_t chars = 0;
    if (b) segments(b->value, b->len, &chars);
    if (chars > MAX_BODY_CHARS) r->status = 400, code = 21617;
    else if (cb && !callback_url_ok(cb)) r->status = 400, code = 21609;
    else if ((code = rule_for(&cfg.codes, form_value(&f, "To")))) r->status = 400;
    /* A valid request: the injected failures count these only. */
    else if (cfg.fail_429 && (atomic_fetch_add(&count_429, 1) + 1) % (unsigned long)cfg.fail_429 == 0)
      r->status = 429, code = 20429;
    else if (cfg.fail_500 && (atomic_fetch_add(&count_500, 1) + 1) % (unsigned long)cfg.fail_500 == 0)
      r->status = 500, code = 20500;
    else r->status = 201, out = accept_message(&f, idem, &r->callbacks);
  }
  if (!out) out = error_body(r->status, code, msg, is_form ? &f : NULL, idem);
  free(f.v);
  return out;
}

/* Parks r's connection for --latency-ms; 0 if the server is stopping. */
static int suspend_for_latency(request *r, struct MHD_Connection *conn) {
  pthread_mutex_lock(&delay.lock);
  int ok = !delay.stopping;
  if (ok) {
    MHD_suspend_connection(conn); /* before the timer thread can see it */
    r->conn = conn;
    r->due = now_ms() + cfg.latency_ms;
    r->next = NULL;
    if (delay.tail) delay.tail->next = r;
    else delay.head = r;
    delay.tail = r;
    pthread_cond_signal(&delay.cond);
  }
  pthread_mutex_unlock(&delay.lock);
  return ok;
}

static void *delay_worker(void *arg) {
  (void)arg;
  pthread_mutex_lock(&delay.lock);
  for (;;) {
    request *r = delay.head;
    if (r && (delay.stopping || r->due <= now_ms())) {
      delay.head = r->next;
      if (!delay.head) delay.tail = NULL;
      pthread_mutex_unlock(&delay.lock);
      MHD_resume_connection(r->conn);
      pthread_mutex_lock(&delay.lock);
    } else if (delay.stopping) {
      break;
    } else if (r) {
      struct timespec ts;
      clock_gettime(CLOCK_MONOTONIC, &ts);
      long long ms = r->due - now_ms();
      ts.tv_sec += ms / 1000;
      ts.tv_nsec += (ms % 1000) * 1000000;
      if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
      pthread_cond_timedwait(&delay.cond, &delay.lock, &ts);
    } else {
      pthread_cond_wait(&delay.cond, &delay.lock);
    }
  }
  pthread_mutex_unlock(&delay.lock);
  return NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **con_cls) {
  (void)cls, (void)version;
  request *r = *con_cls;
  if (!r) { /* headers only, so far */
    r = *con_cls = xmalloc(sizeof *r);
    r->body = r->small, r->len = 0, r->cap = sizeof r->small;
    r->too_large = 0, r->response = NULL, r->status = 0, r->callbacks = NULL;
    return MHD_YES;
  }
  if (*upload_size) { /* a piece of the body */
    size_t n = *upload_size;
    *upload_size = 0;
    if (r->too_large || r->len + n + 1 > MAX_BODY) {
      r->too_large = 1;
      return MHD_YES;
    }
    if (r->len + n + 1 > r->cap) {
      size_t cap = r->cap * 2;
      while (cap < r->len + n + 1) cap *= 2;
      char *p = xmalloc(cap);
      memcpy(p, r->body, r->len);
      if (r->body != r->small) free(r->body);
      r->body = p, r->cap = cap;
    }
    memcpy(r->body + r->len, upload_data, n);
    r->len += n;
    return MHD_YES;
  }
  if (!r->response) { /* the whole request is in */
    char *json = answer(conn, url, method, r);
    r->response = MHD_create_response_from_buffer(strlen(json), json, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r->response, "Content-Type", "application/json; charset=utf-8");
    if (r->status == 401)
      MHD_add_response_header(r->response, "WWW-Authenticate", "Basic realm=\"Twilio API\"");
    if (cfg.latency_ms > 0 && suspend_for_latency(r, conn)) return MHD_YES;
  }
  /* Answer now (or, with --latency-ms, once resumed). */
  enum MHD_Result rc = MHD_queue_response(conn, r->status, r->response);
  MHD_destroy_response(r->response);
  r->response = NULL;
  return rc;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode why) {
  (void)cls, (void)conn, (void)why;
  request *r = *con_cls;
  if (!r) return;
  /* Callbacks start once the 201 is out, as with Twilio. */
  if (r->callbacks) cb_enqueue(r->callbacks);
  if (r->response) MHD_destroy_response(r->response);
  if (r->body != r->small) free(r->body);
  free(r);
  *con_cls = NULL;
}

/* ------------------------------------------------------------ startup */

static void usage(FILE *to) {
  fputs("usage: fake_twilio --port N --account-sid ACxxx --auth-token TOKEN\n"
        "         [--log FILE] [--fail-429 N] [--fail-500 N] [--code NUMBER=CODE]...\n"
        "         [--undelivered NUMBER=ERRCODE]... [--callback-order normal|reversed]\n"
        "         [--latency-ms N] [--callback-delay-ms N] [--threads N]\n",
        to);
}

static long parse_long(const char *s, const char *opt, long min) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < min) {
    fprintf(stderr, "fake_twilio: %s wants a number >= %ld, not '%s'\n", opt, min, s);
    exit(2);
  }
  return v;
}

static void add_rule(rules *r, const char *arg, const char *opt) {
  const char *eq = strrchr(arg, '=');
  if (!eq || eq == arg) {
    fprintf(stderr, "fake_twilio: %s wants NUMBER=CODE, not '%s'\n", opt, arg);
    exit(2);
  }
  number_rule *v = realloc(r->v, (r->n + 1) * sizeof *v);
  if (!v) die("out of memory");
  r->v = v;
  char *number = xmalloc((size_t)(eq - arg) + 1);
  memcpy(number, arg, (size_t)(eq - arg));
  number[eq - arg] = '\0';
  r->v[r->n++] = (number_rule){number, parse_long(eq + 1, opt, 1)};
}

static void parse_args(int argc, char **argv) {
  static const struct option opts[] = {
      {"port", required_argument, 0, 'p'},          {"account-sid", required_argument, 0, 's'},
      {"auth-token", required_argument, 0, 't'},    {"log", required_argument, 0, 'l'},
      {"fail-429", required_argument, 0, '4'},      {"fail-500", required_argument, 0, '5'},
      {"code", required_argument, 0, 'c'},          {"undelivered", required_argument, 0, 'u'},
      {"callback-order", required_argument, 0, 'o'}, {"latency-ms", required_argument, 0, 'L'},
      {"callback-delay-ms", required_argument, 0, 'D'}, {"threads", required_argument, 0, 'T'},
      {"help", no_argument, 0, 'h'},                {0, 0, 0, 0}};
  cfg.port = -1;
  int c;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case 'p': cfg.port = (int)parse_long(optarg, "--port", 0); break;
    case 's': cfg.sid = optarg; break;
    case 't': cfg.token = optarg; break;
    case 'l': cfg.log_path = optarg; break;
    case '4': cfg.fail_429 = parse_long(optarg, "--fail-429", 0); break;
    case '5': cfg.fail_500 = parse_long(optarg, "--fail-500", 0); break;
    case 'c': add_rule(&cfg.codes, optarg, "--code"); break;
    case 'u': add_rule(&cfg.undelivered, optarg, "--undelivered"); break;
    case 'o':
      if (strcmp(optarg, "normal") == 0) cfg.reversed = 0;
      else if (strcmp(optarg, "reversed") == 0) cfg.reversed = 1;
      else die("--callback-order is normal or reversed");
      break;
    case 'L': cfg.latency_ms = parse_long(optarg, "--latency-ms", 0); break;
    case 'D': cfg.callback_delay_ms = parse_long(optarg, "--callback-delay-ms", 0); break;
    case 'T': cfg.threads = (unsigned)parse_long(optarg, "--threads", 1); break;
    case 'h': usage(stdout); exit(0);
    default: usage(stderr); exit(2);
    }
  }
  if (optind < argc || cfg.port < 0 || cfg.port > 65535 || !cfg.sid || !*cfg.sid || !cfg.token ||
      !*cfg.token) {
    usage(stderr);
    exit(2);
  }
  if (!cfg.threads) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    cfg.threads = n < 1 ? 1 : n > 16 ? 16 : (unsigned)n;
  }
}

int main(int argc, char **argv) {
  parse_args(argc, argv);

  if (cfg.log_path) {
    log_fd = open(cfg.log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0) {
      fprintf(stderr, "fake_twilio: %s: %s\n", cfg.log_path, strerror(errno));
      return 2;
    }
  }

  size_t credlen = strlen(cfg.sid) + 1 + strlen(cfg.token);
  char *cred = xmalloc(credlen + 1);
  snprintf(cred, credlen + 1, "%s:%s", cfg.sid, cfg.token);
  cfg.basic_b64 = xmalloc(4 * ((credlen + 2) / 3) + 1);
  EVP_EncodeBlock((unsigned char *)cfg.basic_b64, (unsigned char *)cred, (int)credlen);
  free(cred);

  unsigned char rnd[16];
  if (RAND_bytes(rnd, sizeof rnd) != 1) die("RAND_bytes failed");
  memcpy(&sid_prefix, rnd, 8);
  memcpy(&sid_key, rnd + 8, 8);

  /* SIGINT and SIGTERM are taken by sigwait below; every thread inherits
   * the mask, so none of them is interrupted. */
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
  signal(SIGPIPE, SIG_IGN);

  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) die("curl_global_init failed");
  cbq.multi = curl_multi_init();
  if (!cbq.multi || pthread_create(&cbq.thread, NULL, cb_worker, NULL)) die("no callback thread");

  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&delay.cond, &ca);
  pthread_condattr_destroy(&ca);
  if (cfg.latency_ms > 0 && pthread_create(&delay.thread, NULL, delay_worker, NULL))
    die("no delay thread");

  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cfg.port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_USE_TURBO;
  if (cfg.latency_ms > 0) flags |= MHD_ALLOW_SUSPEND_RESUME;
  struct MHD_Daemon *d = MHD_start_daemon(
      flags, (uint16_t)cfg.port, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, &sa,
      MHD_OPTION_THREAD_POOL_SIZE, cfg.threads, MHD_OPTION_CONNECTION_LIMIT, 10000u,
      MHD_OPTION_CONNECTION_TIMEOUT, 120u, MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
      MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
  if (!d) {
    fprintf(stderr, "fake_twilio: cannot listen on 127.0.0.1:%d\n", cfg.port);
    return 1;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
  printf("fake_twilio listening on http://127.0.0.1:%u\n",
         info ? (unsigned)info->port : (unsigned)cfg.port);
  fflush(stdout);

  int sig;
  sigwait(&stop_signals, &sig);

  /* Answer the requests still waiting out --latency-ms, then stop. */
  pthread_mutex_lock(&delay.lock);
  delay.stopping = 1;
  pthread_cond_signal(&delay.cond);
  pthread_mutex_unlock(&delay.lock);
  if (cfg.latency_ms > 0) pthread_join(delay.thread, NULL);
  MHD_stop_daemon(d);

  pthread_mutex_lock(&cbq.lock);
  cbq.stopping = 1;
  pthread_mutex_unlock(&cbq.lock);
  curl_multi_wakeup(cbq.multi);
  pthread_join(cbq.thread, NULL);
  for (cb_job *j = cbq.head, *next; j; j = next) next = j->next, cb_free(j);
  curl_multi_cleanup(cbq.multi);
  curl_global_cleanup();

  pthread_cond_destroy(&delay.cond);
  for (size_t i = 0; i < cfg.codes.n; i++) free((char *)cfg.codes.v[i].number);
  for (size_t i = 0; i < cfg.undelivered.n; i++) free((char *)cfg.undelivered.v[i].number);
  free(cfg.codes.v);
  free(cfg.undelivered.v);
  free(cfg.basic_b64);
  if (log_fd >= 0) close(log_fd);
  return 0;
}
