/* media_fetch: the thread that fetches a channel's media from the Graph
 * API for GET /v1/bots/BOT/media/ID, one at a time, so that neither
 * libmicrohttpd's thread nor the engine's ever waits for Meta. As the
 * Cloud API documents it ("retrieve media URL", then "download media"):
 *
 *   GET {whatsapp_api_url}/{media id}     Authorization: Bearer {token}
 *     -> {"url": "https://lookaside.fbsbx.com/...", "mime_type", "sha256", "file_size"}
 *   GET {url}                             Authorization: Bearer {token}
 *     -> the file
 *
 * The job is answered here: 200 with the file and its type, 404 when Meta
 * does not know the id, 502 when Meta fails or the file is larger than
 * MEDIA_MAX. */
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_internal.h"
#include "log.h"

enum { MEDIA_MAX = 32 << 20, INFO_MAX = 64 << 10, MEDIA_TIMEOUT_MS = 15000 };

typedef struct fetch {
  job *j;
  char *api, *token;
  struct fetch *next;
} fetch;

struct media_fetcher {
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  fetch *head, *tail;
  int stopping, stopped;
};

typedef struct sink {
  buf *b;
  size_t max;
  int over;
} sink;

static size_t on_data(char *data, size_t size, size_t n, void *ud) {
  sink *s = ud;
  size_t len = size * n;
  if (s->b->len + len > s->max) {
    s->over = 1;
    return 0; /* stops the transfer */
  }
  buf_add(s->b, data, len);
  return len;
}

/* GET url with the bearer token into out (at most max bytes): the HTTP
 * status, or 0 with *why when no answer came. */
static long get(const char *url, const char *token, buf *out, size_t max, char **type,
                const char **why) {
  CURL *h = curl_easy_init();
  if (!h) {
    *why = "cannot start an HTTP request";
    return 0;
  }
  char *auth = xasprintf("Authorization: Bearer %s", token);
  struct curl_slist *headers = curl_slist_append(NULL, auth);
  sink s = {out, max, 0};
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)MEDIA_TIMEOUT_MS);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "parley");
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
  CURLcode rc = curl_easy_perform(h);
  long status = 0;
  if (rc == CURLE_OK) {
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    char *ct = NULL;
    curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
    if (type) *type = ct ? xstrdup(ct) : NULL;
  } else {
    *why = s.over ? "the file is larger than 32 MiB" : curl_easy_strerror(rc);
  }
  curl_slist_free_all(headers);
  free(auth);
  curl_easy_cleanup(h);
  return status;
}

/* A MIME type as a header may carry it: type/subtype and parameters of
 * printable ASCII; else application/octet-stream. */
static const char *safe_type(const char *t) {
  if (!t || !strchr(t, '/') || strlen(t) > 128) return "application/octet-stream";
  for (const char *p = t; *p; p++)
    if ((unsigned char)*p < ' ' || (unsigned char)*p >= 0x7f) return "application/octet-stream";
  return t;
}

static void run_fetch(fetch *f) {
  job *j = f->j;
  buf_free(&j->body); /* (a GET's body, if it had one) */
  buf info = {0};
  const char *why = NULL;
  char *url = xasprintf("%s/%s", f->api, j->item);
  long status = get(url, f->token, &info, INFO_MAX, NULL, &why);
  free(url);
  json_t *o = status ? json_loadb(info.data ? info.data : "", info.len, 0, NULL) : NULL;
  buf_free(&info);
  const char *file = json_string_value(json_object_get(o, "url"));
  const char *mime = json_string_value(json_object_get(o, "mime_type"));
  if (!status) {
    job_answer_error(j, 502, why);
  } else if (status == 200 && file && strncmp(f->api, "https:", 6) == 0 &&
             strncmp(file, "https:", 6) != 0) {
    job_answer_error(j, 502, "WhatsApp gave a media URL that is not https: not fetched with "
                             "the token");
  } else if (status == 200 && file) {
    char *type = NULL;
    long got = get(file, f->token, &j->body, MEDIA_MAX, &type, &why);
    if (got == 200) {
      j->http_status = 200;
      free(j->content_type);
      j->content_type = xstrdup(safe_type(mime ? mime : type));
    } else {
      buf_free(&j->body);
      char *msg = got ? xasprintf("WhatsApp answered HTTP %ld for the file", got)
                      : xasprintf("the file could not be fetched: %s", why);
      job_answer_error(j, 502, msg);
      free(msg);
    }
    free(type);
  } else {
    json_t *err = json_object_get(o, "error");
    long long code = json_integer_value(json_object_get(err, "code"));
    const char *message = json_string_value(json_object_get(err, "message"));
    char *msg = xasprintf("WhatsApp %lld: %s (HTTP %ld)", code, message ? message : "no URL",
                          status);
    job_answer_error(j, code == 100 ? 404 : 502, msg); /* 100: no such media */
    free(msg);
  }
  json_decref(o);
  log_event(j->http_status == 200 ? LOG_INFO : LOG_WARN, "media_fetch", "bot", j->botname,
            "media", j->item, "status", j->http_status == 200 ? "ok" : "failed", NULL);
}

/* Its job answered: the connection is resumed to send the answer. */
static void done(fetch *f) {
  atomic_store(&f->j->done, 1);
  MHD_resume_connection(f->j->conn);
  free(f->api);
  free(f->token);
  free(f);
}

static void *run(void *arg) {
  media_fetcher *m = arg;
  pthread_mutex_lock(&m->mu);
  for (;;) {
    while (!m->head && !m->stopping) pthread_cond_wait(&m->cv, &m->mu);
    fetch *f = m->head;
    if (!f) break; /* stopping, nothing left */
    m->head = f->next;
    if (!m->head) m->tail = NULL;
    int stopping = m->stopping;
    pthread_mutex_unlock(&m->mu);
    if (stopping)
      job_answer_error(f->j, 503, "the server is stopping; retry later");
    else
      run_fetch(f);
    done(f);
    pthread_mutex_lock(&m->mu);
  }
  pthread_mutex_unlock(&m->mu);
  return NULL;
}

media_fetcher *media_fetcher_start(char *err, size_t errlen) {
  media_fetcher *m = xcalloc(1, sizeof *m);
  pthread_mutex_init(&m->mu, NULL);
  pthread_cond_init(&m->cv, NULL);
  if (pthread_create(&m->thread, NULL, run, m) != 0) {
    snprintf(err, errlen, "cannot start the thread that fetches media");
    pthread_cond_destroy(&m->cv);
    pthread_mutex_destroy(&m->mu);
    free(m);
    return NULL;
  }
  return m;
}

void media_fetcher_submit(media_fetcher *m, job *j, const char *api, const char *token) {
  fetch *f = xcalloc(1, sizeof *f);
  *f = (fetch){j, xstrdup(api), xstrdup(token), NULL};
  pthread_mutex_lock(&m->mu);
  if (m->stopping) { /* its thread has ended (or will take nothing more) */
    pthread_mutex_unlock(&m->mu);
    job_answer_error(j, 503, "the server is stopping; retry later");
    done(f);
    return;
  }
  if (m->tail)
    m->tail->next = f;
  else
    m->head = f;
  m->tail = f;
  pthread_cond_signal(&m->cv);
  pthread_mutex_unlock(&m->mu);
}

void media_fetcher_stop(media_fetcher *m) {
  if (!m) return;
  pthread_mutex_lock(&m->mu);
  int joined = m->stopped;
  m->stopping = m->stopped = 1;
  pthread_cond_signal(&m->cv);
  pthread_mutex_unlock(&m->mu);
  if (!joined) pthread_join(m->thread, NULL);
}

void media_fetcher_free(media_fetcher *m) {
  if (!m) return;
  media_fetcher_stop(m);
  pthread_cond_destroy(&m->cv);
  pthread_mutex_destroy(&m->mu);
  free(m);
}
