/* relay: the HTTP client that hands messages to the node holding their
 * conversation (forward.c decides what goes; the other node's
 * POST /v1/cluster/relay takes them). One thread drives every transfer
 * with libcurl's multi interface over connections it keeps to each node.
 *
 * Messages go in batches: one request at a time to each node, carrying
 * every message that came for that node while the one before was under
 * way (the holder runs them in one round and answers once they are
 * durable). So a busy node sends one request per holder per round, not one
 * per message, and one node's messages reach another in the order they
 * came. The engine thread queues a message and goes on; each message's
 * outcome comes back as a JOB_RELAYED job (through the deliver callback:
 * its queue). */
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "http_internal.h"

enum {
  RELAY_ANSWER_MAX = 16 << 20,  /* bytes of a node's answer kept */
  RELAY_CONNECT_MS = 1000,      /* a node that does not accept by then is taken for away */
  RELAY_WAIT_MIN_MS = 1000,     /* a batch's holder has that long at least (it commits) */
  RELAY_BATCH_MAX = 512,        /* messages in one request at most, */
  RELAY_BATCH_BYTES = 1 << 20,  /* and bytes (less than the holder takes: RELAY_BODY_MAX) */
};

typedef struct item { /* a message waiting for its holder's answer */
  job *j;             /* the webhook: its connection stays suspended meanwhile */
  char *address;
  json_t *message;
  int64_t reply_until_ns, wait_until_ns; /* mono */
  struct item *next;
} item;

typedef struct node_link { /* another node, by its address */
  char *address;
  item *waiting, **waiting_tail; /* in the order sent */
  CURL *h;                       /* made once: its options stay, but the batch's */
  struct curl_slist *headers;
  item *sent; /* the batch under way (NULL: none), its body and the answer */
  char *body;
  buf answer;
  struct node_link *next;
} node_link;

struct relay {
  server *s;
  char *secret;
  void (*deliver)(server *s, job *j); /* the outcomes go there (queue_job) */
  CURLM *multi;
  pthread_t thread;
  pthread_mutex_t mu;
  item *queued, **queued_tail; /* under mu: for the thread to sort, in order */
  int quit;                    /* under mu */
  atomic_int busy;             /* messages queued or under way, until their outcome is queued */
  atomic_long batches;         /* requests sent */
  node_link *links;            /* the thread's */
};

static size_t keep_answer(char *data, size_t size, size_t n, void *ud) {
  node_link *l = ud;
  if (l->answer.len + size * n > RELAY_ANSWER_MAX) return 0; /* fails the transfer */
  buf_add(&l->answer, data, size * n);
  return size * n;
}

/* One message's outcome, to the engine thread: the status (0 if no answer
 * came), its result in the holder's answer, else the answer as it came
 * (raw), or what went wrong. */
static void deliver(relay *r, item *it, long status, json_t *result, const char *raw,
                    const char *error) {
  job *d = xcalloc(1, sizeof *d);
  d->kind = JOB_RELAYED;
  d->relayed = it->j;
  d->botname = xstrdup(it->j->botname);
  d->http_result = status;
  if (error) d->http_error = xstrdup(error);
  d->relay_result = json_incref(result);
  if (raw) buf_puts(&d->body, raw);
  r->deliver(r->s, d);
  atomic_fetch_sub(&r->busy, 1);
  json_decref(it->message);
  free(it->address);
  free(it);
}

/* Each message of l's batch its own result of the holder's answer, in
 * order; all of them the batch's failure if there is no such answer. */
static void finish(relay *r, node_link *l, CURLcode result) {
  long status = 0;
  if (result == CURLE_OK) curl_easy_getinfo(l->h, CURLINFO_RESPONSE_CODE, &status);
  json_t *o = status == 200 ? json_loadb(l->answer.data ? l->answer.data : "", l->answer.len, 0,
                                         NULL)
                            : NULL;
  json_t *results = json_object_get(o, "results");
  size_t n = 0;
  for (item *it = l->sent; it; it = it->next) n++;
  int each = json_is_array(results) && json_array_size(results) == n;
  const char *error = result != CURLE_OK ? curl_easy_strerror(result)
                      : each             ? NULL
                                         : "the holder's answer is not one result a message";
  size_t i = 0;
  for (item *it = l->sent, *next; it; it = next, i++) {
    next = it->next;
    json_t *one = each ? json_array_get(results, i) : NULL;
    json_t *said = json_object_get(one, "status");
    long one_status = !each ? (status == 200 ? 502 : status)
                      : json_is_integer(said) ? (long)json_integer_value(said)
                                              : 200;
    deliver(r, it, one_status, one, each ? NULL : l->answer.data, error);
  }
  json_decref(o);
  curl_multi_remove_handle(r->multi, l->h);
  l->sent = NULL;
  l->answer.len = 0;
  free(l->body);
  l->body = NULL;
}

static node_link *link_to(relay *r, const char *address) {
  for (node_link *l = r->links; l; l = l->next)
    if (strcmp(l->address, address) == 0) return l;
  node_link *l = xcalloc(1, sizeof *l);
  l->address = xstrdup(address);
  l->waiting_tail = &l->waiting;
  l->next = r->links;
  r->links = l;
  char *auth = xasprintf("X-Parley-Relay: %s", r->secret);
  l->headers = curl_slist_append(NULL, "Content-Type: application/json");
  l->headers = curl_slist_append(l->headers, auth);
  l->headers = curl_slist_append(l->headers, "Expect:"); /* no 100-continue round trip */
  free(auth);
  char *url = xasprintf("http://%s/v1/cluster/relay", l->address);
  if ((l->h = curl_easy_init())) {
    curl_easy_setopt(l->h, CURLOPT_URL, url);
    curl_easy_setopt(l->h, CURLOPT_HTTPHEADER, l->headers);
    curl_easy_setopt(l->h, CURLOPT_WRITEFUNCTION, keep_answer);
    curl_easy_setopt(l->h, CURLOPT_WRITEDATA, l);
    curl_easy_setopt(l->h, CURLOPT_PRIVATE, (char *)l);
    curl_easy_setopt(l->h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(l->h, CURLOPT_CONNECTTIMEOUT_MS, (long)RELAY_CONNECT_MS);
    curl_easy_setopt(l->h, CURLOPT_PROTOCOLS_STR, "http");
    curl_easy_setopt(l->h, CURLOPT_PROXY, ""); /* never the environment's: the secret goes */
  }
  free(url);
  return l;
}

/* Sends what waits for l's node, as one batch: the messages whose webhook
 * still waits (the others fail at once: they go through the inbox), each
 * with what is left of its window for inline replies. */
static void send_batch(relay *r, node_link *l) {
  int64_t now = mono_ns(), wait_until = 0;
  item **tail = &l->sent;
  buf body = {0};
  size_t n = 0;
  buf_puts(&body, "{\"messages\":[");
  while (l->waiting && n < RELAY_BATCH_MAX && body.len < RELAY_BATCH_BYTES) {
    item *it = l->waiting;
    if (!(l->waiting = it->next)) l->waiting_tail = &l->waiting;
    it->next = NULL;
    long reply_ms = it->reply_until_ns > now ? (long)((it->reply_until_ns - now) / 1000000) : 0;
    json_object_set_new(it->message, "reply_ms", json_integer(reply_ms));
    char *one = it->wait_until_ns > now ? json_dumps(it->message, JSON_COMPACT) : NULL;
    if (!one) { /* through the inbox */
      deliver(r, it, 0, NULL, NULL,
              it->wait_until_ns > now ? "the message could not be written as JSON"
                                      : "its webhook's deadline passed while it waited to be relayed");
      continue;
    }
    if (n++) buf_puts(&body, ",");
    buf_puts(&body, one);
    free(one);
    if (!wait_until || it->wait_until_ns < wait_until) wait_until = it->wait_until_ns;
    *tail = it;
    tail = &it->next;
  }
  buf_puts(&body, "]}");
  if (!n) {
    buf_free(&body);
    return;
  }
  l->body = body.data;
  long wait_ms = (long)((wait_until - now) / 1000000);
  if (l->h) {
    curl_easy_setopt(l->h, CURLOPT_POSTFIELDS, l->body);
    curl_easy_setopt(l->h, CURLOPT_POSTFIELDSIZE, (long)body.len);
    curl_easy_setopt(l->h, CURLOPT_TIMEOUT_MS,
                     wait_ms > RELAY_WAIT_MIN_MS ? wait_ms : (long)RELAY_WAIT_MIN_MS);
  }
  atomic_fetch_add(&r->batches, 1);
  if (!l->h || curl_multi_add_handle(r->multi, l->h) != CURLM_OK) finish(r, l, CURLE_FAILED_INIT);
}

static void *relay_main(void *arg) {
  relay *r = arg;
  pthread_setname_np(pthread_self(), "parley-relay");
  for (;;) {
    pthread_mutex_lock(&r->mu);
    item *start = r->queued;
    r->queued = NULL;
    r->queued_tail = &r->queued;
    int quit = r->quit;
    pthread_mutex_unlock(&r->mu);
    for (item *it = start, *next; it; it = next) {
      next = it->next;
      it->next = NULL;
      node_link *l = link_to(r, it->address);
      *l->waiting_tail = it;
      l->waiting_tail = &it->next;
    }
    int running = 0;
    curl_multi_perform(r->multi, &running);
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(r->multi, &left))) {
      if (m->msg != CURLMSG_DONE) continue;
      node_link *l = NULL;
      curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&l);
      finish(r, l, m->data.result);
    }
    for (node_link *l = r->links; l; l = l->next)
      if (!l->sent && l->waiting) send_batch(r, l);
    if (quit && atomic_load(&r->busy) == 0) break;
    curl_multi_poll(r->multi, NULL, 0, 1000, NULL);
  }
  for (node_link *l = r->links, *next; l; l = next) { /* nothing waits or is under way */
    next = l->next;
    curl_easy_cleanup(l->h);
    curl_slist_free_all(l->headers);
    buf_free(&l->answer);
    free(l->address);
    free(l);
  }
  return NULL;
}

relay *relay_start(server *s, const char *secret, void (*deliver_to)(server *s, job *j),
                   char *err, size_t errlen) {
  relay *r = xcalloc(1, sizeof *r);
  r->s = s;
  r->secret = xstrdup(secret);
  r->deliver = deliver_to;
  r->queued_tail = &r->queued;
  curl_global_init(CURL_GLOBAL_DEFAULT); /* counted: the sender's init and cleanup pair too */
  r->multi = curl_multi_init();
  if (!r->multi) {
    snprintf(err, errlen, "cannot start the relay's HTTP client");
    curl_global_cleanup();
    free(r->secret);
    free(r);
    return NULL;
  }
  pthread_mutex_init(&r->mu, NULL);
  if (pthread_create(&r->thread, NULL, relay_main, r) != 0) {
    snprintf(err, errlen, "cannot start the relay's thread");
    curl_multi_cleanup(r->multi);
    curl_global_cleanup();
    pthread_mutex_destroy(&r->mu);
    free(r->secret);
    free(r);
    return NULL;
  }
  return r;
}

void relay_send(relay *r, job *j, const char *address, json_t *message, int64_t reply_until_ns,
                int64_t wait_until_ns) {
  item *it = xcalloc(1, sizeof *it);
  *it = (item){.j = j, .address = xstrdup(address), .message = message,
               .reply_until_ns = reply_until_ns, .wait_until_ns = wait_until_ns};
  atomic_fetch_add(&r->busy, 1);
  pthread_mutex_lock(&r->mu); /* in the order sent: one conversation's stay in order */
  int first = !r->queued; /* else the thread was woken for the ones before */
  *r->queued_tail = it;
  r->queued_tail = &it->next;
  pthread_mutex_unlock(&r->mu);
  if (first) curl_multi_wakeup(r->multi);
}

int relay_busy(relay *r) { return r ? atomic_load(&r->busy) : 0; }

long relay_batches(relay *r) { return r ? atomic_load(&r->batches) : 0; }

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
  free(r->secret);
  free(r);
}
