/* feed: the console's Server-Sent Events (feed.h).
 *
 * The changes are numbered and kept in a ring of the last FEED_RING; each
 * stream remembers the number of the last one it sent. A stream with
 * nothing to send suspends its connection from libmicrohttpd's content
 * reader (the one place besides the request handler where that is safe)
 * and is resumed by the next change, by a keep-alive tick, or at the end.
 * One mutex guards the ring and the streams; libmicrohttpd's own are taken
 * inside it, never around it. */
#include "feed.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

enum {
  FEED_RING = 512,
  KEEPALIVE_MS = 15000, /* under the connection's 30 s timeout, and most proxies' */
};

typedef struct change {
  char *bot, *number; /* number NULL: the bot as a whole */
} change;

typedef struct stream {
  feed *f;
  struct MHD_Connection *conn;
  char **bots; /* those it may see; NULL: every bot */
  size_t nbots;
  uint64_t seq; /* the last change sent (or skipped: not its bots) */
  int64_t until_ms, last_ms;
  int suspended, greeted, ping;
  struct stream *prev, *next;
} stream;

struct feed {
  pthread_mutex_t mu;
  change ring[FEED_RING]; /* change n is at ring[n % FEED_RING] */
  uint64_t seq;           /* the last change's number */
  stream *streams;
  atomic_int nstreams; /* 0: no browser listens; a change is not even kept */
  int closing;
};

feed *feed_new(void) {
  feed *f = xcalloc(1, sizeof *f);
  pthread_mutex_init(&f->mu, NULL);
  return f;
}

/* Lets a suspended stream's reader run again; under mu. */
static void wake(stream *st) {
  if (!st->suspended) return;
  st->suspended = 0;
  MHD_resume_connection(st->conn);
}

void feed_close(feed *f) {
  if (!f) return;
  pthread_mutex_lock(&f->mu);
  f->closing = 1;
  for (stream *st = f->streams; st; st = st->next) wake(st);
  pthread_mutex_unlock(&f->mu);
}

void feed_free(feed *f) {
  if (!f) return;
  for (int i = 0; i < FEED_RING; i++) {
    free(f->ring[i].bot);
    free(f->ring[i].number);
  }
  pthread_mutex_destroy(&f->mu);
  free(f);
}

void feed_publish(feed *f, const char *bot, const char *number) {
  /* every message passes here: without a stream, nothing to do (a stream
   * opened later starts from the changes after it opened) */
  if (!f || !atomic_load(&f->nstreams)) return;
  pthread_mutex_lock(&f->mu);
  change *c = &f->ring[++f->seq % FEED_RING];
  free(c->bot);
  free(c->number);
  c->bot = xstrdup(bot);
  c->number = number ? xstrdup(number) : NULL;
  for (stream *st = f->streams; st; st = st->next) wake(st);
  pthread_mutex_unlock(&f->mu);
}

void feed_tick(feed *f) {
  if (!f) return;
  int64_t now = wall_ms();
  pthread_mutex_lock(&f->mu);
  for (stream *st = f->streams; st; st = st->next)
    if (st->suspended && (now - st->last_ms >= KEEPALIVE_MS || now >= st->until_ms)) {
      st->ping = 1;
      wake(st);
    }
  pthread_mutex_unlock(&f->mu);
}

static int may_see(const stream *st, const char *bot) {
  if (!st->bots) return 1;
  for (size_t i = 0; i < st->nbots; i++)
    if (strcmp(st->bots[i], bot) == 0) return 1;
  return 0;
}

/* Appends text to out (n of max used) if it fits whole: 1, else 0. */
static int put(char *out, size_t *n, size_t max, const char *text) {
  size_t len = strlen(text);
  if (*n + len > max) return 0;
  memcpy(out + *n, text, len);
  *n += len;
  return 1;
}

/* "event: change" with {"bot", "number"}; 0 if it does not fit */
static int put_change(char *out, size_t *n, size_t max, const char *bot, const char *number) {
  json_t *o = json_pack("{s:s?, s:s?}", "bot", bot, "number", number);
  char *data = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  char *event = xasprintf("event: change\ndata: %s\n\n", data ? data : "{}");
  int fits = put(out, n, max, event);
  free(event);
  free(data);
  return fits;
}

/* The changes st has not sent, as many as fit in max. */
static size_t pending(stream *st, char *out, size_t max) {
  feed *f = st->f;
  size_t n = 0;
  if (f->seq - st->seq > FEED_RING - 1) { /* fell behind: everything it sees changed */
    if (!put_change(out, &n, max, NULL, NULL)) return 0;
    st->seq = f->seq;
  }
  while (st->seq < f->seq) {
    const change *c = &f->ring[(st->seq + 1) % FEED_RING];
    if (may_see(st, c->bot) && !put_change(out, &n, max, c->bot, c->number)) break;
    st->seq++;
  }
  return n;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max) {
  (void)pos;
  stream *st = cls;
  feed *f = st->f;
  pthread_mutex_lock(&f->mu);
  size_t n = 0;
  int64_t now = wall_ms();
  /* the browser waits this long before it opens a new stream */
  if (!st->greeted) st->greeted = put(out, &n, max, "retry: 2000\n: parley console\n\n");
  int ending = f->closing || now >= st->until_ms;
  if (!ending) n += pending(st, out + n, max - n);
  if (!n && st->ping && !ending) put(out, &n, max, ": keep-alive\n\n");
  st->ping = 0;
  if (!n && ending) {
    pthread_mutex_unlock(&f->mu);
    return MHD_CONTENT_READER_END_OF_STREAM;
  }
  if (n) {
    st->last_ms = now;
  } else { /* nothing to send: until the next change or tick */
    st->suspended = 1;
    MHD_suspend_connection(st->conn);
  }
  pthread_mutex_unlock(&f->mu);
  return (ssize_t)n;
}

static void stream_free(void *cls) {
  stream *st = cls;
  feed *f = st->f;
  pthread_mutex_lock(&f->mu);
  if (st->prev) st->prev->next = st->next;
  else f->streams = st->next;
  if (st->next) st->next->prev = st->prev;
  atomic_fetch_sub(&f->nstreams, 1);
  pthread_mutex_unlock(&f->mu);
  for (size_t i = 0; i < st->nbots; i++) free(st->bots[i]);
  free(st->bots);
  free(st);
}

struct MHD_Response *feed_stream(feed *f, struct MHD_Connection *conn, const char *bots_json,
                                 int64_t until_ms) {
  stream *st = xcalloc(1, sizeof *st);
  st->f = f;
  st->conn = conn;
  st->until_ms = until_ms;
  st->last_ms = wall_ms();
  if (bots_json) {
    json_t *list = json_loads(bots_json, 0, NULL);
    size_t i;
    json_t *v;
    st->bots = xcalloc(json_array_size(list) + 1, sizeof *st->bots);
    json_array_foreach(list, i, v) if (json_is_string(v)) st->bots[st->nbots++] =
        xstrdup(json_string_value(v));
    json_decref(list);
  }
  pthread_mutex_lock(&f->mu);
  st->seq = f->seq; /* what changed from now on */
  st->next = f->streams;
  if (f->streams) f->streams->prev = st;
  f->streams = st;
  atomic_fetch_add(&f->nstreams, 1);
  pthread_mutex_unlock(&f->mu);
  struct MHD_Response *r =
      MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, st, stream_free);
  MHD_add_response_header(r, "Content-Type", "text/event-stream; charset=utf-8");
  MHD_add_response_header(r, "Cache-Control", "no-store");
  MHD_add_response_header(r, "X-Accel-Buffering", "no"); /* a proxy passes each event on */
  return r;
}
