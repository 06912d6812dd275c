#include "http_limits.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include "log.h"

/* Files the rest of the process may need besides the connections: the
 * database and its journal, the sender's and the HTTP client's sockets,
 * logs, pipes. */
enum { FILES_RESERVE = 256, ADDRESS_BUCKETS = 1024, SWEEP_MS = 250 };

/* One open connection (libmicrohttpd's socket context). */
typedef struct tracked {
  int fd;
  int has_address;
  uint32_t address;    /* IPv4, network order */
  int over;            /* accepted past max_connections */
  int closing;         /* shut down by us: counted once */
  int64_t deadline_ns; /* mono_ns; 0 while a request is handled or answered */
  int idle;            /* kept alive after an answer, no new request line yet */
  struct tracked *prev, *next;
} tracked;

typedef struct address_count {
  uint32_t address;
  unsigned n;
  struct address_count *next;
} address_count;

struct http_limits {
  http_limits_config cfg;
  pthread_mutex_t mu; /* the list, the counts, stopping */
  pthread_cond_t cv;
  pthread_t sweeper;
  int stopping;
  tracked *head;
  unsigned open;
  address_count *buckets[ADDRESS_BUCKETS];
  char last_refused_address[INET_ADDRSTRLEN];
  atomic_size_t body_bytes;
  atomic_long refused[REFUSED_KINDS];
  long logged[REFUSED_KINDS]; /* the sweeper's: counts already logged */
};

static const char *const refusal_names[REFUSED_KINDS] = {"address", "full", "deadline",
                                                         "body_memory"};

static unsigned hard_cap_of(unsigned max_connections) {
  unsigned extra = max_connections / 8;
  return max_connections + (extra < 16 ? 16 : extra);
}

unsigned http_limits_hard_cap(const http_limits *l) {
  return hard_cap_of(l->cfg.max_connections);
}

/* Raises the soft open-files limit as far as cfg needs (up to the hard
 * limit); lowers max_connections to what it allows. */
static void fit_open_files(http_limits_config *cfg, char *note, size_t notelen) {
  *note = 0;
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  rlim_t need = (rlim_t)hard_cap_of(cfg->max_connections) + FILES_RESERVE;
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
    struct rlimit raised = rl;
    raised.rlim_cur =
        rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ? need : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
  }
  if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need) return;
  unsigned was = cfg->max_connections;
  while (cfg->max_connections > 1 &&
         (rlim_t)hard_cap_of(cfg->max_connections) + FILES_RESERVE > rl.rlim_cur)
    cfg->max_connections--;
  snprintf(note, notelen,
           "max_connections lowered from %u to %u: the open-files limit is %llu (it "
           "needs %llu; "
           "raise it with ulimit -n or systemd's LimitNOFILE=)",
           was, cfg->max_connections, (unsigned long long)rl.rlim_cur,
           (unsigned long long)need);
  if (cfg->max_per_address > cfg->max_connections)
    cfg->max_per_address = cfg->max_connections;
}

/* The connection count of an address (created at 0), under mu. */
static address_count *count_of(http_limits *l, uint32_t address) {
  address_count **slot = &l->buckets[(address * 2654435761u) >> 22];
  for (address_count *a = *slot; a; a = a->next)
    if (a->address == address) return a;
  address_count *a = xcalloc(1, sizeof *a);
  a->address = address;
  a->next = *slot;
  *slot = a;
  return a;
}

static void forget_one(http_limits *l, uint32_t address) {
  address_count **slot = &l->buckets[(address * 2654435761u) >> 22];
  for (address_count **p = slot; *p; p = &(*p)->next)
    if ((*p)->address == address) {
      if (--(*p)->n == 0) {
        address_count *gone = *p;
        *p = gone->next;
        free(gone);
      }
      return;
    }
}

static void connection_started(http_limits *l, struct MHD_Connection *c,
                               void **context) {
  tracked *t = xcalloc(1, sizeof *t);
  const union MHD_ConnectionInfo *fd =
      MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
  const union MHD_ConnectionInfo *from =
      MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  t->fd = fd ? fd->connect_fd : -1;
  if (from && from->client_addr && from->client_addr->sa_family == AF_INET) {
    t->has_address = 1;
    t->address =
        ((const struct sockaddr_in *)(const void *)from->client_addr)->sin_addr.s_addr;
  }
  pthread_mutex_lock(&l->mu);
  t->over = ++l->open > l->cfg.max_connections;
  t->deadline_ns = mono_ns() + l->cfg.request_deadline_ms * 1000000;
  t->next = l->head;
  if (l->head) l->head->prev = t;
  l->head = t;
  if (t->has_address && ++count_of(l, t->address)->n > l->cfg.max_per_address &&
      l->cfg.max_per_address) {
    t->closing = 1; /* libmicrohttpd's thread sees the end and closes it */
    if (t->fd >= 0) shutdown(t->fd, SHUT_RDWR);
    inet_ntop(AF_INET, &t->address, l->last_refused_address,
              sizeof l->last_refused_address);
    atomic_fetch_add(&l->refused[REFUSED_ADDRESS], 1);
  }
  pthread_mutex_unlock(&l->mu);
  *context = t;
}

static void connection_closed(http_limits *l, void **context) {
  tracked *t = *context;
  if (!t) return;
  pthread_mutex_lock(&l->mu);
  if (t->prev)
    t->prev->next = t->next;
  else
    l->head = t->next;
  if (t->next) t->next->prev = t->prev;
  l->open--;
  if (t->has_address) forget_one(l, t->address);
  pthread_mutex_unlock(&l->mu);
  free(t);
  *context = NULL;
}

void http_limits_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                        enum MHD_ConnectionNotificationCode toe) {
  if (toe == MHD_CONNECTION_NOTIFY_STARTED)
    connection_started(cls, c, socket_context);
  else if (toe == MHD_CONNECTION_NOTIFY_CLOSED)
    connection_closed(cls, socket_context);
}

static tracked *tracked_of(struct MHD_Connection *c) {
  const union MHD_ConnectionInfo *i =
      MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  return i ? i->socket_context : NULL;
}

int http_limits_over(struct MHD_Connection *c) {
  tracked *t = tracked_of(c);
  return t && t->over; /* set before libmicrohttpd reads from it */
}

void http_limits_arrived(http_limits *l, struct MHD_Connection *c) {
  tracked *t = tracked_of(c);
  if (!t) return;
  pthread_mutex_lock(&l->mu);
  t->deadline_ns = 0;
  pthread_mutex_unlock(&l->mu);
}

void http_limits_answered(http_limits *l, struct MHD_Connection *c) {
  tracked *t = tracked_of(c);
  if (!t) return;
  pthread_mutex_lock(&l->mu);
  t->deadline_ns = mono_ns() + l->cfg.request_deadline_ms * 1000000;
  t->idle = 1;
  pthread_mutex_unlock(&l->mu);
}

void http_limits_request_line(http_limits *l, struct MHD_Connection *c) {
  tracked *t = tracked_of(c);
  if (!t) return;
  pthread_mutex_lock(&l->mu);
  t->idle = 0;
  pthread_mutex_unlock(&l->mu);
}

int http_limits_take_body(http_limits *l, size_t n) {
  size_t held = atomic_load(&l->body_bytes);
  do {
    if (n > l->cfg.max_body_memory || held > l->cfg.max_body_memory - n) return -1;
  } while (!atomic_compare_exchange_weak(&l->body_bytes, &held, held + n));
  return 0;
}

void http_limits_give_body(http_limits *l, size_t n) {
  atomic_fetch_sub(&l->body_bytes, n);
}

void http_limits_refused(http_limits *l, enum http_refusal why) {
  atomic_fetch_add(&l->refused[why], 1);
}

/* One line per reason with refusals since the last sweep. */
static void log_refusals(http_limits *l) {
  for (int k = 0; k < REFUSED_KINDS; k++) {
    long now = atomic_load(&l->refused[k]);
    if (now == l->logged[k]) continue;
    char count[24], address[INET_ADDRSTRLEN] = "";
    snprintf(count, sizeof count, "%ld", now - l->logged[k]);
    l->logged[k] = now;
    if (k == REFUSED_ADDRESS) {
      pthread_mutex_lock(&l->mu);
      memcpy(address, l->last_refused_address, sizeof address);
      pthread_mutex_unlock(&l->mu);
    }
    log_event(LOG_WARN, "connection_refused", "reason", refusal_names[k], "count",
              count, *address ? "address" : NULL, address, NULL);
  }
}

/* Every SWEEP_MS: shuts down the connections whose request is past its
 * deadline. */
static void *sweep(void *arg) {
  http_limits *l = arg;
  pthread_mutex_lock(&l->mu);
  while (!l->stopping) {
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_nsec += SWEEP_MS * 1000000L;
    until.tv_sec += until.tv_nsec / 1000000000L;
    until.tv_nsec %= 1000000000L;
    pthread_cond_timedwait(&l->cv, &l->mu, &until);
    int64_t now = mono_ns();
    for (tracked *t = l->head; t; t = t->next) {
      if (t->closing || !t->deadline_ns || now < t->deadline_ns) continue;
      t->closing = 1; /* the fd is open until connection_closed, which waits for mu */
      if (t->fd >= 0) shutdown(t->fd, SHUT_RDWR);
      if (!t->idle) /* a kept-alive connection left unused just ends */
        atomic_fetch_add(&l->refused[REFUSED_DEADLINE], 1);
    }
    pthread_mutex_unlock(&l->mu);
    log_refusals(l);
    pthread_mutex_lock(&l->mu);
  }
  pthread_mutex_unlock(&l->mu);
  return NULL;
}

http_limits *http_limits_start(http_limits_config *cfg, char *note, size_t notelen,
                               char *err, size_t errlen) {
  fit_open_files(cfg, note, notelen);
  http_limits *l = xcalloc(1, sizeof *l);
  l->cfg = *cfg;
  pthread_mutex_init(&l->mu, NULL);
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&l->cv, &attr);
  pthread_condattr_destroy(&attr);
  if (pthread_create(&l->sweeper, NULL, sweep, l) != 0) {
    snprintf(err, errlen, "cannot start the thread that enforces request deadlines");
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    free(l);
    return NULL;
  }
  return l;
}

void http_limits_stop(http_limits *l) {
  if (!l) return;
  pthread_mutex_lock(&l->mu);
  l->stopping = 1;
  pthread_cond_signal(&l->cv);
  pthread_mutex_unlock(&l->mu);
  pthread_join(l->sweeper, NULL);
  for (int i = 0; i < ADDRESS_BUCKETS; i++)
    while (l->buckets[i]) {
      address_count *a = l->buckets[i];
      l->buckets[i] = a->next;
      free(a);
    }
  while (l->head) { /* libmicrohttpd stopped: nothing left, normally */
    tracked *t = l->head;
    l->head = t->next;
    free(t);
  }
  pthread_cond_destroy(&l->cv);
  pthread_mutex_destroy(&l->mu);
  free(l);
}

void http_limits_metrics(http_limits *l, buf *out) {
  pthread_mutex_lock(&l->mu);
  unsigned open = l->open;
  pthread_mutex_unlock(&l->mu);
  buf_puts(
      out,
      "# HELP parley_http_refused_total Connections and requests refused so that one "
      "client cannot starve the others, by reason.\n"
      "# TYPE parley_http_refused_total counter\n");
  for (int k = 0; k < REFUSED_KINDS; k++)
    buf_printf(out, "parley_http_refused_total{reason=\"%s\"} %ld\n", refusal_names[k],
               atomic_load(&l->refused[k]));
  buf_printf(out,
             "# HELP parley_http_connections HTTP connections open.\n"
             "# TYPE parley_http_connections gauge\n"
             "parley_http_connections %u\n"
             "# HELP parley_http_body_bytes Bytes of request bodies held in memory.\n"
             "# TYPE parley_http_body_bytes gauge\n"
             "parley_http_body_bytes %zu\n",
             open, atomic_load(&l->body_bytes));
}
