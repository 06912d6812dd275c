/* relay: the HTTP client that hands a message to the node holding its
 * conversation (forward.c decides what goes; the other node's
 * POST /v1/cluster/relay takes it). One thread drives every transfer with
 * libcurl's multi interface, reusing its connections to each node; the
 * engine thread queues a transfer and goes on, and gets the outcome back
 * as a JOB_RELAYED job (through the deliver callback: its queue). */
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "http_internal.h"

enum {
  RELAY_ANSWER_MAX = 1 << 20, /* bytes of a node's answer kept */
  RELAY_CONNECT_MS = 1000,    /* a node that does not accept by then is taken for away */
  RELAY_CONNECTIONS = 64,     /* kept open to each node at most */
};

typedef struct transfer {
  CURL *h;
  job *j; /* the webhook waiting: its connection stays suspended meanwhile */
  char *body;
  struct curl_slist *headers;
  buf answer;
  struct transfer *next;
} transfer;

struct relay {
  server *s;
  void (*deliver)(server *s, job *j); /* the outcomes go there (queue_job) */
  CURLM *multi;
  pthread_t thread;
  pthread_mutex_t mu;
  transfer *queued, **queued_tail; /* under mu: for the thread to start, in order */
  int quit;         /* under mu */
  atomic_int busy;  /* queued or running, until their outcome is queued */
};

static size_t keep_answer(char *data, size_t size, size_t n, void *ud) {
  transfer *t = ud;
  if (t->answer.len + size * n > RELAY_ANSWER_MAX) return 0; /* fails the transfer */
  buf_add(&t->answer, data, size * n);
  return size * n;
}

/* The outcome, to the engine thread: the status (0 if no answer came), the
 * answer's body or what went wrong. */
static void finish(relay *r, transfer *t, CURLcode result) {
  long status = 0;
  if (result == CURLE_OK) curl_easy_getinfo(t->h, CURLINFO_RESPONSE_CODE, &status);
  job *d = xcalloc(1, sizeof *d);
  d->kind = JOB_RELAYED;
  d->relayed = t->j;
  d->botname = xstrdup(t->j->botname);
  d->http_result = status;
  if (result != CURLE_OK) d->http_error = xstrdup(curl_easy_strerror(result));
  d->body = t->answer;
  r->deliver(r->s, d);
  atomic_fetch_sub(&r->busy, 1);
  curl_multi_remove_handle(r->multi, t->h);
  curl_easy_cleanup(t->h);
  curl_slist_free_all(t->headers);
  free(t->body);
  free(t);
}

static void *relay_main(void *arg) {
  relay *r = arg;
  pthread_setname_np(pthread_self(), "parley-relay");
  for (;;) {
    pthread_mutex_lock(&r->mu);
    transfer *start = r->queued;
    r->queued = NULL;
    r->queued_tail = &r->queued;
    int quit = r->quit;
    pthread_mutex_unlock(&r->mu);
    for (transfer *t = start, *next; t; t = next) {
      next = t->next;
      if (!t->h || curl_multi_add_handle(r->multi, t->h) != CURLM_OK)
        finish(r, t, CURLE_FAILED_INIT);
    }
    int running = 0;
    curl_multi_perform(r->multi, &running);
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(r->multi, &left))) {
      if (m->msg != CURLMSG_DONE) continue;
      transfer *t = NULL;
      curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&t);
      finish(r, t, m->data.result);
    }
    if (quit && atomic_load(&r->busy) == 0) break;
    curl_multi_poll(r->multi, NULL, 0, 1000, NULL);
  }
  return NULL;
}

relay *relay_start(server *s, void (*deliver)(server *s, job *j), char *err, size_t errlen) {
  relay *r = xcalloc(1, sizeof *r);
  r->s = s;
  r->deliver = deliver;
  r->queued_tail = &r->queued;
  curl_global_init(CURL_GLOBAL_DEFAULT); /* counted: the sender's init and cleanup pair too */
  r->multi = curl_multi_init();
  if (!r->multi) {
    snprintf(err, errlen, "cannot start the relay's HTTP client");
    curl_global_cleanup();
    free(r);
    return NULL;
  }
  curl_multi_setopt(r->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)RELAY_CONNECTIONS);
  pthread_mutex_init(&r->mu, NULL);
  if (pthread_create(&r->thread, NULL, relay_main, r) != 0) {
    snprintf(err, errlen, "cannot start the relay's thread");
    curl_multi_cleanup(r->multi);
    curl_global_cleanup();
    pthread_mutex_destroy(&r->mu);
    free(r);
    return NULL;
  }
  return r;
}

void relay_send(relay *r, job *j, const char *address, const char *secret, char *body,
                long timeout_ms) {
  transfer *t = xcalloc(1, sizeof *t);
  t->j = j;
  t->body = body;
  t->h = curl_easy_init();
  char *url = xasprintf("http://%s/v1/cluster/relay", address);
  char *auth = xasprintf("X-Parley-Relay: %s", secret);
  t->headers = curl_slist_append(NULL, "Content-Type: application/json");
  t->headers = curl_slist_append(t->headers, auth);
  t->headers = curl_slist_append(t->headers, "Expect:"); /* no 100-continue round trip */
  free(auth);
  if (t->h) {
    curl_easy_setopt(t->h, CURLOPT_URL, url);
    curl_easy_setopt(t->h, CURLOPT_POSTFIELDS, t->body);
    curl_easy_setopt(t->h, CURLOPT_POSTFIELDSIZE, (long)strlen(t->body));
    curl_easy_setopt(t->h, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(t->h, CURLOPT_WRITEFUNCTION, keep_answer);
    curl_easy_setopt(t->h, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(t->h, CURLOPT_PRIVATE, (char *)t);
    curl_easy_setopt(t->h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(t->h, CURLOPT_CONNECTTIMEOUT_MS, (long)RELAY_CONNECT_MS);
    curl_easy_setopt(t->h, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 1L);
    curl_easy_setopt(t->h, CURLOPT_PROTOCOLS_STR, "http");
    curl_easy_setopt(t->h, CURLOPT_PROXY, ""); /* never the environment's: the secret goes */
  }
  free(url);
  atomic_fetch_add(&r->busy, 1); /* without a handle: a failure, at once (relay_main) */
  pthread_mutex_lock(&r->mu); /* in the order sent: one conversation's stay in order */
  *r->queued_tail = t;
  r->queued_tail = &t->next;
  pthread_mutex_unlock(&r->mu);
  curl_multi_wakeup(r->multi);
}

int relay_busy(relay *r) { return r ? atomic_load(&r->busy) : 0; }

void relay_stop(relay *r) {
  if (!r) return;
  pthread_mutex_lock(&r->mu);
  r->quit = 1;
  pthread_mutex_unlock(&r->mu);
  curl_multi_wakeup(r->multi);
  pthread_join(r->thread, NULL);
  curl_multi_cleanup(r->multi);
  curl_global_cleanup();
  pthread_mutex_destroy(&r->mu);
  free(r);
}
